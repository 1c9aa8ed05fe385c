// EventJournal: the durable log of accepted storefront events, in a
// directory of numbered segments that `aisle-train --events_dir` reads:
//
//   DIR/events-000007.csv        closed segments: complete, never appended to
//   DIR/events-000008.csv.open   the segment being written (at most one)
//   DIR/.lock                    flock(2) held by the one server writing here
//
// Each segment starts with JournalHeader() and holds one event per line
// (events/live_event.h). Append() hands lines to a writer thread, which
// writes everything queued in one write(2) and one fdatasync(2) (group
// commit: concurrent requests share a sync) before it reports success, so
// an event is on disk before the storefront hears "accepted". A failed
// write is cut back off the file and reported to every caller in it.
// The open segment is closed (renamed to .csv) when it passes a size,
// when the UTC day changes, on Rotate(), and at a clean shutdown. Opening a
// directory recovers it: in a leftover .open segment (a crash), the first
// line that is incomplete or fails its checksum and everything after it
// were never acknowledged and are cut off; the segment is then closed.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/live_event.h"

namespace aisle {

// How a directory's segments are named and checked: the event journal's by
// default; the server's exposure log (server/exposure_log.h) uses the same
// machinery with JSON lines.
struct SegmentFormat {
  std::string prefix = "events-";  // files are <prefix>NNNNNN<suffix>[.open]
  std::string suffix = ".csv";
  std::string header;              // the first line of every segment (with its line end), or empty
  // Whether a complete line (without its line end) is intact; recovery cuts
  // a leftover open segment at the first line that is not.
  std::function<bool(absl::string_view line)> intact;
  static SegmentFormat Events();   // JournalHeader(), lines checked by their CRC
  // DIR/<prefix>NNNNNN<suffix>: closed segment `n` of `dir`.
  std::string ClosedPath(const std::string& dir, uint64_t n) const;
};

class EventJournal {
 public:
  struct Options {
    uint64_t segment_bytes = 64 << 20;  // close the open segment past this size
    bool rotate_daily = true;           // close it when the UTC day changes
    bool sync = true;                   // fdatasync before reporting success
    SegmentFormat format = SegmentFormat::Events();
    // Fault injection for tests: runs on the writer thread before each batch
    // is written (it may block, holding the batch); an error fails the
    // batch as a failed write would.
    std::function<absl::Status()> before_write;
  };
  struct OpenStats {
    uint64_t closed_segments = 0;  // closed segments found
    uint64_t recovered_lines = 0;  // complete lines kept from a leftover open segment
    uint64_t torn_bytes = 0;       // cut off its end
  };
  struct Stats {
    uint64_t appends = 0;        // Append calls written
    uint64_t lines = 0;
    uint64_t bytes = 0;
    uint64_t syncs = 0;          // fdatasyncs (appends / syncs = the group-commit factor)
    uint64_t failures = 0;       // appends refused by a failed write or sync
    uint64_t segment = 0;        // number of the open (or next) segment
    uint64_t rotations = 0;
  };
  // Called on the writer thread once the lines are durable (or failed), with
  // the number of the segment holding them.
  using Done = std::function<void(absl::Status status, uint64_t segment)>;

  // Opens DIR (creating it), takes its lock (FailedPrecondition when another
  // process holds it) and recovers a leftover open segment.
  static absl::StatusOr<std::unique_ptr<EventJournal>> Open(const std::string& dir, Options options,
                                                            OpenStats* stats = nullptr);
  // Writes what is queued, closes the open segment and releases the lock.
  ~EventJournal();

  // Queues complete journal lines (AppendJournalLine) for writing.
  void Append(std::string lines, size_t count, Done done);
  // Closes the open segment now (after what is queued); the next append
  // opens a new one. Returns once done.
  absl::Status Rotate();
  // Returns once everything queued before the call is written (or failed)
  // and its callbacks have run.
  void Flush();
  Stats stats() const;
  const std::string& dir() const { return dir_; }

  // Segment files (closed ones, and with `include_open` the open one), by number.
  struct Segment {
    uint64_t number;
    std::string path;
    bool open;
  };
  static absl::StatusOr<std::vector<Segment>> ListSegments(const std::string& dir, bool include_open,
                                                           const SegmentFormat& format = SegmentFormat::Events());
  // Calls `fn` for each complete, intact line of `path` in order (a segment
  // being written is read up to its last complete line). Returns the number
  // of lines skipped as damaged (DataLoss) in `*damaged` when not null.
  static absl::Status ReadSegment(const std::string& path,
                                  const std::function<void(LiveEvent&&)>& fn, uint64_t* damaged = nullptr);

 private:
  struct Pending {
    std::string lines;
    size_t count;
    Done done;
  };
  EventJournal() = default;
  void Run();
  absl::Status OpenSegment();
  absl::Status CloseSegment();
  absl::Status WriteBatch(const std::string& bytes);

  std::string dir_;
  Options options_;
  int lock_fd_ = -1;
  int fd_ = -1;                 // the open segment, or -1
  std::string open_path_;
  uint64_t size_ = 0;           // bytes of the open segment
  int64_t open_day_ = 0;        // UTC day the open segment was created
  uint64_t next_segment_ = 1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable rotated_cv_;
  std::deque<Pending> queue_;
  bool stop_ = false;
  uint64_t rotate_requests_ = 0, rotations_done_ = 0;
  absl::Status rotate_status_;
  Stats stats_;
  std::thread writer_;
};

}  // namespace aisle
