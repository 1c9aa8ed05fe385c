#include "engine/batch_scoring.h"

#include <gtest/gtest.h>

#include <random>

namespace aisle {
namespace {

TEST(BatchScoringTest, MatchesMatrixProductForAnyShape) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (size_t n : {1, 15, 16, 17, 100, 1000}) {
    for (size_t k : {1, 8, 33, 64}) {
      FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
      std::vector<float> packed = PackForScoring(items);
      ASSERT_EQ(packed.size(), PaddedProducts(n) * k);
      for (size_t b : {1, 3, 8, 9, 19}) {
        FactorMatrix users = FactorMatrix::NullaryExpr(b, k, [&] { return nd(rng); });
        std::vector<float> scores(b * PaddedProducts(n), NAN);
        ScorePacked(packed.data(), n, k, users.data(), b, scores.data());
        Eigen::MatrixXf want = users * items.transpose();  // b x n
        for (size_t j = 0; j < b; ++j) {
          for (size_t i = 0; i < n; ++i) {
            ASSERT_NEAR(scores[j * PaddedProducts(n) + i], want(j, i), 1e-4f * (1 + std::abs(want(j, i))))
                << "n=" << n << " k=" << k << " b=" << b << " user " << j << " product " << i;
          }
          for (size_t i = n; i < PaddedProducts(n); ++i) EXPECT_EQ(scores[j * PaddedProducts(n) + i], 0.0f);
        }
      }
    }
  }
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

TEST(BatchScoringTest, Bf16ScoresAreCloseToExact) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (size_t n : {1, 17, 500}) {
    for (size_t k : {1, 7, 64}) {
      FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
      std::vector<uint16_t> packed = PackForScoringBf16(items);
      for (size_t b : {1, 5, 9}) {
        FactorMatrix users = FactorMatrix::NullaryExpr(b, k, [&] { return nd(rng); });
        std::vector<float> scores(b * PaddedProducts(n));
        ScorePackedBf16(packed.data(), n, k, users.data(), b, scores.data());
        for (size_t j = 0; j < b; ++j) {
          for (size_t i = 0; i < n; ++i) {
            const float exact = users.row(j).dot(items.row(i));
            // Each product rounds both factors to 8-bit mantissas: relative
            // error of a term below 2^-7; bound by the sum of |terms|.
            const float scale = users.row(j).cwiseAbs().dot(items.row(i).cwiseAbs());
            ASSERT_NEAR(scores[j * PaddedProducts(n) + i], exact, 0.01f * scale + 1e-6f)
                << "n=" << n << " k=" << k << " b=" << b;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace aisle
