// RedisLiveStore: the live store several servers share (docs/OPERATIONS.md),
// kept in Redis under a key prefix (default "aisle:"):
//   PREFIX log      a Stream, every change in one order: a request's stored
//                   events (fields "e": journal lines, events/live_event.h),
//                   a consent choice ("c", "p", "t") or an erasure ("x",
//                   "t"), each with the writing server's id ("s");
//   PREFIX id:H     the event ids seen within the window (SET NX PX; H an
//                   HMAC of customer and id: no customer id in a key name);
//   PREFIX consent  customer -> "P T" (personalization 0/1, Unix ms);
//   PREFIX erased   pseudonym -> Unix ms (events/customer_ledger.h);
//   PREFIX key      the pseudonym key (hex), made by the first server;
//   PREFIX imp:C    customer C's offer impressions: offer -> count (stream
//                   entries "i" with the offers, "o").
// Appends from all request threads are group-committed by one writer thread:
// one Lua script per batch checks and records the ids and adds the stored
// events as one stream entry, atomically; the batch is answered once Redis
// has it (and, with wait_replicas, that many replicas: WAIT). A position is
// a stream id (milliseconds << 22 | sequence).
// A follower thread reads the stream (XREAD BLOCK) and applies what other
// servers wrote: consent and erasures to this store's copy in memory (so
// Consent/ErasedAt never wait on Redis), events and erasures to the Follow
// callbacks. While Redis is unreachable, writes fail Unavailable, reads
// answer from memory, and stale() says so; both threads reconnect.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "live/live_store.h"
#include "live/redis_client.h"

namespace aisle {

class RedisLiveStore : public LiveStore {
 public:
  struct Options {
    RedisAddress address;
    std::string prefix = "aisle:";
    int64_t event_id_window_ms = int64_t{7} * 86400 * 1000;
    int wait_replicas = 0;                         // replicas that must have a write before it is answered
    absl::Duration timeout = absl::Seconds(2);     // per command
    bool allow_unsafe_config = false;              // start even when Redis may lose acknowledged writes
    size_t max_batch_events = 4096;                // events per script at most
  };
  // Options for the store at `url` (RedisAddress::Parse), with the password
  // read from `password_file` when one is named: how every program is told
  // where the store is.
  static absl::StatusOr<Options> Configure(absl::string_view url, const std::string& password_file,
                                           const std::string& prefix);
  struct OpenStats {
    uint64_t consent_records = 0;
    uint64_t erasures = 0;
    uint64_t log_entries_read = 0;
  };
  // Connects, checks Redis's durability settings (FailedPrecondition when
  // they could lose acknowledged writes, unless allowed), reads consent and
  // erasures into memory, gives every event after `live_after` to
  // `on_live`, and starts following the stream from there.
  static absl::StatusOr<std::unique_ptr<RedisLiveStore>> Open(Options options, Position live_after,
                                                              const EventFn& on_live, OpenStats* stats = nullptr);
  ~RedisLiveStore() override;

  void Append(std::vector<LiveEvent> events, AppendDone done) override;
  absl::Status ReadEvents(Position after, const EventFn& fn, uint64_t* damaged = nullptr) const override;
  std::optional<ConsentRecord> Consent(absl::string_view customer) const override;
  absl::Status SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) override;
  absl::StatusOr<Erasure> Erase(absl::string_view customer, int64_t at_ms) override;
  std::optional<int64_t> ErasedAt(absl::string_view customer) const override;
  CustomerLedger::State Snapshot() const override;
  size_t erasures() const override;
  void Flush() override;
  std::string RenderMetrics() const override;
  void Follow(Changes changes) override;
  bool stale() const override { return stale_.load(std::memory_order_relaxed); }

  // The last stream position the archive's segment `segment` holds (0:
  // none of this Redis's archive; live/live_archive.h).
  static absl::StatusOr<Position> ArchivedThrough(const Options& options, uint64_t segment);
  Position PositionOfSegment(uint64_t segment) const override;

