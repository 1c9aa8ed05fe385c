// IalsTrainer: implicit-feedback matrix factorization by alternating least
// squares (see engine/als_solver.h for the objective), float32, Eigen and
// OpenMP over rows. One iteration solves every customer row, then every
// product row. The same options (seed and thread count included) give the
// same factors, bit for bit; in fact the result does not depend on the
// thread count. Not thread-safe; it parallelizes internally.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/als_solver.h"
#include "engine/csr_matrix.h"
#include "engine/model.h"

namespace aisle {

struct IalsOptions {
  int factors = 64;
  AlsObjective objective;
  AlsSolveOptions solve;
  int iterations = 15;
  uint64_t seed = 42;
  int threads = 0;              // 0: all available (OMP_NUM_THREADS or the core count)
  float init_stddev = 0.1f;     // initial factors ~ N(0, (init_stddev / sqrt(factors))^2)
  bool huge_pages = true;       // factor matrices on transparent huge pages (engine/huge_pages.h)

  // InvalidArgument naming the first bad option.
  absl::Status Validate() const;
};

struct IterationStats {
  int iteration = 0;        // 1-based
  double seconds = 0;       // wall time of the two half-sweeps
  double user_seconds = 0;  // of which the customer half
  double loss = NAN;        // objective after the iteration, when computed
  uint64_t cholesky_failures = 0;
};

class IalsTrainer {
 public:
  // `user_items` (customers x products, weights) and `item_users` (its
  // transpose) must outlive the trainer.
  IalsTrainer(const CsrMatrix& user_items, const CsrMatrix& item_users, const IalsOptions& options);

  // Validates the options and the data and draws the initial factors.
  // InvalidArgument on bad options or empty data.
  absl::Status Init();
  // One iteration. REQUIRES: Init() succeeded.
  IterationStats Iterate(bool compute_loss);
  // The objective for the current factors.
  double Loss() const;

  const FactorMatrix& user_factors() const { return x_; }
  const FactorMatrix& item_factors() const { return y_; }
  FactorMatrix TakeUserFactors() { return std::move(x_); }
  FactorMatrix TakeItemFactors() { return std::move(y_); }
  int iterations_done() const { return iterations_done_; }

 private:
  const CsrMatrix& user_items_;
  const CsrMatrix& item_users_;
  IalsOptions options_;
  FactorMatrix x_;
  FactorMatrix y_;
  int iterations_done_ = 0;
};

// Fills `m` with N(0, stddev^2) values that depend only on (seed, row, col),
// so initialization is the same whatever the thread count.
void RandomNormalFill(uint64_t seed, float stddev, int threads, FactorMatrix* m);

}  // namespace aisle
