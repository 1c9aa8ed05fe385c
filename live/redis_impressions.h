// RedisImpressions: offer impression counts shared by every server of a
// live store in Redis (live/redis_live_store.h: PREFIX imp:CUSTOMER hashes,
// each record also on the stream), so that a per-customer cap holds across
// servers (within the propagation delay: two servers showing the same offer
// in the same millisecond may both count it). Counts are read from the
// store's memory; a record is acknowledged once Redis has it. Thread-safe.
#pragma once

#include "live/impression_counts.h"
#include "live/redis_live_store.h"

namespace aisle {

class RedisImpressions : public ImpressionCounts {
 public:
  explicit RedisImpressions(RedisLiveStore* store) : store_(store) {}
  absl::Status Record(absl::string_view customer, absl::Span<const std::string> offers, absl::Time at) override {
    (void)at;  // Redis keeps counts, not times
    return store_->RecordImpressions(customer, offers);
  }
  absl::flat_hash_map<std::string, uint32_t> CountsFor(absl::string_view customer) const override {
    return store_->Impressions(customer);
  }
  absl::StatusOr<uint64_t> Erase(absl::string_view customer) override { return store_->EraseImpressions(customer); }

 private:
  RedisLiveStore* store_;
};

}  // namespace aisle
