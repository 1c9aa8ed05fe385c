// AtomicFileWriter: publishes a file the LevelDB way (write a temp file in the
// same directory, fsync it, rename it over the target, fsync the directory),
// so a reader or a crash sees either the old file or the complete new one.
// Not thread-safe; one writer per instance.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Removes the temp file if Commit() was not reached.
  ~AtomicFileWriter();

  // Creates `<path>.tmp.<pid>.<n>` beside `path`. FailedPrecondition if
  // already open; the errno text otherwise.
  absl::Status Open(const std::string& path);
  // Appends bytes to the temp file.
  absl::Status Append(const void* data, size_t n);
  absl::Status Append(absl::string_view s) { return Append(s.data(), s.size()); }
  // fsync, close, rename over the target, fsync the directory. After an
  // error the target is untouched and the temp file removed.
  absl::Status Commit();
  // Drops the temp file; the target is untouched.
  void Abort();

  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

// Writes `contents` to `path` atomically (see AtomicFileWriter).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Fsyncs the directory holding `path`, so that a rename into it is durable.
absl::Status SyncParentDirectory(const std::string& path);

// Opens a regular file for reading, without blocking on a FIFO: its
// descriptor (the caller closes it) and its stat in `*st`. NotFound when it
// does not exist, InvalidArgument when it is a directory, FIFO, device or
// socket, the errno text otherwise.
absl::StatusOr<int> OpenRegularFile(const std::string& path, struct stat* st);

// The bound ReadFileToString applies unless told otherwise.
inline constexpr size_t kMaxReadFileBytes = size_t{4} << 30;

// Reads a whole regular file (OpenRegularFile's errors), of at most
// `max_bytes` (OutOfRange past it, also when it grows while being read).
absl::Status ReadFileToString(const std::string& path, std::string* out, size_t max_bytes = kMaxReadFileBytes);

}  // namespace aisle
