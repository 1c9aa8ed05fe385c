#include "engine/als_solver.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <random>

namespace aisle {
namespace {

// Dense reference: the exact minimizer over x of
//   sum_i w_i (x.y_i - p_i)^2 + lambda |x|^2
// with w_i = 1 + alpha r_i, p_i = 1 for observed items, w_i = alpha0, p_i = 0
// otherwise, computed over every item without any of the solver's shortcuts.
Eigen::VectorXf DenseSolve(const std::vector<uint32_t>& cols, const std::vector<float>& r,
                           const FactorMatrix& y, const AlsObjective& o) {
  const int k = static_cast<int>(y.cols());
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(k, k);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(k);
  for (int i = 0; i < y.rows(); ++i) {
    double w = o.unobserved_weight, p = 0;
    for (size_t j = 0; j < cols.size(); ++j) {
      if (cols[j] == static_cast<uint32_t>(i)) {
        w = 1.0 + o.alpha * r[j];
        p = 1;
      }
    }
    Eigen::VectorXd yi = y.row(i).transpose().cast<double>();
    a += w * yi * yi.transpose();
    b += w * p * yi;
  }
  a.diagonal().array() += o.RowRegularization(static_cast<uint32_t>(cols.size()), y.rows());
  return a.ldlt().solve(b).cast<float>();
}

struct Problem {
  FactorMatrix y;
  Eigen::MatrixXf gram;
  std::vector<uint32_t> cols;
  std::vector<float> weights;
};

Problem MakeProblem(int items, int k, int observed, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 0.5f);
  Problem p;
  p.y = FactorMatrix::NullaryExpr(items, k, [&] { return nd(rng); });
  p.gram = p.y.transpose() * p.y;
  std::vector<uint32_t> all(items);
  for (int i = 0; i < items; ++i) all[i] = i;
  std::shuffle(all.begin(), all.end(), rng);
  p.cols.assign(all.begin(), all.begin() + observed);
  std::sort(p.cols.begin(), p.cols.end());
  for (int j = 0; j < observed; ++j) p.weights.push_back(static_cast<float>(1 + rng() % 5));
  return p;
}

class AlsSolverTest : public ::testing::TestWithParam<std::tuple<float, float, float>> {};

TEST_P(AlsSolverTest, CholeskyMatchesDenseReference) {
  auto [alpha, a0, nu] = GetParam();
  AlsObjective o{.alpha = alpha, .unobserved_weight = a0, .regularization = 0.1f, .regularization_exponent = nu};
  Problem p = MakeProblem(40, 6, 9, 1);
  AlsSolveOptions chol{.solver = AlsSolver::kCholesky};
  Eigen::VectorXf x = Eigen::VectorXf::Zero(6);
  ASSERT_TRUE(SolveRow(p.cols, p.weights, p.y, p.gram, o, chol, x));
  Eigen::VectorXf ref = DenseSolve(p.cols, p.weights, p.y, o);
  EXPECT_LT((x - ref).norm(), 1e-4f * (1 + ref.norm())) << x.transpose() << "\n" << ref.transpose();
}

TEST_P(AlsSolverTest, ConjugateGradientConvergesToCholesky) {
  auto [alpha, a0, nu] = GetParam();
  AlsObjective o{.alpha = alpha, .unobserved_weight = a0, .regularization = 0.1f, .regularization_exponent = nu};
  Problem p = MakeProblem(60, 8, 12, 2);
  Eigen::VectorXf exact = Eigen::VectorXf::Zero(8);
  ASSERT_TRUE(SolveRow(p.cols, p.weights, p.y, p.gram, o, {.solver = AlsSolver::kCholesky}, exact));
  // CG solves a k x k SPD system exactly in k steps (up to rounding).
  Eigen::VectorXf x = Eigen::VectorXf::Zero(8);
  ASSERT_TRUE(SolveRow(p.cols, p.weights, p.y, p.gram, o, {.solver = AlsSolver::kConjugateGradient, .cg_steps = 16}, x));
  EXPECT_LT((x - exact).norm(), 1e-3f * (1 + exact.norm()));
  // Few steps from a cold start get part of the way; more steps get closer.
  Eigen::VectorXf x1 = Eigen::VectorXf::Zero(8), x3 = Eigen::VectorXf::Zero(8);
  SolveRow(p.cols, p.weights, p.y, p.gram, o, {.solver = AlsSolver::kConjugateGradient, .cg_steps = 1}, x1);
  SolveRow(p.cols, p.weights, p.y, p.gram, o, {.solver = AlsSolver::kConjugateGradient, .cg_steps = 3}, x3);
  EXPECT_LT((x3 - exact).norm(), (x1 - exact).norm());
  EXPECT_LT((x1 - exact).norm(), exact.norm());
}

INSTANTIATE_TEST_SUITE_P(Objectives, AlsSolverTest,
                         ::testing::Values(std::make_tuple(1.0f, 1.0f, 0.0f),    // Hu et al.
                                           std::make_tuple(10.0f, 1.0f, 0.0f),
                                           std::make_tuple(0.0f, 0.3f, 1.0f),    // Rendle et al. scaling
                                           std::make_tuple(2.0f, 0.05f, 1.0f)));

TEST(AlsSolverRowsTest, SolveRowsEqualsRowByRowAndZeroesEmptyRows) {
  Problem p = MakeProblem(30, 5, 1, 3);
  std::mt19937 rng(4);
  std::vector<Triplet> t;
  for (uint32_t r = 0; r < 20; ++r) {
    if (r % 7 == 3) continue;  // empty rows
    for (int j = 0; j < 6; ++j) t.push_back({r, static_cast<uint32_t>(rng() % 30), 1.0f + rng() % 3});
  }
  CsrMatrix rows = BuildCsr(20, 30, t);
  AlsObjective o;
  for (AlsSolver solver : {AlsSolver::kCholesky, AlsSolver::kConjugateGradient}) {
    AlsSolveOptions opt{.solver = solver, .cg_steps = 3};
    FactorMatrix target = FactorMatrix::Constant(20, 5, 0.1f);
    EXPECT_EQ(SolveRows(rows, p.y, p.gram, o, opt, 2, &target), 0u);
    for (uint32_t r = 0; r < 20; ++r) {
      Eigen::VectorXf x = Eigen::VectorXf::Constant(5, 0.1f);
      auto cols = rows.RowIndices(r);
      auto w = rows.RowValues(r);
      SolveRow(cols, w, p.y, p.gram, o, opt, x);
      if (rows.RowLength(r) == 0) {
        EXPECT_TRUE(target.row(r).isZero());
      } else {
        EXPECT_LT((target.row(r).transpose() - x).norm(), 1e-5f) << r;
      }
    }
  }
}

TEST(AlsLossTest, MatchesDenseObjective) {
  std::mt19937 rng(8);
  std::normal_distribution<float> nd(0, 0.5f);
  const int nu = 12, ni = 9, k = 4;
  FactorMatrix x = FactorMatrix::NullaryExpr(nu, k, [&] { return nd(rng); });
  FactorMatrix y = FactorMatrix::NullaryExpr(ni, k, [&] { return nd(rng); });
  std::vector<Triplet> t;
  for (int j = 0; j < 40; ++j) t.push_back({static_cast<uint32_t>(rng() % nu), static_cast<uint32_t>(rng() % ni), 1.0f + rng() % 4});
  CsrMatrix m = BuildCsr(nu, ni, t);
  AlsObjective o{.alpha = 0.7f, .unobserved_weight = 0.4f, .regularization = 0.2f, .regularization_exponent = 1.0f};
  Eigen::MatrixXd dense = Eigen::MatrixXd::Constant(nu, ni, -1);
  for (uint32_t u = 0; u < m.rows; ++u)
    for (size_t j = 0; j < m.RowLength(u); ++j) dense(u, m.RowIndices(u)[j]) = m.RowValues(u)[j];
  double want = 0;
  std::vector<int> item_n(ni, 0);
  for (int u = 0; u < nu; ++u) {
    int n = 0;
    for (int i = 0; i < ni; ++i) {
      double pred = x.row(u).cast<double>().dot(y.row(i).cast<double>());
      if (dense(u, i) >= 0) {
        want += (1 + o.alpha * dense(u, i)) * (pred - 1) * (pred - 1);
        ++n;
        ++item_n[i];
      } else {
        want += o.unobserved_weight * pred * pred;
      }
    }
    want += o.RowRegularization(n, ni) * x.row(u).cast<double>().squaredNorm();
  }
  for (int i = 0; i < ni; ++i) want += o.RowRegularization(item_n[i], nu) * y.row(i).cast<double>().squaredNorm();
  EXPECT_NEAR(AlsLoss(m, x, y, o, 2), want, 1e-4 * want);
}

}  // namespace
}  // namespace aisle
