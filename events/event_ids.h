// EventIds: the event ids the live loop remembers so that a client's retry
// is stored once (docs/API.md, "Live loop"). An id belongs to its customer:
// ids are keyed by (customer id, event id), so two customers may use the
// same event id and both events are stored.
//
// An id is in one of three states:
//  - unknown: a request holding it stores the event and claims the id;
//  - in flight: claimed by a request whose write is not yet durable;
//  - remembered: durable (or read back from the journal at start).
// A request holding an in-flight id of another request does not answer
// "duplicate" before the original is on disk: Claim() refuses it and runs
// its `retry` once the original has settled (durable: the id is then
// remembered, so the retry is a duplicate; failed: the id is unknown again,
// so the retry stores the event itself). No request is ever told its event
// is stored when it is not.
//
// Memory: an id is kept as a 128-bit keyed digest of (customer, event id)
// (the process's own random key: ids cannot be chosen to collide), its time
// in a hash table and in an age queue, about 60 bytes whatever the ids'
// lengths (bytes() counts what is allocated). At most `max_ids` are
// remembered (the oldest forgotten first) and none older than `window_ms`.
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace aisle {

class EventIds {
 public:
  struct Options {
    int64_t window_ms = int64_t{7} * 86400 * 1000;  // remembered at most this long
    size_t max_ids = 2'000'000;                     // at most this many remembered
  };
  using Key = absl::uint128;

  explicit EventIds(Options options);
  EventIds(const EventIds&) = delete;
  EventIds& operator=(const EventIds&) = delete;

  // The digest of (customer, event id): equal for equal pairs in this process only.
  Key KeyOf(absl::string_view customer, absl::string_view event_id) const;

  // The ids one request claimed (Settle() it exactly once).
  class Claim;
  // One request's events with ids: `keys[i]` received at `received_ms[i]`.
  // When none is in flight for another request, claims the unknown ones
  // (one claim per key: a key twice in the request is a duplicate the
  // second time), sets duplicate[i] for the rest and returns the claim.
  // When some is in flight for another request, claims nothing, keeps
  // `retry` to run (on the thread that settles that request, with no lock
  // held) once it has settled, and returns null.
  std::shared_ptr<Claim> TryClaim(absl::Span<const Key> keys, absl::Span<const int64_t> received_ms,
                                  std::vector<bool>* duplicate, std::function<void()> retry);
  // The claimed events are durable (the ids are remembered) or failed (the
  // ids are unknown again). Runs the retries waiting on the claim.
  void Settle(const std::shared_ptr<Claim>& claim, bool durable);

  // Remembers an id read back from the journal (at start): no expiry or
  // bound is applied until Finish().
  void Remember(Key key, int64_t received_ms);
  // After the Remember() calls: orders ids by age and applies the bounds.
  void Finish(int64_t now_ms);

  size_t size() const;          // remembered
  size_t in_flight() const;
  size_t bytes() const;         // allocated for them

 private:
  void ExpireLocked(int64_t now_ms, size_t room);
  void InsertLocked(Key key, int64_t received_ms, int64_t now_ms);

  const Options options_;
  Key salt_;
  mutable std::mutex mu_;
  absl::flat_hash_map<Key, int64_t> ids_;          // remembered: when received
  std::deque<std::pair<int64_t, Key>> order_;      // remembered, oldest first
  absl::flat_hash_map<Key, std::shared_ptr<Claim>> in_flight_;
};

class EventIds::Claim {
 public:
  absl::Span<const Key> keys() const { return keys_; }

 private:
  friend class EventIds;
  std::vector<Key> keys_;
  std::vector<int64_t> received_ms_;
  std::vector<std::function<void()>> waiting_;  // retries of other requests
  bool settled_ = false;
};

}  // namespace aisle