  // Offer impressions (live/redis_impressions.h): counted in Redis, read
  // from memory (every server's records arrive through the stream).
  absl::Status RecordImpressions(absl::string_view customer, absl::Span<const std::string> offers);
  absl::flat_hash_map<std::string, uint32_t> Impressions(absl::string_view customer) const;
  // Removes the customer's counts; returns the impressions removed.
  absl::StatusOr<uint64_t> EraseImpressions(absl::string_view customer);

  // Positions as stream ids and back.
  static Position PositionOf(absl::string_view stream_id);
  static std::string StreamId(Position p);
  // Returns once the follower has read every entry written before the call
  // (tests: what another server did is here now).
  absl::Status CatchUp();

 private:
  explicit RedisLiveStore(Options options);
  struct Pending {
    std::vector<LiveEvent> events;
    AppendDone done;
  };
  void WriterLoop();
  void WriteBatch(std::deque<Pending>& batch);
  void FollowerLoop();
  // Applies one stream entry (fields as read) to memory; `own`: written here.
  void Apply(const RedisReply& fields, Position at, bool own);
  // Merges the consent and erasure hashes (HGETALL replies) into memory,
  // a record newer than the one held winning; `fresh` (optional) receives
  // the erasures that were new here, by pseudonym. Requires state_mu_.
  void MergeLedgerLocked(const RedisReply& consent, const RedisReply& erased,
                         absl::flat_hash_map<std::string, int64_t>* fresh);
  // What memory holds of a customer erased at `at_ms`, by id: their
  // impressions and older consent go, the id is remembered. Requires state_mu_.
  void ForgetLocked(const std::string& customer, int64_t at_ms);
  // After entries were archived before the follower read them: consent and
  // erasures as Redis holds them now (their hashes outlive the stream).
  void ResyncLedger();
  // The events of one stream entry not erased since, to `fn`; `damaged`
  // (optional) counts lines that fail their checks.
  void ForEachEvent(const RedisReply& fields, Position at, const EventFn& fn, uint64_t* damaged) const;
  static absl::StatusOr<Position> ArchivedThrough(RedisClient& client, const std::string& prefix, uint64_t segment);
  // Reads the stream after `after` through `fn(fields, position)`.
  absl::Status Scan(RedisClient& client, Position after, const std::function<void(const RedisReply&, Position)>& fn) const;
  absl::StatusOr<RedisReply> Transact(std::vector<std::vector<std::string>> commands, absl::string_view what);
  std::string IdKey(absl::string_view customer, absl::string_view event_id) const;
  void RecordErasure(absl::string_view customer, int64_t at_ms);

  const Options options_;
  std::string server_id_;  // random, tells this server's entries from others'
  std::string key_;        // pseudonym key (hex)

  // Commands from request threads (consent, erasure, ReadEvents).
  mutable std::mutex client_mu_;
  mutable std::unique_ptr<RedisClient> client_;

  // The writer: appends waiting for the next batch.
  std::mutex write_mu_;
  std::condition_variable write_cv_, flushed_cv_;
  std::deque<Pending> pending_;
  uint64_t queued_ = 0, answered_ = 0;
  bool stop_ = false;
  std::unique_ptr<RedisClient> writer_client_;
  RedisClient::Script append_script_;
  std::thread writer_;

  // Memory: consent and erasures as Redis has them.
  mutable std::mutex state_mu_;
  absl::flat_hash_map<std::string, ConsentRecord> consent_;
  absl::flat_hash_map<std::string, int64_t> erased_;      // pseudonym -> Unix ms
  absl::flat_hash_map<std::string, int64_t> erased_ids_;  // customer ids erased while running
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint32_t>> impressions_;

  // The follower.
  std::unique_ptr<RedisClient> follower_client_;
  std::thread follower_;
  std::atomic<bool> following_stop_{false};
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;
  Changes changes_;
  Position followed_ = 0;  // the last entry read
  std::atomic<bool> stale_{false};

  // Metrics.
  mutable std::mutex metrics_mu_;
  uint64_t batches_ = 0, write_errors_ = 0, remote_events_ = 0, remote_consent_ = 0, remote_erasures_ = 0,
           remote_impressions_ = 0, reconnects_ = 0, gaps_ = 0;
};

}  // namespace aisle
