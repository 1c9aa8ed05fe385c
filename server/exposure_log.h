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
#include "events/event_journal.h"

namespace aisle {

struct Exposure {
  std::string recommendation_id;
  int64_t at_ms = 0;
  std::string endpoint;       // customer_recommendations, basket_recommendations, similar_products, rank, customer_offers
  std::string customer;       // empty for anonymous requests (basket, similar)
  std::string model_version;
  std::string experiment;     // empty: none
  std::string variant;
  std::vector<std::string> items;  // product or offer ids shown, in order
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
  Stats stats() const;

  static SegmentFormat Format();  // exposures-NNNNNN.jsonl, lines checked to be JSON objects
  static std::string Line(const Exposure& e);  // with its line end

 private:
  ExposureLog() = default;
  void Run();
  void HandOver();  // the buffer to the journal

  Options options_;
  std::unique_ptr<EventJournal> journal_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  size_t buffered_ = 0;  // records in buffer_
  std::atomic<size_t> last_bytes_{0};  // the last interval's bytes
  bool stop_ = false;
  Stats stats_;
  std::thread flusher_;
};

}  // namespace aisle
