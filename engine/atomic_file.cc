#include "engine/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/crash_point.h"

namespace aisle {
namespace {

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int err) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  if (err == ENOSPC) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

AtomicFileWriter::~AtomicFileWriter() { Abort(); }

absl::Status AtomicFileWriter::Open(const std::string& path) {
  if (fd_ >= 0) return absl::FailedPreconditionError("AtomicFileWriter already open");
  // The rename would replace whatever is there: never a device, a pipe or a
  // directory (`--output /dev/null` once replaced /dev/null with a file).
  struct stat sb;
  const bool exists = ::stat(path.c_str(), &sb) == 0;
  if (exists && !S_ISREG(sb.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " exists and is not a regular file: not replacing it"));
  }
  path_ = path;
  temp_path_ = absl::StrCat(path, ".tmp.", getpid(), ".", g_temp_counter.fetch_add(1));
  // A replacement keeps the file's mode and owner (a file of customer data
  // created 0600 stays 0600); it is created private and opened up to the
  // old mode, so no reader sees its contents under a wider mode.
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, exists ? 0600 : 0644);
  if (fd_ < 0) {
    int err = errno;
    temp_path_.clear();
    return ErrnoStatus("cannot create", path + ".tmp.*", err);
  }
  if (exists) {
    // The owner first: chown may clear set-id bits the chmod then restores.
    // Changing it needs privilege unless it is ours already; without it the
    // file becomes ours, with the old mode.
    if ((sb.st_uid != ::geteuid() || sb.st_gid != ::getegid()) && ::fchown(fd_, sb.st_uid, sb.st_gid) != 0 &&
        errno != EPERM) {
      const int err = errno;
      Abort();
      return ErrnoStatus("cannot keep the owner of", path, err);
    }
    if (::fchmod(fd_, sb.st_mode & 07777) != 0) {
      const int err = errno;
      Abort();
      return ErrnoStatus("cannot keep the mode of", path, err);
    }
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Append(const void* data, size_t n) {
  if (fd_ < 0) return absl::FailedPreconditionError("AtomicFileWriter not open");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", temp_path_, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError("AtomicFileWriter not open");
  absl::Status st;
  if (::fsync(fd_) != 0) st = ErrnoStatus("cannot fsync", temp_path_, errno);
  if (::close(fd_) != 0 && st.ok()) st = ErrnoStatus("cannot close", temp_path_, errno);
  fd_ = -1;
  if (st.ok()) CrashPoint("before_rename");
  if (st.ok() && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    st = ErrnoStatus("cannot rename to", path_, errno);
  }
  if (!st.ok()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return st;
  }
  temp_path_.clear();
  return SyncParentDirectory(path_);
}

void AtomicFileWriter::Abort() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  AtomicFileWriter w;
  if (absl::Status s = w.Open(path); !s.ok()) return s;
  if (absl::Status s = w.Append(contents); !s.ok()) return s;
  return w.Commit();
}

absl::Status SyncParentDirectory(const std::string& path) {
  std::string dir = ParentDir(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoStatus("cannot open directory", dir, errno);
  absl::Status st;
  if (::fsync(dfd) != 0) st = ErrnoStatus("cannot fsync directory", dir, errno);
  ::close(dfd);
  return st;
}

absl::StatusOr<int> OpenRegularFile(const std::string& path, struct stat* st) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  if (::fstat(fd, st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    const char* kind = S_ISDIR(st->st_mode)    ? "a directory"
                       : S_ISFIFO(st->st_mode) ? "a FIFO"
                       : S_ISCHR(st->st_mode)  ? "a character device"
                       : S_ISBLK(st->st_mode)  ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "not a regular file";
    return absl::InvalidArgumentError(absl::StrCat(path, " is ", kind, ", not a regular file"));
  }
  // Reads of a regular file never block; the flag is dropped all the same.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

absl::Status ReadFileToString(const std::string& path, std::string* out, size_t max_bytes) {
  struct stat sb;
  auto opened = OpenRegularFile(path, &sb);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  auto too_large = [&] {
    ::close(fd);
    return absl::OutOfRangeError(absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
  };
  if (static_cast<uint64_t>(sb.st_size) > max_bytes) return too_large();
  out->clear();
  out->resize(static_cast<size_t>(sb.st_size));
  size_t off = 0;
  while (true) {
    ssize_t r;
    if (off < out->size()) {
      r = ::read(fd, out->data() + off, out->size() - off);
    } else {
      // The file may have grown since fstat: read on in small steps, up to the bound.
      char buf[65536];
      r = ::read(fd, buf, sizeof(buf));
      if (r > 0) {
        if (out->size() + static_cast<size_t>(r) > max_bytes) return too_large();
        out->append(buf, static_cast<size_t>(r));
      }
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot read", path, err);
    }
    if (r == 0) break;
    if (off < out->size()) off += static_cast<size_t>(r);
    else off = out->size();
  }
  ::close(fd);
  out->resize(off);
  return absl::OkStatus();
}

}  // namespace aisle
