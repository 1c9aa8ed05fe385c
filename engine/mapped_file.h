// MappedFile: a read-only memory map of a whole file (MAP_POPULATE), the
// cheapest way to read large inputs here: no copy and no zero-filled buffer.
// With `guard`, a page that vanishes under the map (the file truncated while
// mapped) reads as zeros instead of raising SIGBUS: a process-wide SIGBUS
// handler maps a zero page there and counts it (GuardedFaults), so a file
// changed under a running server cannot crash it; the checksums of whatever
// is read next fail instead.
// Movable, not copyable; the view is valid while the object lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

class MappedFile {
 public:
  // A regular file only: NotFound when missing, InvalidArgument for a
  // directory, FIFO or device (never blocks on a FIFO), the errno text otherwise.
  // How the pages come in: all at once inside Open (kPopulate); as they are
  // touched, read ahead sequentially (kSequential: one pass over a large
  // file, with DropPagesBefore); as they are touched, the whole file read
  // ahead in the background (kWillNeed: the caller reads it all soon, in
  // steps it can stop between).
  enum class Access { kPopulate, kSequential, kWillNeed };
  static absl::StatusOr<MappedFile> Open(const std::string& path, bool guard = false,
                                         Access access = Access::kPopulate);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view data() const { return absl::string_view(static_cast<const char*>(addr_), size_); }

  // Drops the resident pages outside these ranges of the map from this
  // process (they are read again from the file if touched): for parts that
  // were copied out.
  void DropPagesOutside(const std::vector<std::pair<const void*, size_t>>& keep) const;

  // Drops the resident pages before `p` (a pointer into the map).
  void DropPagesBefore(const char* p) const {
    DropPagesOutside({{p, static_cast<size_t>(static_cast<const char*>(addr_) + size_ - p)}});
  }

  // OK while the file mapped is as it was when mapped: its size and
  // modification time, asked of the descriptor kept open, so a new file
  // renamed over the path is no change. DataLoss once it was written or
  // truncated in place (a MAP_PRIVATE map shows such writes: its contents
  // are then a mix of the two files).
  absl::Status CheckUnchanged() const;

  // Pages of guarded maps replaced by zeros since the process started.
  static uint64_t GuardedFaults();

 private:
  MappedFile(void* addr, size_t size, int guard_slot) : addr_(addr), size_(size), guard_slot_(guard_slot) {}
  void Unmap();
  void* addr_ = nullptr;
  size_t size_ = 0;
  int guard_slot_ = -1;
  int fd_ = -1;          // the file mapped (CheckUnchanged), or -1
  std::string path_;
  int64_t mtime_ns_ = 0;
};

}  // namespace aisle
