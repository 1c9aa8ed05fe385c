#include "events/event_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/atomic_file.h"
#include "engine/posix_error.h"

namespace aisle {
namespace {

int64_t UtcDay() { return absl::ToUnixSeconds(absl::Now()) / 86400; }

std::string SegmentName(const SegmentFormat& f, uint64_t n) { return absl::StrFormat("%s%06d%s", f.prefix, n, f.suffix); }

}  // namespace

std::string SegmentFormat::ClosedPath(const std::string& dir, uint64_t n) const {
  return absl::StrCat(dir, "/", SegmentName(*this, n));
}

namespace {

// The number of a segment file name, and whether it is the open one.
bool ParseSegmentName(const SegmentFormat& f, absl::string_view name, uint64_t* n, bool* open) {
  if (!absl::ConsumePrefix(&name, f.prefix)) return false;
  *open = absl::ConsumeSuffix(&name, f.suffix + ".open");
  if (!*open && !absl::ConsumeSuffix(&name, f.suffix)) return false;
  return name.size() >= 6 && absl::SimpleAtoi(name, n) && *n > 0;
}

absl::Status WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return PosixError("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// Keeps the intact prefix of a leftover open segment: the header and every
// complete line up to the first torn or damaged one. Returns the bytes kept.
uint64_t IntactPrefix(const SegmentFormat& f, const std::string& data, uint64_t* lines) {
  const absl::string_view header = f.header;
  if (!absl::StartsWith(data, header)) return 0;
  size_t pos = header.size();
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;
    if (f.intact && !f.intact(absl::string_view(data).substr(pos, nl - pos))) break;
    pos = nl + 1;
    ++*lines;
  }
  return pos;
}

}  // namespace

SegmentFormat SegmentFormat::Events() {
  SegmentFormat f;
  f.header = std::string(JournalHeader());
  f.intact = [](absl::string_view line) { return ParseJournalLine(line).ok(); };
  return f;
}

absl::StatusOr<std::vector<EventJournal::Segment>> EventJournal::ListSegments(const std::string& dir,
                                                                            bool include_open,
                                                                            const SegmentFormat& format) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no event journal at ", dir));
    return PosixError(absl::StrCat("cannot read ", dir));
  }
  std::vector<Segment> out;
  while (dirent* e = ::readdir(d)) {
    uint64_t n = 0;
    bool open = false;
    if (!ParseSegmentName(format, e->d_name, &n, &open)) continue;
    if (open && !include_open) continue;
    out.push_back({n, absl::StrCat(dir, "/", e->d_name), open});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.number < b.number; });
  return out;
}

absl::Status EventJournal::ReadSegment(const std::string& path, const std::function<void(LiveEvent&&)>& fn,
                                       uint64_t* damaged) {
  std::string data;
  if (absl::Status s = ReadFileToString(path, &data); !s.ok()) return s;
  const absl::string_view header = JournalHeader();
  if (data.empty()) return absl::OkStatus();
  if (!absl::StartsWith(data, header)) {
    if (data.size() < header.size() && absl::StartsWith(header, data)) return absl::OkStatus();  // being created
    return absl::DataLossError(absl::StrCat(path, ": not an event journal segment (bad header)"));
  }
  size_t pos = header.size();
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // a line being written
    auto e = ParseJournalLine(absl::string_view(data).substr(pos, nl - pos));
    pos = nl + 1;
    if (!e.ok()) {
      if (damaged != nullptr) ++*damaged;
      continue;
    }
    fn(*std::move(e));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<EventJournal>> EventJournal::Open(const std::string& dir, Options options,
                                                                 OpenStats* stats) {
  OpenStats local;
  if (stats == nullptr) stats = &local;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError(absl::StrCat("cannot create ", dir));
  std::unique_ptr<EventJournal> j(new EventJournal());
  j->dir_ = dir;
  j->options_ = options;
  const std::string lock = dir + "/.lock";
  j->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (j->lock_fd_ < 0) return PosixError(absl::StrCat("cannot open ", lock));
  if (::flock(j->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the event journal ", dir, " is in use by another process (", lock, " is locked)"));
  }
  const SegmentFormat& format = options.format;
  auto segments = ListSegments(dir, /*include_open=*/true, format);
  if (!segments.ok()) return segments.status();
  for (const Segment& s : *segments) {
    j->next_segment_ = std::max(j->next_segment_, s.number + 1);
    if (!s.open) {
      ++stats->closed_segments;
      continue;
    }
    // A crash left it open: keep what was acknowledged, then close it.
    std::string data;
    if (absl::Status st = ReadFileToString(s.path, &data); !st.ok()) return st;
    uint64_t lines = 0;
    const uint64_t keep = IntactPrefix(format, data, &lines);
    stats->recovered_lines += lines;
    stats->torn_bytes += data.size() - keep;
    if (lines == 0) {
      if (::unlink(s.path.c_str()) != 0) return PosixError(absl::StrCat("cannot remove ", s.path));
      continue;
    }
    const int fd = ::open(s.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(absl::StrCat("cannot open ", s.path));
    const bool ok = ::ftruncate(fd, static_cast<off_t>(keep)) == 0 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return PosixError(absl::StrCat("cannot cut the torn end of ", s.path));
    const std::string closed = absl::StrCat(dir, "/", SegmentName(format, s.number));
    if (::rename(s.path.c_str(), closed.c_str()) != 0) return PosixError(absl::StrCat("cannot close ", s.path));
    ++stats->closed_segments;
  }
  if (absl::Status s = SyncParentDirectory(dir + "/x"); !s.ok()) return s;
  // Leftovers of an interrupted compaction (aisle-train compact-events).
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (absl::StartsWith(e->d_name, format.prefix) && absl::StrContains(e->d_name, ".tmp.")) {
        ::unlink(absl::StrCat(dir, "/", e->d_name).c_str());
      }
    }
    ::closedir(d);
  }
  j->stats_.segment = j->next_segment_;
  j->writer_ = std::thread([p = j.get()] { p->Run(); });
  return j;
}

EventJournal::~EventJournal() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) (void)CloseSegment();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void EventJournal::Append(std::string lines, size_t count, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(lines), count, std::move(done)});
  }
  cv_.notify_one();
}

