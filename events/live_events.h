// LiveEvents: each customer's events since the served model was trained,
// in memory, so that the next answer reflects them (engine LiveProfile).
// Events are kept with the journal segment that holds them; those the
// model already saw (segment <= its events_through_segment, or without
// one, received before its data cut-off) are skipped when resolving and
// dropped by DropSeenBy(). Memory is bounded: past `max_bytes`, the
// customers least recently active are evicted (their events stay in the
// journal for the next training; only the live effect is lost), counted.
// The bytes counted are those allocated: the hash table's slots, each
// customer's vector of entries (its capacity) and the strings' heap blocks,
// as glibc's malloc sizes them (what aisle_live_bytes reports).
// Thread-safe (one mutex; lookups are a hash probe when nobody is live).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/model.h"
#include "engine/recommender.h"
#include "events/live_event.h"

namespace aisle {

// Resolves events against a model: their products (those it knows), net
// weights as the model's trainer weighs events, and net purchases. The
// events' order does not matter.
class LiveProfileBuilder {
 public:
  explicit LiveProfileBuilder(const Model& model) : model_(model) {}
  // False (and nothing added) for a product the model does not know.
  bool Add(absl::string_view product_id, EventType type, float quantity);
  size_t events() const { return events_; }
  // The profile (null when no event was added).
  std::shared_ptr<LiveProfile> Finish();

 private:
  struct Item {
    uint32_t product;
    float weight;
    float bought;  // net purchased quantity
  };
  const Model& model_;
  std::vector<Item> items_;
  size_t events_ = 0;
};

class LiveEvents {
 public:
  struct Options {
    size_t max_bytes = 256 << 20;
  };
  struct Stats {
    uint64_t customers = 0;
    uint64_t events = 0;
    uint64_t bytes = 0;
    uint64_t evicted_customers = 0;  // since start
  };
  explicit LiveEvents(Options options) : options_(options) {}
  LiveEvents() : LiveEvents(Options()) {}

  // What a model's data holds: the events at store positions through
  // `through` (its journal segment; a shared store maps that segment to its
  // own position), or, when that is 0, those received by `last_event_unix`.
  struct Horizon {
    uint64_t through = 0;
    int64_t last_event_unix = 0;
  };
  static Horizon HorizonOf(const Model& model) { return {model.events_through_segment, model.last_event_unix}; }

  // Adds an event held by journal segment `segment`; `arrival` is when its
  // request came in (for the time to the first answer that uses it).
  void Add(const LiveEvent& e, uint64_t segment, std::chrono::steady_clock::time_point arrival);
  // Drops the events `model` already holds.
  void DropSeenBy(const Model& model) { DropSeenBy(HorizonOf(model)); }
  void DropSeenBy(const Horizon& horizon);
  // Forgets everything (before a rebuild from the journal).
  void Clear();
  // Forgets a customer; returns the events dropped.
  size_t Erase(absl::string_view customer);
  // The ids of the customers with events held.
  std::vector<std::string> CustomerIds() const;

  // The customer's events `model` has not seen, resolved against it (null
  // when there are none). `*waited` receives, the first time a new event is
  // used, the time since its request arrived (else it is left alone).
  std::shared_ptr<const LiveProfile> Profile(absl::string_view customer, const Model& model,
                                             std::optional<double>* waited = nullptr) {
    return Profile(customer, model, HorizonOf(model), waited);
  }
  // The same, with the events `horizon` says the model holds left out.
  std::shared_ptr<const LiveProfile> Profile(absl::string_view customer, const Model& model, const Horizon& horizon,
                                             std::optional<double>* waited = nullptr);
  // The customer's events as accepted (for the data-access endpoint).
  std::vector<LiveEvent> Events(absl::string_view customer) const;
  Stats stats() const;

  // Whether `model` has seen an event of `segment` received at `received_ms`.
  static bool SeenBy(const Model& model, uint64_t segment, int64_t received_ms) {
    return SeenBy(HorizonOf(model), segment, received_ms);
  }
  static bool SeenBy(const Horizon& horizon, uint64_t segment, int64_t received_ms);
  // The weight `model`'s trainer gives an event (metadata "weighting").
  static float Weight(const EventWeighting& w, EventType type, float quantity);

 private:
  struct Entry {
    LiveEvent event;
    uint64_t segment;
  };
  struct Customer {
    std::vector<Entry> entries;
    int64_t last_ms = 0;
    size_t bytes = 0;
    std::optional<std::chrono::steady_clock::time_point> unused_since;  // oldest event no answer used yet
  };
  // Heap bytes of an entry's strings, of a customer's vector of entries.
  static size_t EntryBytes(const LiveEvent& e);
  static size_t VectorBytes(const Customer& c);
  // Brings the hash table's share of bytes_ up to date with its capacity
  // (freeing the table when no customer is left).
  void UpdateTableLocked();
  void EvictLocked();

  const Options options_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Customer> customers_;
  std::atomic<size_t> count_{0};  // customers_.size(), read without the lock
  size_t bytes_ = 0, events_ = 0;  // bytes_: customers' bytes plus table_bytes_
  size_t table_bytes_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace aisle
