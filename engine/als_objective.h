// AlsObjective: the hyperparameters of the implicit ALS objective (written
// out in engine/als_solver.h), shared by the trainer, the model's typed
// metadata and the engine's fold-in. Plain data.
#pragma once

#include <cstdint>

namespace aisle {

struct AlsObjective {
  float alpha = 1.0f;              // confidence scale: c = 1 + alpha * weight
  float unobserved_weight = 1.0f;  // alpha0
  float regularization = 0.01f;    // lambda
  float regularization_exponent = 0.0f;  // nu

  // lambda_u for a row with `observed` entries among `columns` (als_solver.cc).
  float RowRegularization(uint32_t observed, uint64_t columns) const;
};

}  // namespace aisle