absl::Status EventJournal::Rotate() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = ++rotate_requests_;
  cv_.notify_one();
  rotated_cv_.wait(lock, [&] { return rotations_done_ >= ticket || stop_; });
  return rotations_done_ >= ticket ? rotate_status_ : absl::CancelledError("the journal is closing");
}

void EventJournal::Flush() {
  std::promise<void> done;
  Append("", 0, [&](absl::Status, uint64_t) { done.set_value(); });
  done.get_future().wait();
}

EventJournal::Stats EventJournal::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

absl::Status EventJournal::OpenSegment() {
  const uint64_t n = next_segment_;
  const std::string path = absl::StrCat(dir_, "/", SegmentName(options_.format, n), ".open");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(absl::StrCat("cannot create ", path));
  const absl::string_view header = options_.format.header;
  absl::Status s = header.empty() ? absl::OkStatus() : WriteAll(fd, header.data(), header.size());
  if (s.ok() && ::fdatasync(fd) != 0) s = PosixError("fdatasync");
  if (s.ok()) s = SyncParentDirectory(path);
  if (!s.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  fd_ = fd;
  open_path_ = path;
  size_ = header.size();
  open_day_ = UtcDay();
  next_segment_ = n + 1;
  return absl::OkStatus();
}

absl::Status EventJournal::CloseSegment() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status s;
  if (::fdatasync(fd_) != 0) s = PosixError("fdatasync");
  ::close(fd_);
  fd_ = -1;
  const std::string closed = open_path_.substr(0, open_path_.size() - std::string(".open").size());
  if (s.ok() && ::rename(open_path_.c_str(), closed.c_str()) != 0) s = PosixError(absl::StrCat("cannot close ", open_path_));
  if (s.ok()) s = SyncParentDirectory(closed);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.rotations;
  stats_.segment = next_segment_;
  return s;
}

absl::Status EventJournal::WriteBatch(const std::string& bytes) {
  if (fd_ < 0) {
    if (absl::Status s = OpenSegment(); !s.ok()) return s;
  }
  absl::Status s = WriteAll(fd_, bytes.data(), bytes.size());
  if (s.ok() && options_.sync && ::fdatasync(fd_) != 0) s = PosixError("fdatasync");
  if (!s.ok()) {
    // Nothing of a failed batch may stay: a later success would otherwise
    // make it look acknowledged.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      ::close(fd_);
      fd_ = -1;  // the next batch starts a new segment; recovery cuts this one
    }
    return s;
  }
  size_ += bytes.size();
  return absl::OkStatus();
}

void EventJournal::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait_for(lock, std::chrono::seconds(1),
                 [&] { return stop_ || !queue_.empty() || rotate_requests_ > rotations_done_; });
    std::deque<Pending> batch;
    batch.swap(queue_);
    const uint64_t rotate_to = rotate_requests_;
    const bool stopping = stop_;
    lock.unlock();

    if (fd_ >= 0 && ((options_.rotate_daily && UtcDay() != open_day_) || size_ >= options_.segment_bytes)) {
      (void)CloseSegment();
    }
    if (!batch.empty()) {
      // (A Flush() alone queues an empty batch: nothing to write or sync.)
      std::string bytes;
      size_t lines = 0;
      for (const Pending& p : batch) {
        bytes += p.lines;
        lines += p.count;
      }
      absl::Status s = bytes.empty() ? absl::OkStatus() : options_.before_write ? options_.before_write() : absl::OkStatus();
      if (s.ok() && !bytes.empty()) s = WriteBatch(bytes);
      const uint64_t segment = next_segment_ - 1;
      {
        std::lock_guard<std::mutex> g(mu_);
        if (s.ok()) {
          for (const Pending& p : batch) stats_.appends += p.count > 0 ? 1 : 0;
          stats_.lines += lines;
          stats_.bytes += bytes.size();
          stats_.syncs += options_.sync && !bytes.empty() ? 1 : 0;
        } else {
          stats_.failures += batch.size();
        }
      }
      for (Pending& p : batch) p.done(s, segment);
    }
    absl::Status rotated;
    if (rotate_to > rotations_done_) rotated = CloseSegment();

    lock.lock();
    if (rotate_to > rotations_done_) {
      rotations_done_ = rotate_to;
      rotate_status_ = rotated;
      rotated_cv_.notify_all();
    }
    if (stopping && queue_.empty()) break;
  }
  rotated_cv_.notify_all();
}

}  // namespace aisle
