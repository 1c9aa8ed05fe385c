// Kernels of implicit alternating least squares (Hu, Koren and Volinsky
// 2008), shared by the trainer (full half-sweeps) and the engine (folding a
// new customer's basket into the model).
//
// Objective, for customer factors X (rows x_u) and product factors Y (y_i):
//   sum over observed (u,i) of c_ui (x_u.y_i - 1)^2
//   + alpha0 * sum over unobserved (u,i) of (x_u.y_i)^2
//   + sum_u lambda_u |x_u|^2 + sum_i lambda_i |y_i|^2
// with confidence c_ui = 1 + alpha * w_ui for the aggregated weight w_ui, and
// lambda_u = lambda * (n_u + alpha0 * N)^nu (nu = 0: plain lambda; nu = 1:
// the frequency-scaled regularization of Rendle et al. 2022), where n_u is
// the row's observed count and N the number of columns.
// With alpha0 = 1 and nu = 0 this is exactly Hu et al.'s model.
//
// Solving one row needs G = Y^T Y (computed once per half-sweep) and only
// the row's observed columns: O(n_u k cg_steps + k^2 cg_steps) with
// conjugate gradient (Takacs et al. 2011), O(n_u k^2 + k^3) with Cholesky.
// Thread-safe: the functions read shared inputs and write disjoint rows.
#pragma once

#include <cstdint>

#include <Eigen/Core>

#include "absl/types/span.h"
#include "engine/als_objective.h"
#include "engine/csr_matrix.h"
#include "engine/model.h"

namespace aisle {


enum class AlsSolver { kConjugateGradient, kCholesky };

struct AlsSolveOptions {
  AlsSolver solver = AlsSolver::kConjugateGradient;
  int cg_steps = 3;  // CG iterations per row, warm-started from the row's current value
};

// G = Y^T Y (k x k), summed over a fixed partition of the rows so that the
// result does not depend on `threads`.
Eigen::MatrixXf ComputeGram(const FactorRef& y, int threads);

// For every row r of `rows` (a CSR whose columns index the rows of `other`
// and whose values are the weights w), solves the row's least-squares
// problem for target->row(r) given `other` and its Gram matrix `gram`.
// CG starts from the current target->row(r). Rows with no entries become
// zero. REQUIRES: target has rows.rows rows and other.cols() columns.
// Returns the number of rows whose Cholesky factorization failed (left
// unchanged); always 0 for CG.
uint64_t SolveRows(const CsrMatrix& rows, const FactorRef& other, const Eigen::MatrixXf& gram,
                   const AlsObjective& objective, const AlsSolveOptions& options, int threads,
                   FactorMatrix* target);

// Solves a single row given its observed columns and weights (the fold-in of
// a new customer). `x` is the warm start for CG and receives the result.
// Returns false when the Cholesky factorization failed.
bool SolveRow(absl::Span<const uint32_t> columns, absl::Span<const float> weights,
              const FactorRef& other, const Eigen::MatrixXf& gram,
              const AlsObjective& objective, const AlsSolveOptions& options,
              Eigen::Ref<Eigen::VectorXf> x);

// The objective's value for the given factors (weights from `user_items`).
// Cost O(nnz k + (users + items) k^2).
double AlsLoss(const CsrMatrix& user_items, const FactorRef& x, const FactorRef& y,
               const AlsObjective& objective, int threads);

}  // namespace aisle
