#include "events/live_events.h"

#include "events/event_weight.h"

#include <algorithm>
#include <cmath>

namespace aisle {

namespace {

// What malloc takes for a block of n bytes (glibc: an 8-byte header,
// 16-byte granules, 32 bytes at least).
size_t HeapBytes(size_t n) { return n == 0 ? 0 : std::max<size_t>(32, (n + 8 + 15) / 16 * 16); }

// A string's heap block (none while it fits in the object: 15 bytes).
size_t StringHeap(const std::string& s) { return s.capacity() > 15 ? HeapBytes(s.capacity() + 1) : 0; }

}  // namespace

size_t LiveEvents::EntryBytes(const LiveEvent& e) {
  // The Entry itself lives in its customer's vector (counted with it).
  return StringHeap(e.customer_id) + StringHeap(e.product_id) + StringHeap(e.country) + StringHeap(e.event_id) +
         StringHeap(e.recommendation_id);
}

size_t LiveEvents::VectorBytes(const Customer& c) { return HeapBytes(c.entries.capacity() * sizeof(Entry)); }

void LiveEvents::UpdateTableLocked() {
  // An empty table is given back (erasing never shrinks it).
  if (customers_.empty() && customers_.capacity() > 0) customers_ = {};
  // One slot and one control byte per unit of capacity.
  const size_t table = customers_.capacity() * (sizeof(std::pair<const std::string, Customer>) + 1);
  bytes_ = bytes_ - table_bytes_ + table;
  table_bytes_ = table;
}

bool LiveEvents::SeenBy(const Horizon& horizon, uint64_t segment, int64_t received_ms) {
  if (horizon.through > 0) return segment <= horizon.through;
  return received_ms / 1000 <= horizon.last_event_unix;
}

float LiveEvents::Weight(const EventWeighting& w, EventType type, float quantity) {
  return static_cast<float>(EventWeight(w, type, quantity));
}

void LiveEvents::Add(const LiveEvent& e, uint64_t segment, std::chrono::steady_clock::time_point arrival) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = customers_.try_emplace(e.customer_id);
  Customer& c = it->second;
  const size_t before = c.bytes;
  if (inserted) c.bytes = StringHeap(it->first);  // the map's key
  c.bytes -= VectorBytes(c);
  c.entries.push_back({e, segment});
  std::string().swap(c.entries.back().event.customer_id);  // the map key holds it
  c.bytes += VectorBytes(c) + EntryBytes(c.entries.back().event);
  c.last_ms = std::max(c.last_ms, e.received_ms);
  if (!c.unused_since) c.unused_since = arrival;
  bytes_ += c.bytes - before;
  ++events_;
  if (inserted) UpdateTableLocked();
  count_.store(customers_.size(), std::memory_order_relaxed);
  if (bytes_ > options_.max_bytes) EvictLocked();
}

void LiveEvents::EvictLocked() {
  // The least recently active customers, down to 90% of the budget.
  std::vector<std::pair<int64_t, const std::string*>> order;
  order.reserve(customers_.size());
  for (const auto& [id, c] : customers_) order.push_back({c.last_ms, &id});
  std::sort(order.begin(), order.end());
  const size_t target = options_.max_bytes / 10 * 9;
  std::vector<std::string> victims;
  size_t bytes = bytes_;
  for (const auto& [ms, id] : order) {
    if (bytes <= target) break;
    bytes -= customers_.at(*id).bytes;
    victims.push_back(*id);
  }
  for (const std::string& id : victims) {
    auto it = customers_.find(id);
    bytes_ -= it->second.bytes;
    events_ -= it->second.entries.size();
    customers_.erase(it);
    ++evicted_;
  }
  UpdateTableLocked();
  count_.store(customers_.size(), std::memory_order_relaxed);
}

void LiveEvents::DropSeenBy(const Horizon& horizon) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = customers_.begin(); it != customers_.end();) {
    Customer& c = it->second;
    auto keep = std::remove_if(c.entries.begin(), c.entries.end(), [&](const Entry& e) {
      return SeenBy(horizon, e.segment, e.event.received_ms);
    });
    for (auto e = keep; e != c.entries.end(); ++e) {
      const size_t b = EntryBytes(e->event);
      c.bytes -= b;
      bytes_ -= b;
      --events_;
    }
    c.entries.erase(keep, c.entries.end());
    if (c.entries.empty()) {
      bytes_ -= c.bytes;
      customers_.erase(it++);
    } else {
      ++it;
    }
  }
  UpdateTableLocked();
  count_.store(customers_.size(), std::memory_order_relaxed);
}

void LiveEvents::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  customers_.clear();
  bytes_ = events_ = 0;
  table_bytes_ = 0;
  UpdateTableLocked();
  count_.store(0, std::memory_order_relaxed);
}

std::vector<std::string> LiveEvents::CustomerIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(customers_.size());
  for (const auto& [id, c] : customers_) out.push_back(id);
  return out;
}

size_t LiveEvents::Erase(absl::string_view customer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = customers_.find(customer);
  if (it == customers_.end()) return 0;
  const size_t n = it->second.entries.size();
  bytes_ -= it->second.bytes;
  events_ -= n;
  customers_.erase(it);
  UpdateTableLocked();
  count_.store(customers_.size(), std::memory_order_relaxed);
  return n;
}

bool LiveProfileBuilder::Add(absl::string_view product_id, EventType type, float quantity) {
  const std::optional<uint32_t> p = model_.products.Find(product_id);
  if (!p) return false;  // a product the model does not know: nothing to fold in
  ++events_;
  const float bought = type == EventType::kPurchase ? quantity : type == EventType::kReturn ? -quantity : 0.0f;
  items_.push_back({*p, LiveEvents::Weight(model_.weighting, type, quantity), bought});
  return true;
}

std::shared_ptr<LiveProfile> LiveProfileBuilder::Finish() {
  if (events_ == 0) return nullptr;
  std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.product < b.product; });
  auto profile = std::make_shared<LiveProfile>();
  profile->events = events_;
  for (size_t j = 0; j < items_.size();) {
    const uint32_t p = items_[j].product;
    float w = 0, bought = 0;
    for (; j < items_.size() && items_[j].product == p; ++j) {
      w += items_[j].weight;
      bought += items_[j].bought;
    }
    profile->products.push_back(p);
    profile->weights.push_back(w);
    if (bought > 0) profile->purchased.push_back(p);
  }
  return profile;
}

std::shared_ptr<const LiveProfile> LiveEvents::Profile(absl::string_view customer, const Model& model,
                                                       const Horizon& horizon, std::optional<double>* waited) {
  if (count_.load(std::memory_order_relaxed) == 0) return nullptr;
  LiveProfileBuilder builder(model);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = customers_.find(customer);
    if (it == customers_.end()) return nullptr;
    Customer& c = it->second;
    for (const Entry& e : c.entries) {
      if (SeenBy(horizon, e.segment, e.event.received_ms)) continue;
      builder.Add(e.event.product_id, e.event.type, e.event.quantity);
    }
    if (builder.events() > 0 && c.unused_since && waited != nullptr) {
      *waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - *c.unused_since).count();
      c.unused_since.reset();
    }
  }
  return builder.Finish();
}

std::vector<LiveEvent> LiveEvents::Events(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LiveEvent> out;
  auto it = customers_.find(customer);
  if (it == customers_.end()) return out;
  for (const Entry& e : it->second.entries) {
    out.push_back(e.event);
    out.back().customer_id = std::string(customer);
  }
  return out;
}

LiveEvents::Stats LiveEvents::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {customers_.size(), events_, bytes_, evicted_};
}

}  // namespace aisle
