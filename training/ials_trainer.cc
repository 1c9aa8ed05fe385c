#include "training/ials_trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/huge_pages.h"
#include "engine/splitmix64.h"

namespace aisle {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

absl::Status IalsOptions::Validate() const {
  if (factors < 1 || factors > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("factors must be in [1, 1024], got ", factors));
  }
  if (iterations < 0) return absl::InvalidArgumentError("iterations must be >= 0");
  if (solve.cg_steps < 1) return absl::InvalidArgumentError("cg_steps must be >= 1");
  if (!(objective.regularization >= 0)) return absl::InvalidArgumentError("regularization must be >= 0");
  if (!(objective.alpha >= 0)) return absl::InvalidArgumentError("alpha must be >= 0");
  if (!(objective.unobserved_weight >= 0)) {
    return absl::InvalidArgumentError("unobserved weight must be >= 0");
  }
  if (!(objective.regularization_exponent >= 0)) {
    return absl::InvalidArgumentError("regularization exponent must be >= 0");
  }
  if (objective.regularization == 0 && objective.unobserved_weight == 0) {
    return absl::InvalidArgumentError(
        "regularization and unobserved weight are both 0: the problem is singular");
  }
  if (threads < 0) return absl::InvalidArgumentError("threads must be >= 0");
  if (!(init_stddev > 0)) return absl::InvalidArgumentError("init_stddev must be > 0");
  return absl::OkStatus();
}

void RandomNormalFill(uint64_t seed, float stddev, int threads, FactorMatrix* m) {
  const int64_t rows = m->rows(), cols = m->cols();
  const uint64_t base = SplitMix64(seed ^ (static_cast<uint64_t>(rows) << 32) ^ cols);
#pragma omp parallel for num_threads(threads > 0 ? threads : omp_get_max_threads()) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; c += 2) {
      // Box-Muller on two uniforms drawn from a counter-based hash.
      uint64_t h = SplitMix64(base + static_cast<uint64_t>(r * cols + c));
      double u1 = (static_cast<double>(h >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      double u2 = static_cast<double>(SplitMix64(h) >> 11) * 0x1.0p-53;
      double rad = std::sqrt(-2.0 * std::log(u1));
      (*m)(r, c) = static_cast<float>(stddev * rad * std::cos(2 * M_PI * u2));
      if (c + 1 < cols) (*m)(r, c + 1) = static_cast<float>(stddev * rad * std::sin(2 * M_PI * u2));
    }
  }
}

IalsTrainer::IalsTrainer(const CsrMatrix& user_items, const CsrMatrix& item_users,
                         const IalsOptions& options)
    : user_items_(user_items), item_users_(item_users), options_(options) {}

absl::Status IalsTrainer::Init() {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  if (user_items_.rows == 0 || user_items_.cols == 0 || user_items_.nnz() == 0) {
    return absl::InvalidArgumentError("no interactions to train on");
  }
  if (item_users_.rows != user_items_.cols || item_users_.cols != user_items_.rows ||
      item_users_.nnz() != user_items_.nnz()) {
    return absl::InvalidArgumentError("item_users is not the transpose of user_items");
  }
  const int k = options_.factors;
  const float stddev = options_.init_stddev / std::sqrt(static_cast<float>(k));
  x_.resize(user_items_.rows, k);
  y_.resize(user_items_.cols, k);
  // Rows are gathered at random every iteration: huge pages, asked for
  // before the first write (docs/BENCHMARKS.md, "Scale").
  if (options_.huge_pages) {
    AdviseHugePages(x_.data(), sizeof(float) * x_.size());
    AdviseHugePages(y_.data(), sizeof(float) * y_.size());
  }
  RandomNormalFill(options_.seed, stddev, options_.threads, &x_);
  RandomNormalFill(options_.seed + 1, stddev, options_.threads, &y_);
  iterations_done_ = 0;
  return absl::OkStatus();
}

IterationStats IalsTrainer::Iterate(bool compute_loss) {
  IterationStats st;
  const double t0 = Now();
  Eigen::MatrixXf gram = ComputeGram(y_, options_.threads);
  st.cholesky_failures +=
      SolveRows(user_items_, y_, gram, options_.objective, options_.solve, options_.threads, &x_);
  const double t1 = Now();
  gram = ComputeGram(x_, options_.threads);
  st.cholesky_failures +=
      SolveRows(item_users_, x_, gram, options_.objective, options_.solve, options_.threads, &y_);
  const double t2 = Now();
  st.iteration = ++iterations_done_;
  st.user_seconds = t1 - t0;
  st.seconds = t2 - t0;
  if (compute_loss) st.loss = Loss();
  return st;
}

double IalsTrainer::Loss() const {
  return AlsLoss(user_items_, x_, y_, options_.objective, options_.threads);
}

}  // namespace aisle
