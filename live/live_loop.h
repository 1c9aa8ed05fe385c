// LiveLoop: the server's side of the live loop (docs/API.md, "Live loop"):
// events accepted into the durable journal and applied to each customer's
// live state before they are acknowledged, consent, erasure, and what the
// personalizing endpoints ask per request: may this customer be
// personalized, and what did they do since the model was trained (a
// LiveProfile, with the model's row withheld when they were erased after
// it was trained).
// Owns the live store (live/live_store.h: events stored once per event id,
// consent, erasures; FileLiveStore in `dir`: the event journal and the
// customer ledger, or RedisLiveStore shared with other servers, whose
// events and erasures it applies as they arrive) and the customers' live
// events in memory (events/live_events.h). A new model is announced
// with ModelLoading() (before it serves) and ModelServing() (after):
// events it holds are dropped from memory, and after a roll-back to an
// older model the live state is rebuilt from the journal.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/recommender.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "events/live_events.h"
#include "live/live_store.h"
#include "live/redis_live_store.h"

namespace aisle {

class ImpressionCounts;

struct LiveLoopOptions {
  std::string dir;                        // the event journal and consent ledger (the file store)
  // Set: the live store several servers share in Redis instead of `dir`
  // (its event id window is event_id_window_ms).
  std::optional<RedisLiveStore::Options> redis;
  EventJournal::Options journal;
  LiveEvents::Options live;
  bool default_consent = true;            // for customers who never said
  int64_t event_id_window_ms = int64_t{7} * 86400 * 1000;  // retries recognized within it
  size_t max_event_ids = 2'000'000;       // at most this many remembered (oldest forgotten first)
};

class LiveLoop {
 public:
  struct OpenStats {
    EventJournal::OpenStats journal;
    uint64_t replayed = 0;        // events read back into live state
    uint64_t damaged_lines = 0;   // lines of closed segments that failed their checksum
  };
  // Opens the journal and ledger and replays what `model` has not seen.
  static absl::StatusOr<std::unique_ptr<LiveLoop>> Open(LiveLoopOptions options, const Model* model,
                                                        OpenStats* stats = nullptr);
  ~LiveLoop();

  // Consent to personalization: the customer's choice, or the default.
  bool Personalize(absl::string_view customer) const;
  std::optional<ConsentRecord> ConsentOf(absl::string_view customer) const;

  // What the customer did that `model` has not seen (null: nothing, and not
  // erased since). Records the time from an event to its first use.
  std::shared_ptr<const LiveProfile> Profile(const Model& model, absl::string_view customer);

  // Whether `model`'s row for the customer must not be used: they were
  // erased after its data (whatever their consent says now, after a
  // restart too).
  bool ModelRowWithheld(const Model& model, absl::string_view customer) { return Forget(model, customer); }

  struct Accepted {
    size_t stored = 0;
    size_t duplicates = 0;   // (customer, event id) pairs stored before (or twice in the request)
    size_t no_consent = 0;   // customers without consent: not stored
  };
  // Stores valid events (received_ms set by the caller): once durable and
  // applied to live state, `done` runs (on the journal's thread) with the
  // counts, or with the write error (nothing of the request kept). An
  // event whose (customer, event id) another request is still writing
  // waits for that request's outcome (events/event_ids.h): it is counted a
  // duplicate only once the original is durable.
  void Accept(std::vector<LiveEvent> events, std::chrono::steady_clock::time_point arrival,
              std::function<void(absl::StatusOr<Accepted>)> done);

  absl::Status SetConsent(absl::string_view customer, bool personalization);

  struct Receipt {
    int64_t erased_at_ms = 0;
    uint64_t live_events = 0;       // dropped from memory
    uint64_t impressions = 0;       // impression records removed
    bool consent_record = false;    // a consent record was removed
    bool model_row = false;         // the serving model held a row for them (no longer used)
    bool journal_rotated = false;   // their journal events are in closed segments, for compaction
  };
  absl::StatusOr<Receipt> Erase(absl::string_view customer, const Model* serving, ImpressionCounts* impressions);

