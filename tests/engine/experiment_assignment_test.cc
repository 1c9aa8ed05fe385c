// Experiment assignment: stable, balanced within binomial error over 100k
// ids, independent across experiments, and moving as few customers as
// possible when one variant's weight changes.
#include "engine/experiment_assignment.h"

#include <gtest/gtest.h>

#include <cmath>
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
