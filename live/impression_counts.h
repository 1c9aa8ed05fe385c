// ImpressionCounts: how many times each offer was shown to each customer,
// for the per-customer impression caps (docs/API.md, "Offers"). Where the
// counts live is the implementation's business: ImpressionLog (one server's
// append-only file, live/impression_log.h) or RedisImpressions (Redis
// counters every server sharing the live store sees,
// live/redis_impressions.h). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace aisle {

class ImpressionCounts {
 public:
  virtual ~ImpressionCounts() = default;
  // Records that `offers` were shown to `customer` at `at`. On error (a
  // failed write) nothing counts.
  virtual absl::Status Record(absl::string_view customer, absl::Span<const std::string> offers, absl::Time at) = 0;
  // All of one customer's counts, by offer id (a copy).
  virtual absl::flat_hash_map<std::string, uint32_t> CountsFor(absl::string_view customer) const = 0;
  // Forgets a customer's counts everywhere they are kept; returns the
  // impressions (or records) removed.
  virtual absl::StatusOr<uint64_t> Erase(absl::string_view customer) = 0;
};

}  // namespace aisle