  // The customer's live events (for the data-access endpoint).
  std::vector<LiveEvent> Events(absl::string_view customer) const { return live_.Events(customer); }

  // Returns once the events accepted so far are written and answered.
  void Flush() { store_->Flush(); }
  // Whether live state may be behind what other servers wrote (the shared
  // store is unreachable): answers say so.
  bool stale() const { return store_->stale(); }
  LiveStore& store() { return *store_; }

  // Model hooks (ModelSource): before `model` serves, and once it does.
  void ModelLoading(const Model& model);
  void ModelServing(const Model& model);

  // Prometheus text for /metrics.
  std::string RenderMetrics() const;

  // Counts an event request refused for `reason` (an identifier of
  // [a-z0-9_]; anything else is counted as "other").
  void RecordRefused(const std::string& reason);

 private:
  explicit LiveLoop(const LiveLoopOptions& options) : options_(options), live_(options.live) {}
  // The store's events `model` has not seen, into live state.
  absl::Status Replay(const Model* model);
  // Adds a stored event (at store position `at`) unless `model` saw it or
  // the customer was erased since; true when added.
  bool AddUnseen(const Model* model, const LiveEvent& e, LiveStore::Position at,
                 std::chrono::steady_clock::time_point arrival);
  bool Forget(const Model& model, absl::string_view customer);
  // Whether the customer was erased (while running) at or after `received_ms`.
  bool ErasedSince(absl::string_view customer, int64_t received_ms) const;
  // What `model`'s data holds, in the store's positions (cached per model).
  LiveEvents::Horizon HorizonFor(const Model& model);
  // Marks the customer erased at `at_ms` in memory and drops their live events.
  uint64_t EraseInMemory(absl::string_view customer, int64_t at_ms);
  // Erasures the store knows by pseudonym only: the customers held in memory
  // whose pseudonym is among them are erased here, and the model rows to
  // forget are found again.
  void EraseByPseudonym(const absl::flat_hash_map<std::string, int64_t>& at_ms_by_pseudonym, const std::string& key);
  // Pseudonyms of customers erased after `model` was trained, as its rows.
  std::shared_ptr<const absl::flat_hash_set<uint32_t>> ErasedRows(const Model& model);

  LiveLoopOptions options_;
  std::unique_ptr<LiveStore> store_;
  LiveEvents live_;

  // Erasures: ids erased while running (memory only), and per model the
  // rows of customers erased after its data (from the ledger's pseudonyms).
  mutable std::mutex erased_mu_;
  absl::flat_hash_map<std::string, int64_t> erased_ids_;
  // Keyed by Model::instance, never by address: a freed model's successor
  // may be allocated where it was.
  std::map<uint64_t, std::shared_ptr<const absl::flat_hash_set<uint32_t>>> erased_rows_;
  std::deque<uint64_t> erased_rows_order_;
  std::mutex horizon_mu_;
  std::map<uint64_t, LiveEvents::Horizon> horizons_;  // by Model::instance, instances increase
  std::atomic<bool> any_erased_{false};
  // The model live state was last pruned for (to notice a roll-back).
  uint64_t horizon_segment_ = 0;
  int64_t horizon_unix_ = INT64_MIN;
  std::mutex model_mu_;

  // Metrics.
  mutable std::mutex metrics_mu_;
  std::map<std::string, uint64_t> refused_;
  uint64_t accepted_ = 0, duplicates_ = 0, no_consent_ = 0, write_failures_ = 0;
  uint64_t consent_granted_ = 0, consent_denied_ = 0, erasures_ = 0, fold_ins_ = 0, rebuilds_ = 0;
  uint64_t followed_erasures_ = 0;  // erasures through other servers
  static constexpr double kWaitBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};
  uint64_t wait_buckets_[std::size(kWaitBuckets)] = {};
  uint64_t wait_count_ = 0;
  double wait_sum_ = 0;
};

}  // namespace aisle
