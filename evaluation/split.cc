#include "evaluation/split.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/splitmix64.h"

namespace aisle {
namespace {

// Splits the events marked `from` into `from` (kept) and `to`.
int64_t TimeSplit(const EventLog& log, const SplitOptions& o, int64_t cutoff, SplitPart from, SplitPart to,
                  std::vector<SplitPart>* part) {
  if (cutoff == 0) {
    std::vector<int64_t> ts;
    for (size_t e = 0; e < log.events.size(); ++e) {
      if ((*part)[e] == from) ts.push_back(log.events[e].timestamp);
    }
    if (ts.empty()) return 0;
    size_t q = static_cast<size_t>(std::floor((1.0 - o.test_fraction) * ts.size()));
    q = std::min(q, ts.size() - 1);
    std::nth_element(ts.begin(), ts.begin() + q, ts.end());
    cutoff = ts[q];
    // All events at one time (no timestamps): nothing can be after it.
    if (cutoff == *std::min_element(ts.begin(), ts.end())) return cutoff;
  }
  std::vector<char> seen_before(log.customers.size(), 0);
  for (size_t e = 0; e < log.events.size(); ++e) {
    if ((*part)[e] == from && log.events[e].timestamp < cutoff) seen_before[log.events[e].customer] = 1;
  }
  for (size_t e = 0; e < log.events.size(); ++e) {
    if ((*part)[e] != from || log.events[e].timestamp < cutoff) continue;
    (*part)[e] = seen_before[log.events[e].customer] ? to : SplitPart::kDropped;
  }
  return cutoff;
}

void PerCustomerSplit(const EventLog& log, const SplitOptions& o, SplitPart from, SplitPart to,
                      uint64_t salt, std::vector<SplitPart>* part) {
  const size_t nc = log.customers.size();
  // Per customer: latest purchase time, number of purchases and of distinct times.
  std::vector<int64_t> last(nc, INT64_MIN);
  std::vector<uint32_t> purchases(nc, 0);
  std::vector<char> several_times(nc, 0);
  for (size_t e = 0; e < log.events.size(); ++e) {
    const Event& ev = log.events[e];
    if ((*part)[e] != from || ev.type != EventType::kPurchase) continue;
    if (purchases[ev.customer] > 0 && ev.timestamp != last[ev.customer]) several_times[ev.customer] = 1;
    ++purchases[ev.customer];
    last[ev.customer] = std::max<int64_t>(last[ev.customer], ev.timestamp);
  }
  if (o.method == SplitMethod::kLastBasket) {
    for (size_t e = 0; e < log.events.size(); ++e) {
      const Event& ev = log.events[e];
      if ((*part)[e] != from || !several_times[ev.customer] || ev.timestamp < last[ev.customer]) continue;
      const bool in_basket = ev.type == EventType::kPurchase && ev.timestamp == last[ev.customer];
      (*part)[e] = in_basket ? to : SplitPart::kDropped;
    }
    return;
  }
  // Leave one out: among the customer's purchases at its latest time, the one
  // with the smallest hash.
  std::vector<int64_t> chosen(nc, -1);
  std::vector<uint64_t> best(nc, UINT64_MAX);
  for (size_t e = 0; e < log.events.size(); ++e) {
    const Event& ev = log.events[e];
    if ((*part)[e] != from || ev.type != EventType::kPurchase || purchases[ev.customer] < 2 ||
        ev.timestamp != last[ev.customer]) {
      continue;
    }
    const uint64_t h =
        SplitMix64(o.seed ^ SplitMix64(salt ^ (static_cast<uint64_t>(ev.customer) << 32 | ev.product)) ^ e);
    if (h < best[ev.customer]) {
      best[ev.customer] = h;
      chosen[ev.customer] = static_cast<int64_t>(e);
    }
  }
  for (size_t c = 0; c < nc; ++c) {
    if (chosen[c] >= 0) (*part)[chosen[c]] = to;
  }
  // Other events of a held-out (customer, product) pair would leak it: drop them.
  std::vector<std::pair<uint64_t, char>> keys;
  for (size_t c = 0; c < nc; ++c) {
    if (chosen[c] >= 0) keys.push_back({static_cast<uint64_t>(c) << 32 | log.events[chosen[c]].product, 0});
  }
  std::sort(keys.begin(), keys.end());
  for (size_t e = 0; e < log.events.size(); ++e) {
    if ((*part)[e] != from) continue;
    const uint64_t key = static_cast<uint64_t>(log.events[e].customer) << 32 | log.events[e].product;
    auto it = std::lower_bound(keys.begin(), keys.end(), std::make_pair(key, char(0)));
    if (it != keys.end() && it->first == key) (*part)[e] = SplitPart::kDropped;
  }
}

}  // namespace

absl::StatusOr<SplitMethod> ParseSplitMethod(absl::string_view name) {
  if (name == "time") return SplitMethod::kTime;
  if (name == "last_basket") return SplitMethod::kLastBasket;
  if (name == "leave_one_out") return SplitMethod::kLeaveOneOut;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown split method '", name, "' (expected time, last_basket or leave_one_out)"));
}

SplitResult SplitEvents(const EventLog& log, const SplitOptions& o) {
  SplitResult r;
  r.part.assign(log.events.size(), SplitPart::kTrain);
  if (o.method == SplitMethod::kTime) {
    r.test_cutoff = TimeSplit(log, o, o.cutoff, SplitPart::kTrain, SplitPart::kTest, &r.part);
    if (o.validation) {
      r.validation_cutoff = TimeSplit(log, o, 0, SplitPart::kTrain, SplitPart::kValidation, &r.part);
    }
  } else {
    PerCustomerSplit(log, o, SplitPart::kTrain, SplitPart::kTest, 1, &r.part);
    if (o.validation) PerCustomerSplit(log, o, SplitPart::kTrain, SplitPart::kValidation, 2, &r.part);
  }
  for (SplitPart p : r.part) ++r.counts[static_cast<int>(p)];
  return r;
}

EventLog SubsetLog(const EventLog& log, const std::vector<SplitPart>& part, SplitPart keep) {
  EventLog out;
  out.customers = log.customers;
  out.products = log.products;
  out.countries = log.countries;
  for (size_t e = 0; e < log.events.size(); ++e) {
    if (part[e] == keep) out.events.push_back(log.events[e]);
  }
  return out;
}

}  // namespace aisle
