// Model: everything a trained recommender needs in memory: id maps, user and
// item factors, each customer's purchased products (excluded when
// recommending), item popularity (the cold-start fallback) and the training
// metadata, with the parts code relies on (id, objective, data cut-off) as
// typed fields read from it in one place (SetMetadata). Plain data;
// immutable once loaded, so concurrent reads are safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "engine/algorithm.h"
#include "engine/als_objective.h"
#include "engine/buy_again.h"
#include "engine/csr_matrix.h"
#include "engine/event_weighting.h"
#include "engine/id_map.h"
#include "engine/item_neighbours.h"
#include "engine/mapped_file.h"
#include "engine/purchase_history.h"

namespace aisle {

// Factors are row-major so that one user's (or item's) vector is contiguous.
using FactorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Read access to factors wherever they are (owned or in a mapped file).
using FactorView = Eigen::Map<const FactorMatrix>;
// What functions reading factors take: binds a FactorMatrix or a FactorView without a copy.
using FactorRef = Eigen::Ref<const FactorMatrix>;

// The clusters of the search index over product vectors
// (engine/cluster_index.h), as the trainer stores them so a server need
// not run k-means at load.
struct ProductClusters {
  std::vector<uint32_t> order;    // every product once, cluster by cluster
  std::vector<uint32_t> offsets;  // cluster j holds order[offsets[j] .. offsets[j + 1])
  FactorMatrix centroids;         // clusters x factors
  bool empty() const { return offsets.empty(); }
};

// A number no other object of this process has had: a copy gets a new
// one, a move takes the source's (the source gets a new one). For caches
// keyed by a model: its address can be reused by the next model loaded.
class InstanceId {
 public:
  InstanceId() : value_(Next()) {}
  InstanceId(const InstanceId&) : value_(Next()) {}
  InstanceId(InstanceId&& other) noexcept : value_(other.value_) { other.value_ = Next(); }
  InstanceId& operator=(const InstanceId&) {
    value_ = Next();
    return *this;
  }
  InstanceId& operator=(InstanceId&& other) noexcept {
    value_ = other.value_;
    other.value_ = Next();
    return *this;
  }
  uint64_t value() const { return value_; }

 private:
  static uint64_t Next();
  uint64_t value_;
};

struct Model {
  InstanceId instance;                // this object's identity (never its address)
  IdMap customers;                    // customer id <-> row of user_factors
  IdMap products;                     // product id <-> row of item_factors
  FactorMatrix user_factors;          // customers x factors
  FactorMatrix item_factors;          // products x factors
  CsrMatrix purchased;                // customers x products pattern, values empty
  std::vector<float> item_popularity; // per product: customers who interacted
  // Optional (empty in models written before it): when each purchased pair
  // was bought, what buy-again (engine/buy_again.h) reads.
  PurchaseHistory history;
  // Optional (empty in models written before them): each product's most
  // similar products by co-purchase, what buy-again's affinities read.
  ItemNeighbours neighbours;
  // The item-item algorithms' payload (empty for iALS): row j holds how much
  // a customer's having product j adds to other products' scores (signed
  // for ease). Such models have no factors (zero columns).
  ItemNeighbours item_weights;
  // Hyperparameters, data stats, times: set with SetMetadata, which fills
  // the typed fields below from it.
  nlohmann::json metadata = nlohmann::json::object();
  std::string model_id;            // metadata "model_id": printable UTF-8, at most kMaxModelIdBytes
  Algorithm algorithm = Algorithm::kIals;  // metadata "algorithm" (absent: ials)
  AlsObjective objective;          // metadata "hyperparameters" (the objective fold-in uses)
  int64_t last_event_unix = 0;     // metadata "data"."last_event_unix": the data cut-off, 0 unknown
  // metadata "data"."events_through_segment": the server's event journal
  // segments 1..N (events/event_journal.h) are in the model; 0: none were
  // read, and events the server received after last_event_unix are not.
  uint64_t events_through_segment = 0;
  EventWeighting weighting;        // metadata "weighting": how the trainer turned events into confidences
  BuyAgainParams buy_again;        // metadata "buy_again": learnt on validation (default: not learnt, off)
  // Optional: the clusters of product vectors and of their unit vectors
  // (Recommender's index and similar-products index); empty: built at load.
  ProductClusters item_clusters, similar_clusters;

  // A model read by MapModel (engine/model_io.h) keeps its factors in the
  // mapped file: user_factors and item_factors are then empty and these
  // point into `mapping`, which the model keeps alive (and asks whether the
  // file was changed in place: MappedFile::CheckUnchanged).
  std::shared_ptr<const MappedFile> mapping;
  const float* mapped_users = nullptr;
  const float* mapped_items = nullptr;
  uint32_t mapped_factors = 0;

  // The factors, wherever they are: what readers use.
  FactorView users() const {
    return mapped_users != nullptr
               ? FactorView(mapped_users, static_cast<Eigen::Index>(customers.size()), mapped_factors)
               : FactorView(user_factors.data(), user_factors.rows(), user_factors.cols());
  }
  FactorView items() const {
    return mapped_items != nullptr
               ? FactorView(mapped_items, static_cast<Eigen::Index>(products.size()), mapped_factors)
               : FactorView(item_factors.data(), item_factors.rows(), item_factors.cols());
  }

  static constexpr size_t kMaxModelIdBytes = 128;

  // Sets `metadata` and the typed fields read from it. InvalidArgument (the
  // model unchanged) when a field has the wrong type or value: a model id
  // that is not a string, too long or not printable (it goes into headers
  // and logs), an unknown algorithm, a hyperparameter that is not a finite number >= 0, a cut-off
  // that is not an integer, metadata that is not an object.
  absl::Status SetMetadata(nlohmann::json metadata);

  uint32_t num_factors() const { return static_cast<uint32_t>(items().cols()); }

  // Checks that all parts agree in shape, indexes are in range and sorted,
  // and every factor is finite; an iALS model has factors, an item-item one
  // its weights and no factors. InvalidArgument (or DataLoss when `loaded`
  // is true, meaning the bytes came from a file) naming the first problem.
  absl::Status Validate(bool loaded = false) const;
};

}  // namespace aisle
