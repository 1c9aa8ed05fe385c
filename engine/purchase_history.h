// PurchaseHistory: when each customer bought each product, as much of it as
// buy-again needs (engine/buy_again.h): per pair of Model::purchased (same
// CSR order) on how many distinct days the customer bought it and the first
// and last of those days, and per customer on how many days they bought
// anything. A purchase occasion is a UTC day with a purchase of the product
// (PurchaseDay): two invoices on one day are one occasion, as a basket
// split in two is still one basket. Plain data; immutable once loaded.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/csr_matrix.h"

namespace aisle {

inline constexpr int64_t kSecondsPerDay = 86400;
inline constexpr double kRecentHalfLifeDays = 90;

// The weight of a purchase `age` days old in PurchaseHistory::recent.
double RecencyWeight(double age_days);

// The purchase occasion (days since 1970-01-01 UTC) of a Unix time.
inline int32_t PurchaseDay(int64_t unix_seconds) {
  int64_t d = unix_seconds / kSecondsPerDay;
  if (unix_seconds < 0 && d * kSecondsPerDay != unix_seconds) --d;  // floor
  return static_cast<int32_t>(d);
}

struct PurchaseHistory {
  std::vector<uint32_t> days;       // per purchased pair: distinct purchase days, >= 1
  std::vector<int32_t> first_day;   // per pair: its first purchase day (PurchaseDay)
  std::vector<int32_t> last_day;    // per pair: its last purchase day, >= first_day
  // per pair: its purchase days weighted by recency, each day d counting
  // 0.5^((reference_day - d) / kRecentHalfLifeDays)
  std::vector<float> recent;
  std::vector<uint32_t> customer_days;  // per customer: distinct days with a purchase
  int32_t reference_day = 0;            // the day `recent` is computed at (the data's last)

  bool empty() const { return days.empty() && customer_days.empty(); }
  // Checks it against the purchases it describes: one entry per pair, one
  // per customer, days >= 1, first <= last, the days of a pair no more than
  // the days between them allow (last - first + 1) nor than the customer's.
  // InvalidArgument naming the first problem. Empty is valid (a model
  // written before histories were kept).
  absl::Status Validate(const CsrMatrix& purchased) const;
};

}  // namespace aisle
