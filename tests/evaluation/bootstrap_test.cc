#include "evaluation/bootstrap.h"

#include <gtest/gtest.h>

#include <random>

namespace aisle {
namespace {

TEST(BootstrapTest, IntervalCoversTheTrueDifference) {
  // Per-customer hits of two models with known rates 0.30 and 0.35, paired
  // through a shared customer effect. The 95% interval should contain the
  // true difference (0.05) in about 95% of repeated experiments.
  const double pa = 0.30, pb = 0.35;
  int covered = 0;
  const int experiments = 200;
  for (int e = 0; e < experiments; ++e) {
    std::mt19937 rng(1000 + e);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<float> a(1500), b(1500);
    for (size_t i = 0; i < a.size(); ++i) {
      const double x = u(rng);  // shared: a hit for A implies a hit for B
      a[i] = x < pa ? 1.0f : 0.0f;
      b[i] = x < pb ? 1.0f : 0.0f;
    }
    PairedDifference d = PairedBootstrap(a, b, 1000, e);
    covered += d.ci_low <= pb - pa && pb - pa <= d.ci_high;
    EXPECT_LE(d.ci_low, d.diff);
    EXPECT_GE(d.ci_high, d.diff);
  }
  EXPECT_GE(covered, static_cast<int>(0.90 * experiments));
  EXPECT_LE(covered, experiments);
}

TEST(BootstrapTest, PValues) {
  std::vector<float> a(500, 0.0f), b(500, 0.0f);
  for (size_t i = 0; i < 500; i += 2) a[i] = b[i] = 1.0f;
  PairedDifference same = PairedBootstrap(a, b, 500, 1);
  EXPECT_EQ(same.diff, 0);
  EXPECT_EQ(same.p_value, 1);
  for (size_t i = 1; i < 500; i += 4) b[i] = 1.0f;  // B better on 125 customers
  PairedDifference better = PairedBootstrap(a, b, 500, 1);
  EXPECT_NEAR(better.diff, 0.25, 1e-9);
  EXPECT_LT(better.p_value, 0.01);
  EXPECT_GT(better.ci_low, 0);
  // Deterministic for a seed.
  PairedDifference again = PairedBootstrap(a, b, 500, 1);
  EXPECT_EQ(again.ci_low, better.ci_low);
  EXPECT_EQ(again.ci_high, better.ci_high);
}

}  // namespace
}  // namespace aisle
