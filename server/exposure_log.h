// ExposureLog: what was shown to whom, for experiment analysis and
// attribution (aisle-eval experiment): one JSON line per answer,
//   {"recommendation_id", "at_ms", "endpoint", "customer", "model_version",
//    "experiment", "variant", "items": [...]}
// in segments DIR/exposures-NNNNNN.jsonl (the event journal's machinery:
// closed at a size, daily, at shutdown; a torn end cut at start). Record()
// only appends to a buffer in memory; a background thread hands the
// buffer to the writer every `flush_interval`, which writes and syncs it in
// one go, so recording never waits for the disk: a crash loses at most the
// last interval's records, a clean shutdown (the destructor) none. Past
// `max_buffer_bytes` of unwritten records, new ones are dropped and counted.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/event_journal.h"
#include "events/exposure_record.h"

namespace aisle {

// One answer, as Record() takes it (views: read during the call only).
struct Exposure {
  absl::string_view recommendation_id;
  int64_t at_ms = 0;
  absl::string_view endpoint;       // customer_recommendations, basket_recommendations, similar_products, rank, customer_offers
  absl::string_view customer;       // empty for anonymous requests (basket, similar) without a visitor id
  absl::string_view model_version;
  absl::string_view experiment;     // empty: none
  absl::string_view variant;
  std::vector<absl::string_view> items;  // product or offer ids shown, in order
};

class ExposureLog {
 public:
  struct Options {
    std::string dir;
    std::chrono::milliseconds flush_interval{1000};
    uint64_t segment_bytes = 64 << 20;
    bool sync = true;
    size_t max_buffer_bytes = 64 << 20;
  };
  struct Stats {
    uint64_t recorded = 0;
    uint64_t dropped = 0;   // over max_buffer_bytes
    uint64_t written = 0;
    uint64_t failed = 0;    // lost to a failed write
  };
  static absl::StatusOr<std::unique_ptr<ExposureLog>> Open(const Options& options,
                                                           EventJournal::OpenStats* stats = nullptr);
  // Writes what is buffered and closes the segment.
  ~ExposureLog();

  void Record(const Exposure& e);
  // Returns once everything recorded so far is written (or failed).
  void Flush();
  // Writes what is buffered and closes the open segment, so that every
  // record so far is in a closed segment (for an erasure: aisle-train
  // compact-events --exposures_dir rewrites closed segments).
  absl::Status Rotate();
  Stats stats() const;

  static SegmentFormat Format() { return ExposureSegmentFormat(); }
  static std::string Line(const Exposure& e);  // with its line end

 private:
  ExposureLog() = default;
  void Run();
  void HandOver();  // the buffer to the journal

  // Records go to the calling thread's shard, so threads answering requests
  // never wait for each other (nor for one preempted while holding a lock).
  struct Shard {
    std::mutex mu;
    std::string buffer;
    size_t count = 0;  // records in buffer
    uint64_t recorded = 0, dropped = 0;
  };
  static constexpr size_t kShards = 8;

  Options options_;
  std::unique_ptr<EventJournal> journal_;
  mutable std::array<Shard, kShards> shards_;
  mutable std::mutex mu_;  // stop_, written/failed
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t written_ = 0, failed_ = 0;
  std::thread flusher_;
};

}  // namespace aisle
