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


// The fused path selects exactly what scoring everything and selecting does:
// any shape, exclusions, ties (repeated products), pools larger than n.
TEST(BatchScoringTest, FusedSelectionMatchesScoreThenSelect) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (size_t n : {1, 15, 16, 17, 300, 2000}) {
    for (size_t k : {3, 16, 64}) {
      FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
      // Duplicate rows make exact ties, which must go to the lower index.
      for (size_t i = 1; i < n; i += 7) items.row(i) = items.row(i - 1);
      const std::vector<float> packed = PackForScoring(items);
      const std::vector<uint16_t> packed16 = PackForScoringBf16(items);
      for (size_t b : {1, 8, 11}) {
        FactorMatrix users = FactorMatrix::NullaryExpr(b, k, [&] { return nd(rng); });
        std::vector<size_t> pool(b);
        std::vector<std::vector<uint32_t>> excl(b);
        std::vector<absl::Span<const uint32_t>> spans(b);
        for (size_t j = 0; j < b; ++j) {
          pool[j] = std::vector<size_t>{1, 10, 42, 5000}[j % 4];
          for (uint32_t i = static_cast<uint32_t>(j); i < n; i += 5) excl[j].push_back(i);
          spans[j] = excl[j];
        }
        for (bool bf16 : {false, true}) {
          std::vector<float> scores(b * PaddedProducts(n));
          std::vector<std::vector<ScoredItem>> got;
          if (bf16) {
            ScorePackedBf16(packed16.data(), n, k, users.data(), b, scores.data());
            SelectPackedBf16(packed16.data(), n, k, users.data(), b, pool, spans, &got);
          } else {
            ScorePacked(packed.data(), n, k, users.data(), b, scores.data());
            SelectPacked(packed.data(), n, k, users.data(), b, pool, spans, &got);
          }
          ASSERT_EQ(got.size(), b);
          for (size_t j = 0; j < b; ++j) {
            auto want = SelectTopK(absl::MakeConstSpan(scores.data() + j * PaddedProducts(n), n), pool[j], spans[j]);
            ASSERT_EQ(got[j].size(), want.size()) << "n=" << n << " k=" << k << " user " << j;
            for (size_t i = 0; i < want.size(); ++i) {
              ASSERT_EQ(got[j][i].index, want[i].index) << "n=" << n << " k=" << k << " user " << j << " rank " << i;
              ASSERT_EQ(got[j][i].score, want[i].score);
            }
          }
        }
      }
    }
  }
}


// int8: every score within the quantization bound of the exact one, and
// the exact top 10 inside the int8 pool of 42 that the server re-ranks.
TEST(BatchScoringTest, Int8SelectionKeepsTheExactTopInItsPool) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  for (size_t n : {5, 17, 3000}) {
    for (size_t k : {3, 64}) {
      FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
      const Int8Packed packed = PackForScoringInt8(items);
      const size_t b = 20;
      FactorMatrix users = FactorMatrix::NullaryExpr(b, k, [&] { return nd(rng); });
      std::vector<size_t> all(b, n), pool(b, 42);
      std::vector<std::vector<ScoredItem>> scored, selected;
      SelectPackedInt8(packed, users.data(), b, all, {}, &scored);
      SelectPackedInt8(packed, users.data(), b, pool, {}, &selected);
      size_t missed = 0;
      for (size_t j = 0; j < b; ++j) {
        ASSERT_EQ(scored[j].size(), n);
        for (const ScoredItem& s : scored[j]) {
          const float exact = users.row(j).dot(items.row(s.index));
          // Each side rounds to half a step of max/127: bound by both maxima.
          const float bound = 0.5f / 127 * (users.row(j).cwiseAbs().maxCoeff() * items.row(s.index).cwiseAbs().sum() +
                                            items.row(s.index).cwiseAbs().maxCoeff() * users.row(j).cwiseAbs().sum()) +
                              1e-4f;
          ASSERT_NEAR(s.score, exact, bound) << "n=" << n << " k=" << k;
        }
        Eigen::VectorXf exact = items * users.row(j).transpose();
        auto top = SelectTopK(absl::MakeConstSpan(exact.data(), n), 10);
        for (const ScoredItem& t : top) {
          missed += std::none_of(selected[j].begin(), selected[j].end(),
                                 [&](const ScoredItem& s) { return s.index == t.index; });
        }
      }
      EXPECT_EQ(missed, 0u) << "n=" << n << " k=" << k;
    }
  }
}

}  // namespace
}  // namespace aisle
