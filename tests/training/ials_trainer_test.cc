#include "training/ials_trainer.h"

#include <gtest/gtest.h>

#include "data/synthetic.h"

namespace aisle {
namespace {

struct Data {
  CsrMatrix ui, iu;
};

Data SmallData(uint64_t seed = 3) {
  SyntheticOptions o;
  o.customers = 300;
  o.products = 120;
  o.categories = 6;
  o.purchases = 4000;
  o.seed = seed;
  Data d;
  d.ui = SyntheticInteractionMatrix(o);
  d.iu = Transpose(d.ui);
  return d;
}

IalsOptions Options(AlsSolver solver) {
  IalsOptions o;
  o.factors = 8;
  o.iterations = 10;
  o.solve.solver = solver;
  o.objective.regularization = 0.1f;
  o.threads = 2;
  return o;
}

class TrainerTest : public ::testing::TestWithParam<AlsSolver> {};

TEST_P(TrainerTest, LossGoesDown) {
  Data d = SmallData();
  IalsTrainer t(d.ui, d.iu, Options(GetParam()));
  ASSERT_TRUE(t.Init().ok());
  const double initial = t.Loss();
  double prev = initial;
  for (int i = 0; i < 10; ++i) {
    double loss = t.Iterate(true).loss;
    if (GetParam() == AlsSolver::kCholesky) {
      // Exact ALS never increases the objective.
      EXPECT_LE(loss, prev * (1 + 1e-5)) << "iteration " << i;
    }
    prev = loss;
  }
  EXPECT_LT(prev, 0.7 * initial);
}

TEST_P(TrainerTest, FitsASmallMatrixExactly) {
  // Like implicit's test_factorize: with enough factors and tiny
  // regularization the reconstruction approaches the 0/1 targets (ALS
  // converges slowly on this problem, hence the loose tolerance).
  std::vector<Triplet> t = {{0, 1, 1}, {0, 4, 1}, {1, 0, 1}, {1, 2, 1}, {2, 3, 1}, {2, 5, 1},
                            {3, 0, 1}, {3, 2, 1}, {4, 1, 1}, {5, 3, 1}, {5, 4, 1}, {6, 5, 1}};
  CsrMatrix ui = BuildCsr(7, 6, t);
  CsrMatrix iu = Transpose(ui);
  IalsOptions o = Options(GetParam());
  o.factors = 7;
  o.objective.regularization = 1e-3f;
  o.objective.alpha = 0;
  o.solve.cg_steps = 7;
  IalsTrainer tr(ui, iu, o);
  ASSERT_TRUE(tr.Init().ok());
  for (int i = 0; i < 300; ++i) tr.Iterate(false);
  Eigen::MatrixXf pred = tr.user_factors() * tr.item_factors().transpose();
  for (uint32_t u = 0; u < 7; ++u) {
    for (uint32_t i = 0; i < 6; ++i) {
      bool observed = false;
      for (uint32_t c : ui.RowIndices(u)) observed |= c == i;
      EXPECT_NEAR(pred(u, i), observed ? 1.0f : 0.0f, 0.2f) << u << "," << i;
    }
  }
}

TEST_P(TrainerTest, SameSeedSameModelAnyThreadCount) {
  Data d = SmallData();
  IalsOptions o = Options(GetParam());
  auto run = [&](int threads, uint64_t seed, bool huge_pages = true) {
    IalsOptions oo = o;
    oo.threads = threads;
    oo.seed = seed;
    oo.huge_pages = huge_pages;
    IalsTrainer t(d.ui, d.iu, oo);
    EXPECT_TRUE(t.Init().ok());
    for (int i = 0; i < 3; ++i) t.Iterate(false);
    return std::make_pair(t.user_factors(), t.item_factors());
  };
  auto a = run(2, 7), b = run(2, 7), c = run(1, 7), e = run(2, 8), small_pages = run(2, 7, false);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.first, small_pages.first);
  EXPECT_EQ(a.second, small_pages.second);
  EXPECT_EQ(a.second, b.second);
  EXPECT_EQ(a.second, c.second);
  EXPECT_NE(a.second, e.second);
}

INSTANTIATE_TEST_SUITE_P(Solvers, TrainerTest,
                         ::testing::Values(AlsSolver::kConjugateGradient, AlsSolver::kCholesky));

TEST(TrainerOptionsTest, BadOptionsAndEmptyDataAreRefused) {
  Data d = SmallData();
  IalsOptions o;
  o.factors = 0;
  EXPECT_FALSE(IalsTrainer(d.ui, d.iu, o).Init().ok());
  o = IalsOptions();
  o.objective.regularization = 0;
  o.objective.unobserved_weight = 0;
  EXPECT_FALSE(IalsTrainer(d.ui, d.iu, o).Init().ok());
  o = IalsOptions();
  o.solve.cg_steps = 0;
  EXPECT_FALSE(IalsTrainer(d.ui, d.iu, o).Init().ok());
  CsrMatrix empty;
  empty.indptr = {0};
  EXPECT_FALSE(IalsTrainer(empty, empty, IalsOptions()).Init().ok());
  EXPECT_FALSE(IalsTrainer(d.ui, d.ui, IalsOptions()).Init().ok());  // not the transpose
}

}  // namespace
}  // namespace aisle
