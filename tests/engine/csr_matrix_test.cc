#include "engine/csr_matrix.h"

#include <gtest/gtest.h>

#include <random>

namespace aisle {
namespace {

TEST(CsrMatrixTest, BuildSumsDuplicatesAndSortsRows) {
  std::vector<Triplet> t = {{1, 3, 1.0f}, {0, 2, 2.0f}, {1, 0, 0.5f}, {1, 3, 2.0f}, {0, 1, 1.0f}};
  CsrMatrix m = BuildCsr(3, 4, t);
  ASSERT_EQ(m.rows, 3u);
  ASSERT_EQ(m.nnz(), 4u);
  EXPECT_EQ(std::vector<uint32_t>(m.RowIndices(0).begin(), m.RowIndices(0).end()), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(std::vector<uint32_t>(m.RowIndices(1).begin(), m.RowIndices(1).end()), (std::vector<uint32_t>{0, 3}));
  EXPECT_FLOAT_EQ(m.RowValues(1)[1], 3.0f);
  EXPECT_EQ(m.RowLength(2), 0u);
}

TEST(CsrMatrixTest, BuildDropsNonPositiveSumsAndCountsThem) {
  std::vector<Triplet> t = {{0, 0, 1.0f}, {0, 0, -1.0f}, {0, 1, 2.0f}, {1, 1, -3.0f}};
  uint64_t dropped = 99;
  CsrMatrix m = BuildCsr(2, 2, t, /*drop=*/true, 0.0f, &dropped);
  EXPECT_EQ(m.nnz(), 1u);
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(m.RowIndices(0)[0], 1u);
}

TEST(CsrMatrixTest, TransposeTwiceIsIdentity) {
  std::mt19937 rng(3);
  std::vector<Triplet> t;
  for (int i = 0; i < 500; ++i) t.push_back({static_cast<uint32_t>(rng() % 40), static_cast<uint32_t>(rng() % 30), static_cast<float>(rng() % 7 + 1)});
  CsrMatrix m = BuildCsr(40, 30, t);
  CsrMatrix tt = Transpose(m);
  EXPECT_EQ(tt.rows, 30u);
  EXPECT_EQ(tt.cols, 40u);
  EXPECT_EQ(tt.nnz(), m.nnz());
  for (uint32_t c = 0; c < tt.rows; ++c) {
    for (size_t j = 1; j < tt.RowLength(c); ++j) EXPECT_LT(tt.RowIndices(c)[j - 1], tt.RowIndices(c)[j]);
  }
  CsrMatrix back = Transpose(tt);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.values, m.values);
}

}  // namespace
}  // namespace aisle
