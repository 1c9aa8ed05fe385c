// Batch recommendations for campaigns (aisle-eval batch): every customer's
// top-N products, and optionally top-N offers, in one run, answered exactly
// as aisle-server answers them (Recommender::RecommendBatch: the fused
// scoring kernel over the products, eight customers per pass, OpenMP over
// the batches; the same filters and purchase exclusions, live events
// folded in and consent honoured when the caller knows them), written in
// order as JSON lines or CSV through a callback.
// Thread-safe: a free function (parallel inside).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/offer_ranker.h"
#include "engine/recommender.h"

namespace aisle {

enum class BatchFormat { kJsonLines, kCsv };

// What the live loop knows about customers (aisle-server --events_dir); each
// may be empty: everyone consents, nobody has live events.
struct BatchCustomerState {
  std::function<bool(absl::string_view customer)> consent;
  std::function<std::shared_ptr<const LiveProfile>(absl::string_view customer)> live;
  std::function<bool(absl::string_view customer)> skip;  // e.g. erased: left out of the output
};

struct BatchExportOptions {
  RecommendOptions recommend;    // count, filters
  size_t offer_count = 0;        // offers per customer (with an OfferRanker)
  OfferOptions offers;           // audience and time of the offers
  BatchFormat format = BatchFormat::kJsonLines;
  size_t chunk = 16384;          // customers answered between two writes
  std::function<void(size_t done, size_t total)> progress;  // after each chunk
};

struct BatchExportStats {
  uint64_t customers = 0;     // lines written (JSON) or customers (CSV)
  uint64_t personalized = 0;  // from the model (or live events)
  uint64_t live = 0;          // with live events folded in
  uint64_t popularity = 0;    // unknown to the model: the popularity ranking
  uint64_t no_consent = 0;    // without consent: the popularity ranking, flagged
  uint64_t skipped = 0;
  uint64_t bytes = 0;
};

// Answers `customers` in order and hands the text to `write` chunk by chunk
// (a failed write stops the export with its error). InvalidArgument for bad
// options.
absl::StatusOr<BatchExportStats> ExportBatch(const Recommender& recommender, const OfferRanker* offers,
                                             absl::Span<const std::string> customers,
                                             const BatchCustomerState& state, const BatchExportOptions& options,
                                             const std::function<absl::Status(absl::string_view)>& write);

// The CSV header of BatchFormat::kCsv (one row per recommendation or offer).
absl::string_view BatchCsvHeader();

}  // namespace aisle
