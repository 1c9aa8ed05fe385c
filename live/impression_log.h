// ImpressionLog: how many times each offer was shown to each customer, for
// the per-customer impression caps, in one server's file (ImpressionCounts). Durable as an append-only file of JSON
// lines ({"ts": ..., "customer": ..., "offers": [...]}), replayed when
// opened, so counts survive a restart. A record is written (and by default
// fdatasync'ed) before it counts and before the caller is answered; a
// failed write is cut back off the file, so a crash or a full disk never
// leaves half a line in the middle. A torn last line (a crash during the
// write) is cut off when opening; any other malformed line refuses the
// file, naming its line. One process at a time: Open() takes flock(2) on
// <path>.lock (FailedPrecondition while another holds it). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "live/impression_counts.h"

namespace aisle {

class ImpressionLog : public ImpressionCounts {
 public:
  struct Options {
    bool sync = true;  // fdatasync each record before it counts
  };
  struct OpenStats {
    uint64_t records = 0;         // lines replayed
    uint64_t torn_bytes = 0;      // cut off the end (a write interrupted by a crash)
  };
  // Opens (creating if missing) and replays `path`.
  static absl::StatusOr<std::unique_ptr<ImpressionLog>> Open(const std::string& path, Options options,
                                                             OpenStats* stats = nullptr);
  static absl::StatusOr<std::unique_ptr<ImpressionLog>> Open(const std::string& path) {
    return Open(path, Options());
  }
  // Counts kept in memory only (no file).
  static std::unique_ptr<ImpressionLog> InMemory();
  ~ImpressionLog() override;

  // Records that `offers` were shown to `customer` at `at`. On error (a
  // failed write) nothing counts.
  absl::Status Record(absl::string_view customer, absl::Span<const std::string> offers, absl::Time at) override;
  // Impressions of `offer` shown to `customer` so far.
  uint32_t Count(absl::string_view customer, absl::string_view offer) const;
  // All of one customer's counts, by offer id (a copy).
  absl::flat_hash_map<std::string, uint32_t> CountsFor(absl::string_view customer) const override;
  uint64_t records() const;
  // Forgets a customer: their counts, and their records in the file (which
  // is rewritten without them: temp file, fsync, rename). Returns the
  // records removed.
  absl::StatusOr<uint64_t> Erase(absl::string_view customer) override;
  const std::string& path() const { return path_; }

 private:
  ImpressionLog() = default;
  void Apply(absl::string_view customer, absl::Span<const std::string> offers);

  std::string path_;
  int fd_ = -1;
  int lock_fd_ = -1;  // flock(2) on <path>.lock: one process per log
  Options options_;
  mutable std::mutex mu_;
  uint64_t size_ = 0;      // bytes of complete records in the file
  uint64_t records_ = 0;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint32_t>> counts_;
};

}  // namespace aisle
