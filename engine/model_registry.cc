#include "engine/model_registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "engine/atomic_file.h"
#include "engine/crash_point.h"
#include "engine/model_io.h"
#include "engine/posix_error.h"

namespace aisle {
namespace fs = std::filesystem;

namespace {

constexpr absl::string_view kPrefix = "model-";
constexpr absl::string_view kSuffix = ".model";

// Holds flock(LOCK_EX) on DIR/.lock for its lifetime.
class DirLock {
 public:
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Acquire(const std::string& dir) {
    const std::string path = dir + "/.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return PosixError(absl::StrCat("cannot open ", path));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("another publisher holds ", path));
    }
    return absl::OkStatus();
  }

 private:
  int fd_ = -1;
};

}  // namespace

absl::StatusOr<std::string> CurrentModelPath(const std::string& dir) {
  const std::string link = dir + "/current";
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(absl::StrCat("no model published in ", dir, " (", link, " is missing)"));
    }
    return absl::InternalError(absl::StrCat("cannot read ", link, ": ", ec.message()));
  }
  return target.is_absolute() ? target.string() : (fs::path(dir) / target).string();
}

absl::StatusOr<std::vector<PublishedVersion>> ListVersions(const std::string& dir) {
  std::vector<PublishedVersion> out;
  const fs::path models = fs::path(dir) / "models";
  std::error_code ec;
  if (!fs::exists(models, ec)) return out;
  for (const auto& entry : fs::directory_iterator(models, ec)) {
    const std::string name = entry.path().filename().string();
    absl::string_view v = name;
    if (!absl::ConsumePrefix(&v, kPrefix) || !absl::ConsumeSuffix(&v, kSuffix)) continue;
    uint64_t n;
    if (!absl::SimpleAtoi(v, &n)) continue;
    out.push_back({n, entry.path().string()});
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", models.string(), ": ", ec.message()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return out;
}

// Points `current` at models/`name`: a new symlink under a temp name,
// renamed over `current`, the directory fsynced. The caller holds the lock.
static absl::Status SwitchLink(const std::string& dir, const std::string& name) {
  const std::string link = dir + "/current";
  const std::string tmp = absl::StrCat(link, ".tmp.", getpid());
  ::unlink(tmp.c_str());
  if (::symlink((std::string("models/") + name).c_str(), tmp.c_str()) != 0)
    return PosixError(absl::StrCat("cannot create ", tmp));
  CrashPoint("before_switch");
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    absl::Status s = PosixError(absl::StrCat("cannot switch ", link));
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncParentDirectory(link);
}

absl::StatusOr<PublishResult> PublishModel(const Model& model, const std::string& dir, int keep) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "models", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, "/models: ", ec.message()));
  DirLock lock;
  if (absl::Status s = lock.Acquire(dir); !s.ok()) return s;

  // Leftovers of interrupted publishes (we hold the lock: no one is writing).
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "models", ec)) {
    if (absl::StrContains(entry.path().filename().string(), ".tmp.")) fs::remove(entry.path(), ec);
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), "current.tmp.")) fs::remove(entry.path(), ec);
  }

  auto versions = ListVersions(dir);
  if (!versions.ok()) return versions.status();
  const uint64_t next = versions->empty() ? 1 : versions->back().version + 1;
  const std::string name = absl::StrFormat("model-%06d.model", next);
  const std::string path = (fs::path(dir) / "models" / name).string();
  if (absl::Status s = WriteModel(model, path); !s.ok()) return s;
  CrashPoint("after_write");

  if (absl::Status s = SwitchLink(dir, name); !s.ok()) return s;
  CrashPoint("after_switch");

  PublishResult result;
  result.published = {next, path};
  versions = ListVersions(dir);
  if (versions.ok() && keep > 0 && versions->size() > static_cast<size_t>(keep)) {
    const size_t excess = versions->size() - static_cast<size_t>(keep);
    for (size_t i = 0; i < excess; ++i) {
      if ((*versions)[i].path == path) continue;
      if (fs::remove((*versions)[i].path, ec)) result.removed.push_back((*versions)[i].path);
    }
  }
  return result;
}

absl::Status SwitchCurrent(const std::string& dir, uint64_t version) {
  DirLock lock;
  if (absl::Status s = lock.Acquire(dir); !s.ok()) return s;
  auto versions = ListVersions(dir);
  if (!versions.ok()) return versions.status();
  for (const PublishedVersion& v : *versions) {
    if (v.version != version) continue;
    // Checked before it is pointed at: a version that does not load never becomes current.
    if (auto m = MapModel(v.path); !m.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("version ", version, " does not load: ", m.status().message()));
    }
    return SwitchLink(dir, fs::path(v.path).filename().string());
  }
  return absl::NotFoundError(absl::StrCat("no version ", version, " in ", dir));
}

absl::StatusOr<std::vector<std::string>> RemoveVersions(
    const std::string& dir, const std::function<absl::StatusOr<bool>(const PublishedVersion&)>& remove) {
  std::vector<std::string> removed;
  DirLock lock;
  if (absl::Status s = lock.Acquire(dir); !s.ok()) return s;
  auto versions = ListVersions(dir);
  if (!versions.ok()) return versions.status();
  auto current = CurrentModelPath(dir);
  std::error_code ec;
  for (const PublishedVersion& v : *versions) {
    if (current.ok() && fs::equivalent(v.path, *current, ec)) continue;
    auto r = remove(v);
    if (!r.ok()) return r.status();
    if (!*r) continue;
    if (::unlink(v.path.c_str()) != 0) return PosixError(absl::StrCat("cannot remove ", v.path));
    removed.push_back(v.path);
  }
  if (!removed.empty()) {
    if (absl::Status s = SyncParentDirectory(removed.front()); !s.ok()) return s;
  }
  return removed;
}

}  // namespace aisle
