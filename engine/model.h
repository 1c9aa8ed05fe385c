// Model: everything a trained recommender needs in memory: id maps, user and
// item factors, each customer's purchased products (excluded when
// recommending), item popularity (the cold-start fallback) and the training
// metadata. Plain data; immutable once loaded, so concurrent reads are safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "engine/csr_matrix.h"
#include "engine/id_map.h"

namespace aisle {

// Factors are row-major so that one user's (or item's) vector is contiguous.
using FactorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Model {
  IdMap customers;                    // customer id <-> row of user_factors
  IdMap products;                     // product id <-> row of item_factors
  FactorMatrix user_factors;          // customers x factors
  FactorMatrix item_factors;          // products x factors
  CsrMatrix purchased;                // customers x products pattern, values empty
  std::vector<float> item_popularity; // per product: customers who interacted
  nlohmann::json metadata = nlohmann::json::object();  // hyperparameters, data stats, times

  uint32_t num_factors() const { return static_cast<uint32_t>(item_factors.cols()); }

  // Checks that all parts agree in shape, indexes are in range and sorted,
  // and every factor is finite. InvalidArgument (or DataLoss when `loaded`
  // is true, meaning the bytes came from a file) naming the first problem.
  absl::Status Validate(bool loaded = false) const;
};

}  // namespace aisle
