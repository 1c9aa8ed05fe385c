// Synthetic purchase histories with planted structure, for tests, benchmarks
// and demos: products belong to categories and have power-law popularity
// within them; each customer has a few favourite categories (their latent
// taste) from which most purchases come; events carry timestamps, quantities,
// prices and optional views, carts and returns. Deterministic for a seed.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/csr_matrix.h"

namespace aisle {

struct SyntheticOptions {
  uint32_t customers = 2000;
  uint32_t products = 1000;
  uint32_t categories = 20;
  uint64_t purchases = 40000;         // purchase events in total (before views/carts/returns)
  uint32_t tastes_per_customer = 2;   // favourite categories per customer
  double taste_share = 0.9;           // share of purchases from the favourites
  double popularity_exponent = 1.0;   // Zipf exponent of product popularity within a category
  double activity_sigma = 1.0;        // log-normal spread of purchases per customer
  double views_per_purchase = 0.0;    // extra view events, on average, per purchase
  double cart_rate = 0.0;             // probability that a purchase is preceded by a cart event
  double return_rate = 0.0;           // probability that a purchase is returned later
  int64_t start_time = 1609459200;    // 2021-01-01T00:00:00Z
  int64_t days = 365;
  uint64_t seed = 1;
};

struct SyntheticEvent {
  uint32_t customer;
  uint32_t product;
  int64_t timestamp;
  uint32_t quantity;
  uint8_t type;  // 0 purchase, 1 cart, 2 view, 3 return (as EventType)
};

struct SyntheticData {
  std::vector<SyntheticEvent> events;         // sorted by timestamp
  std::vector<uint32_t> product_category;     // per product
  std::vector<float> product_price;           // per product
  std::vector<std::vector<uint32_t>> tastes;  // per customer: favourite categories
};

SyntheticData GenerateSynthetic(const SyntheticOptions& options);

// Customer and product ids as written to files: "c<index>" and "p<index>".
std::string SyntheticCustomerId(uint32_t c);
std::string SyntheticProductId(uint32_t p);

// Writes the events as an events-format CSV (customer_id, product_id,
// timestamp (ISO-8601), quantity, price, event), atomically.
absl::Status WriteSyntheticCsv(const SyntheticData& data, const std::string& path);

// The same planted model written straight to `path` (atomically), customer
// chunk by chunk on all OpenMP threads, without holding the events: memory is
// the sampler's tables plus a few chunks of text, whatever the size. Rows are
// in customer order, not time order (each chunk of customers draws from its
// own generator, so the events differ from GenerateSynthetic's for the same
// seed). `progress` (may be empty) is told the customers written so far.
// Returns the number of events written.
absl::StatusOr<uint64_t> WriteSyntheticCsvStreamed(const SyntheticOptions& options, const std::string& path,
                                                   const std::function<void(uint32_t customers)>& progress);

// The store's product catalog (data/FORMATS.md, "Product catalog"): each
// product's planted category ("cat<index>"), its price, and in_stock false
// for one product in 20; atomically. The same for GenerateSynthetic and the
// streamed writer.
absl::Status WriteSyntheticCatalog(const SyntheticOptions& options, const std::string& path);

// A customers x products matrix from `purchases` draws of the same planted
// model (repeats summed, so nnz is somewhat below `purchases`), weights =
// purchase counts. Built
// directly (no events, no strings) for training benchmarks at scale.
CsrMatrix SyntheticInteractionMatrix(const SyntheticOptions& options);

}  // namespace aisle
