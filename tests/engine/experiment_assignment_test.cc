// Experiment assignment: stable, balanced within binomial error over 100k
// ids, independent across experiments, and moving as few customers as
// possible when one variant's weight changes.
#include "engine/experiment_assignment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace aisle {
namespace {

constexpr int kUnits = 100000;

std::vector<int> Assign(absl::string_view salt, std::vector<VariantWeight> v) {
  std::vector<int> out(kUnits);
  for (int i = 0; i < kUnits; ++i) out[i] = AssignVariant(salt, absl::StrCat("customer-", i), v);
  return out;
}

TEST(ExperimentAssignment, StableAcrossCallsAndKnownValues) {
  const std::vector<VariantWeight> v = {{"control", 1}, {"treatment", 1}};
  for (int i = 0; i < 1000; ++i) {
    const std::string id = absl::StrCat("c", i);
    EXPECT_EQ(AssignVariant("salt-1", id, v), AssignVariant("salt-1", id, v));
  }
  // Fixed values: a change of the hash would silently reshuffle every running experiment.
  EXPECT_EQ(StableHash("a", "b", "c"), StableHash("a", "b", "c"));
  EXPECT_NE(StableHash("ab", "", "c"), StableHash("a", "b", "c")) << "parts are separated";
  EXPECT_EQ(StableHash("salt", "control", "17850"), 0xf1f520e50dcb31f0ull) << std::hex << StableHash("salt", "control", "17850");
  EXPECT_EQ(AssignVariant("x", "u", {}), -1);
  const std::vector<VariantWeight> zero = {{"a", 0}};
  EXPECT_EQ(AssignVariant("x", "u", zero), -1);
}

TEST(ExperimentAssignment, SharesFollowTheWeightsWithinBinomialError) {
  const std::vector<VariantWeight> v = {{"control", 50}, {"a", 30}, {"b", 20}};
  const std::vector<int> got = Assign("balance", v);
  int counts[3] = {0, 0, 0};
  for (int x : got) ++counts[x];
  for (int k = 0; k < 3; ++k) {
    const double p = v[k].weight / 100.0;
    const double sd = std::sqrt(kUnits * p * (1 - p));
    EXPECT_LT(std::fabs(counts[k] - kUnits * p), 4 * sd) << v[k].name << ": " << counts[k];
  }
}

// Weights are normalized to shares before scoring: the smallest doubles
// still assign everyone (the scores -ln(u)/w were infinite, and -1 came back).
TEST(ExperimentAssignment, TinyWeightsStillAssignByTheirShares) {
  const VariantWeight tiny[] = {{"a", 5e-324}, {"b", 5e-324}};
  int counts[2] = {0, 0};
  for (int u = 0; u < 4000; ++u) {
    const int v = AssignVariant("salt", absl::StrCat("unit-", u), tiny);
    ASSERT_TRUE(v == 0 || v == 1) << v;
    ++counts[v];
  }
  EXPECT_NEAR(counts[0], 2000, 4 * std::sqrt(1000.0));
  const VariantWeight none[] = {{"a", 0}, {"b", 0}};
  EXPECT_EQ(AssignVariant("salt", "u", none), -1);
  const VariantWeight odd[] = {{"a", std::numeric_limits<double>::infinity()}, {"b", std::nan("")}, {"c", 1}};
  EXPECT_EQ(AssignVariant("salt", "u", odd), 2) << "only finite positive weights count";
}

TEST(ExperimentAssignment, ExperimentsAreIndependent) {
  const std::vector<VariantWeight> v = {{"control", 1}, {"treatment", 1}};
  const std::vector<int> a = Assign("experiment-a", v), b = Assign("experiment-b", v);
  // 2x2 table of (variant in A, variant in B): chi-squared with 1 degree of freedom.
  double n[2][2] = {{0, 0}, {0, 0}};
  for (int i = 0; i < kUnits; ++i) n[a[i]][b[i]] += 1;
  double chi2 = 0;
  for (int x = 0; x < 2; ++x) {
    for (int y = 0; y < 2; ++y) {
      const double expected = (n[x][0] + n[x][1]) * (n[0][y] + n[1][y]) / kUnits;
      chi2 += (n[x][y] - expected) * (n[x][y] - expected) / expected;
    }
  }
  EXPECT_LT(chi2, 10.83) << "p < 0.001 for independence";
}

TEST(ExperimentAssignment, ChangingOneWeightMovesOnlyToOrFromThatVariant) {
  const std::vector<int> before = Assign("ramp", {{"control", 90}, {"new", 10}, {"other", 10}});
  const std::vector<int> after = Assign("ramp", {{"control", 90}, {"new", 30}, {"other", 10}});
  int moved = 0;
  for (int i = 0; i < kUnits; ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    EXPECT_EQ(after[i], 1) << "a unit moved between variants whose weights did not change";
  }
  // The least possible: the new variant's share grows from 10/110 to 30/130.
  const double expected = kUnits * (30.0 / 130 - 10.0 / 110);
  EXPECT_LT(std::fabs(moved - expected), 5 * std::sqrt(expected)) << moved << " moved, " << expected << " expected";
}

}  // namespace
}  // namespace aisle
