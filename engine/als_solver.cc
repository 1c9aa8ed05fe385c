#include "engine/als_solver.h"

#include <omp.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <vector>

namespace aisle {
namespace {

using RowMajorMap = Eigen::Map<FactorMatrix>;
using VecMap = Eigen::Map<Eigen::VectorXf>;

int Threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

// Per-thread buffers, grown as needed and reused across rows.
struct Scratch {
  std::vector<float> block;  // gathered factors of the row's columns, n x k row-major
  std::vector<float> conf;   // c_j
  std::vector<float> diff;   // c_j - alpha0
  std::vector<float> t;      // n
  Eigen::VectorXf r, p, ap;
  Eigen::MatrixXf a;         // k x k, Cholesky only

  void Reserve(size_t n, int k) {
    if (block.size() < n * k) block.resize(n * k);
    if (conf.size() < n) {
      conf.resize(n);
      diff.resize(n);
      t.resize(n);
    }
    if (r.size() != k) {
      r.resize(k);
      p.resize(k);
      ap.resize(k);
    }
  }
};

// out = B^T (d .* (B v)) in one pass over the gathered block B (n x K),
// with K known at compile time so each row lives in registers.
template <int K>
void FusedGatherProduct(const float* block, const float* d, size_t n, const float* v, float* out) {
  using Row = Eigen::Matrix<float, K, 1>;
  Eigen::Map<const Row> vv(v);
  Row acc = Row::Zero();
  for (size_t j = 0; j < n; ++j) {
    Eigen::Map<const Row> b(block + j * K);
    acc += (d[j] * b.dot(vv)) * b;
  }
  Eigen::Map<Row> result(out);
  result = acc;
}

// Same for any k, through Eigen's dynamic-size products.
void GatherProduct(const float* block, const float* d, size_t n, int k, const float* v, float* out,
                   float* t) {
  switch (k) {
    case 32: return FusedGatherProduct<32>(block, d, n, v, out);
    case 64: return FusedGatherProduct<64>(block, d, n, v, out);
    case 128: return FusedGatherProduct<128>(block, d, n, v, out);
    default: break;
  }
  Eigen::Map<const FactorMatrix> b(block, static_cast<Eigen::Index>(n), k);
  Eigen::Map<Eigen::VectorXf> tt(t, static_cast<Eigen::Index>(n));
  tt.noalias() = b * Eigen::Map<const Eigen::VectorXf>(v, k);
  tt.array() *= Eigen::Map<const Eigen::ArrayXf>(d, static_cast<Eigen::Index>(n));
  Eigen::Map<Eigen::VectorXf>(out, k).noalias() = b.transpose() * tt;
}

// Solves one row in place. `x` holds the warm start.
bool SolveRowImpl(const uint32_t* cols, const float* weights, size_t n, const FactorRef& other,
                  const Eigen::MatrixXf& gram, const AlsObjective& obj, const AlsSolveOptions& opt,
                  float* x_out, Scratch* s) {
  const int k = static_cast<int>(other.cols());
  VecMap x(x_out, k);
  if (n == 0) {
    x.setZero();
    return true;
  }
  s->Reserve(n, k);
  const float a0 = obj.unobserved_weight;
  const float lambda = obj.RowRegularization(static_cast<uint32_t>(n), other.rows());
  RowMajorMap block(s->block.data(), static_cast<Eigen::Index>(n), k);
  VecMap c(s->conf.data(), static_cast<Eigen::Index>(n));
  VecMap d(s->diff.data(), static_cast<Eigen::Index>(n));
  VecMap t(s->t.data(), static_cast<Eigen::Index>(n));
  // The gather is random access into a matrix far larger than the caches:
  // prefetch a few rows ahead so that their misses overlap.
  constexpr size_t kAhead = 32;
  const size_t row_bytes = static_cast<size_t>(k) * sizeof(float);
  auto prefetch = [&](size_t j) {
    const char* src = reinterpret_cast<const char*>(other.row(cols[j]).data());
    for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(src + b, 0, 3);
  };
  for (size_t j = 0; j < std::min(n, kAhead); ++j) prefetch(j);
  for (size_t j = 0; j < n; ++j) {
    if (j + kAhead < n) prefetch(j + kAhead);
    block.row(static_cast<Eigen::Index>(j)) = other.row(cols[j]);
    c[static_cast<Eigen::Index>(j)] = 1.0f + obj.alpha * weights[j];
  }
  d = c.array() - a0;

  if (opt.solver == AlsSolver::kCholesky) {
    Eigen::MatrixXf& a = s->a;
    a.noalias() = a0 * gram;
    a.diagonal().array() += lambda;
    // A += B^T diag(d) B, via the scaled copy held in `t`-sized rows.
    FactorMatrix scaled = d.asDiagonal() * block;
    a.noalias() += block.transpose() * scaled;
    s->r.noalias() = block.transpose() * c;
    Eigen::LLT<Eigen::MatrixXf> llt(a);
    if (llt.info() == Eigen::Success) {
      x = llt.solve(s->r);
      return true;
    }
    // Numerically semi-definite in float32 (tiny lambda): pivoted LDL^T.
    Eigen::LDLT<Eigen::MatrixXf> ldlt(a);
    if (ldlt.info() != Eigen::Success) return false;
    Eigen::VectorXf sol = ldlt.solve(s->r);
    if (!sol.allFinite()) return false;
    x = sol;
    return true;
  }

  // Conjugate gradient on A x = b with A = alpha0 G + lambda I + B^T diag(d) B
  // and b = B^T c, never forming A.
  Eigen::VectorXf& r = s->r;
  Eigen::VectorXf& p = s->p;
  Eigen::VectorXf& ap = s->ap;
  t.noalias() = block * x;
  t = c - d.cwiseProduct(t);
  r.noalias() = block.transpose() * t;
  r.noalias() -= a0 * (gram * x);
  r -= lambda * x;
  p = r;
  float rs = r.squaredNorm();
  for (int step = 0; step < opt.cg_steps; ++step) {
    if (rs < 1e-20f) break;
    GatherProduct(s->block.data(), s->diff.data(), n, k, p.data(), ap.data(), s->t.data());
    ap.noalias() += a0 * (gram * p);
    ap += lambda * p;
    const float pap = p.dot(ap);
    if (!(pap > 0)) break;
    const float step_size = rs / pap;
    x += step_size * p;
    r -= step_size * ap;
    const float rs_new = r.squaredNorm();
    p = r + (rs_new / rs) * p;
    rs = rs_new;
  }
  return true;
}

}  // namespace

float AlsObjective::RowRegularization(uint32_t observed, uint64_t columns) const {
  if (regularization_exponent == 0.0f) return regularization;
  return regularization *
         std::pow(static_cast<float>(observed) + unobserved_weight * static_cast<float>(columns),
                  regularization_exponent);
}

Eigen::MatrixXf ComputeGram(const FactorRef& y, int threads) {
  constexpr int kChunks = 16;
  const Eigen::Index n = y.rows(), k = y.cols();
  std::vector<Eigen::MatrixXf> partial(kChunks);
#pragma omp parallel for num_threads(Threads(threads)) schedule(static, 1)
  for (int c = 0; c < kChunks; ++c) {
    const Eigen::Index begin = n * c / kChunks, end = n * (c + 1) / kChunks;
    partial[c].noalias() = y.middleRows(begin, end - begin).transpose() * y.middleRows(begin, end - begin);
  }
  Eigen::MatrixXf g = Eigen::MatrixXf::Zero(k, k);
  for (int c = 0; c < kChunks; ++c) g += partial[c];
  return g;
}

uint64_t SolveRows(const CsrMatrix& rows, const FactorRef& other, const Eigen::MatrixXf& gram,
                   const AlsObjective& objective, const AlsSolveOptions& options, int threads,
                   FactorMatrix* target) {
  uint64_t failures = 0;
  const int64_t n = rows.rows;
#pragma omp parallel num_threads(Threads(threads)) reduction(+ : failures)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 64)
    for (int64_t r = 0; r < n; ++r) {
      const uint64_t b = rows.indptr[r];
      const size_t len = rows.indptr[r + 1] - b;
      if (!SolveRowImpl(rows.indices.data() + b, rows.values.data() + b, len, other, gram,
                        objective, options, target->row(r).data(), &scratch)) {
        ++failures;
      }
    }
  }
  return failures;
}

