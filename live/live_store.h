// LiveStore: the live loop's durable state (docs/API.md, "Live loop"): the
// storefront's events, each (customer, event id) stored once, consent
// records and erasures. The live loop (live/live_loop.h) keeps one
// server's memory of it (live events, fast erasure checks) and reaches it
// only through this interface, so where it is kept is the back end's
// business: FileLiveStore (one server's directory: the event journal and
// the customer ledger) is the embedded default; RedisLiveStore is shared by
// several servers (live/redis_live_store.h), each told what the others
// write through Follow(). Every back end passes the conformance suite in
// tests/live/live_store_test.cc.
// Implementations are thread-safe; destroying one waits for the appends it
// is answering (their `done` may still be running when their caller wakes).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/customer_ledger.h"
#include "events/live_event.h"

namespace aisle {

class LiveStore {
 public:
  virtual ~LiveStore() = default;

  // Where an event is in the store, in store order (FileLiveStore: the
  // number of its journal segment). A model's data watermark is one: the
  // events after it are what the model has not seen.
  using Position = uint64_t;
  using EventFn = std::function<void(LiveEvent&& event, Position at)>;

  struct Appended {
    std::vector<LiveEvent> events;  // the request's events, handed back
    std::vector<bool> stored;       // per event: stored now (false: its id was stored before, or earlier in the request)
    Position at = 0;                // where the stored ones are
    size_t count() const;           // stored now
  };
  using AppendDone = std::function<void(absl::StatusOr<Appended>)>;
  // Stores `events`, each (customer, non-empty event id) once. `done` runs
  // once the stored ones are durable, or with the write's error (none of
  // them kept, their ids unknown again). A request holding an id another
  // request is still writing waits for that one's outcome: never told
  // "duplicate" before the original is durable, and after a failed
  // original it stores the event itself. `done` of the original runs
  // before a waiting retry is answered, so what it applies to memory is
  // there when the retry's answer goes.
  virtual void Append(std::vector<LiveEvent> events, AppendDone done) = 0;

  // The events stored after position `after` (0: every one kept), oldest
  // first, without those of customers erased at or after they arrived.
  // `damaged` (optional) counts records that failed their checks (skipped).
  virtual absl::Status ReadEvents(Position after, const EventFn& fn, uint64_t* damaged = nullptr) const = 0;

  virtual std::optional<ConsentRecord> Consent(absl::string_view customer) const = 0;
  virtual absl::Status SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) = 0;

  struct Erasure {
    bool consent_record = false;  // a consent record was removed
    bool events_sealed = false;   // their stored events are where the back end's compaction removes them
  };
  // Records that the customer was erased at `at_ms`: their consent record
  // goes, their events are no longer read back, and the back end's copies
  // are left for its compaction (FileLiveStore: closed journal segments,
  // rewritten by the nightly job).
  virtual absl::StatusOr<Erasure> Erase(absl::string_view customer, int64_t at_ms) = 0;
  virtual std::optional<int64_t> ErasedAt(absl::string_view customer) const = 0;
  // Consent and erasures as the ledger holds them (erasures by pseudonym),
  // for finding a model's erased rows.
  virtual CustomerLedger::State Snapshot() const = 0;
  virtual size_t erasures() const = 0;

  // The position of a model's data watermark, the journal segment its
  // trainer read last (Model::events_through_segment): the file store's
  // positions are its segments; a shared store maps the segments its
  // archive wrote to its own positions. 0: unknown (events are then told
  // apart by when they arrived).
  virtual Position PositionOfSegment(uint64_t segment) const { return segment; }

  // Returns once every Append so far has been answered.
  virtual void Flush() = 0;

  // What other servers sharing the store write, as it arrives: their
  // stored events (not yet erased) and their erasures. A store only this
  // process writes has nothing to tell.
  struct Changes {
    EventFn event;
    std::function<void(const std::string& customer, int64_t at_ms)> erased;
    // Erasures known only by pseudonym (CustomerLedger::Pseudonym under
    // `key`), with when each was made: those whose records a process cut off
    // from the store learns of after the records were archived.
    std::function<void(const absl::flat_hash_map<std::string, int64_t>& at_ms_by_pseudonym, const std::string& key)>
        erased_pseudonyms;
  };
  virtual void Follow(Changes changes) { (void)changes; }
  // Whether what this process holds of the shared state may be behind (the
  // store is unreachable).
  virtual bool stale() const { return false; }

  // Prometheus text of the store's own figures (writes, ids remembered).
  virtual std::string RenderMetrics() const = 0;
};

}  // namespace aisle
