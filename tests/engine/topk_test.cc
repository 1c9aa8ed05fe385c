#include "engine/topk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace aisle {
namespace {

std::vector<ScoredItem> Reference(const std::vector<float>& s, size_t k, const std::vector<uint32_t>& ex) {
  std::vector<ScoredItem> all;
  for (uint32_t i = 0; i < s.size(); ++i) {
    if (std::binary_search(ex.begin(), ex.end(), i) || std::isnan(s[i])) continue;
    all.push_back({i, s[i]});
  }
  std::sort(all.begin(), all.end(), [](auto a, auto b) { return a.score > b.score || (a.score == b.score && a.index < b.index); });
  if (all.size() > k) all.resize(k);
  return all;
}

TEST(TopKTest, MatchesFullSortWithExclusionsAndTies) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 1 + rng() % 300;
    std::vector<float> s(n);
    for (auto& x : s) x = static_cast<float>(rng() % 20);  // many ties
    std::vector<uint32_t> ex;
    for (uint32_t i = 0; i < n; ++i) if (rng() % 5 == 0) ex.push_back(i);
    const size_t k = rng() % 40;
    auto got = SelectTopK(s, k, ex);
    auto want = Reference(s, k, ex);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].index, want[i].index);
      EXPECT_EQ(got[i].score, want[i].score);
    }
  }
}

TEST(TopKTest, SkipsNaNAndHandlesSmallInputs) {
  std::vector<float> s = {1.0f, NAN, 3.0f};
  auto got = SelectTopK(s, 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].index, 2u);
  EXPECT_EQ(got[1].index, 0u);
  EXPECT_TRUE(SelectTopK(s, 0).empty());
  EXPECT_TRUE(SelectTopK({}, 5).empty());
  std::vector<uint32_t> all = {0, 1, 2};
  EXPECT_TRUE(SelectTopK(s, 5, all).empty());
}

}  // namespace
}  // namespace aisle