bool SolveRow(absl::Span<const uint32_t> columns, absl::Span<const float> weights,
              const FactorRef& other, const Eigen::MatrixXf& gram,
              const AlsObjective& objective, const AlsSolveOptions& options,
              Eigen::Ref<Eigen::VectorXf> x) {
  Scratch scratch;
  Eigen::VectorXf work = x;
  bool ok = SolveRowImpl(columns.data(), weights.data(), columns.size(), other, gram, objective,
                         options, work.data(), &scratch);
  if (ok) x = work;
  return ok;
}

double AlsLoss(const CsrMatrix& user_items, const FactorRef& x, const FactorRef& y,
               const AlsObjective& obj, int threads) {
  const float a0 = obj.unobserved_weight;
  double observed = 0, reg = 0;
  const int64_t nu = user_items.rows;
#pragma omp parallel for num_threads(Threads(threads)) schedule(dynamic, 256) reduction(+ : observed, reg)
  for (int64_t u = 0; u < nu; ++u) {
    double row = 0;
    for (uint64_t p = user_items.indptr[u]; p < user_items.indptr[u + 1]; ++p) {
      const double pred = x.row(u).dot(y.row(user_items.indices[p]));
      const double c = 1.0 + obj.alpha * user_items.values[p];
      row += c * (pred - 1) * (pred - 1) - a0 * pred * pred;
    }
    observed += row;
    reg += obj.RowRegularization(user_items.RowLength(static_cast<uint32_t>(u)), y.rows()) *
           x.row(u).squaredNorm();
  }
  // Column counts for the item-side regularization.
  std::vector<uint32_t> item_count(y.rows(), 0);
  for (uint32_t i : user_items.indices) ++item_count[i];
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    reg += obj.RowRegularization(item_count[i], x.rows()) * y.row(i).squaredNorm();
  }
  // Sum over all pairs of (x_u.y_i)^2 = <X^T X, Y^T Y>.
  const double all = ComputeGram(x, threads).cwiseProduct(ComputeGram(y, threads)).cast<double>().sum();
  return observed + a0 * all + reg;
}

}  // namespace aisle
