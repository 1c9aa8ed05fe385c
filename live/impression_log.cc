#include "live/impression_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"
#include "engine/json_text.h"
#include "engine/posix_error.h"

namespace aisle {
namespace {

using json = nlohmann::json;

// The log's file errors: the server answers 503 while its log cannot be written.
absl::Status ImpressionLogError(absl::string_view what) { return PosixError(what, absl::StatusCode::kUnavailable); }

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::unique_ptr<ImpressionLog> ImpressionLog::InMemory() { return std::unique_ptr<ImpressionLog>(new ImpressionLog()); }

absl::StatusOr<std::unique_ptr<ImpressionLog>> ImpressionLog::Open(const std::string& path, Options options,
                                                                   OpenStats* stats) {
  std::unique_ptr<ImpressionLog> log(new ImpressionLog());
  log->path_ = path;
  log->options_ = options;
  // One server per file: an erasure rewrites the file from this process's
  // memory, which would drop another writer's records. The lock is a file
  // beside it (the log itself is replaced by a rename on erasure).
  const std::string lock = path + ".lock";
  log->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (log->lock_fd_ < 0) return ImpressionLogError(absl::StrCat("cannot open ", lock));
  if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the impression log ", path, " is in use by another process (", lock, " is locked)"));
  }
  log->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log->fd_ < 0) return ImpressionLogError(absl::StrCat("cannot open impression log ", path));
  std::string data;
  if (absl::Status s = ReadFileToString(path, &data); !s.ok()) return s;
  OpenStats st;
  size_t pos = 0, line = 0;
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn tail, cut below
    ++line;
    absl::string_view text(data.data() + pos, nl - pos);
    pos = nl + 1;
    if (text.empty()) continue;
    auto parsed = ParseJsonText(text);
    json j = parsed.ok() ? *std::move(parsed) : json();
    bool ok = j.is_object() && j.contains("customer") && j["customer"].is_string() && j.contains("offers") &&
              j["offers"].is_array();
    std::vector<std::string> offers;
    if (ok) {
      for (const json& o : j["offers"]) {
        if (!o.is_string()) {
          ok = false;
          break;
        }
        offers.push_back(o.get<std::string>());
      }
    }
    if (!ok) {
      return absl::DataLossError(absl::StrCat(path, ":", line,
                                              ": not an impression record ({\"customer\": ..., \"offers\": [...]})"));
    }
    log->Apply(j["customer"].get<std::string>(), offers);
    ++st.records;
  }
  if (pos < data.size()) {
    st.torn_bytes = data.size() - pos;
    if (::ftruncate(log->fd_, static_cast<off_t>(pos)) != 0)
      return ImpressionLogError(absl::StrCat("cannot cut the torn end of ", path));
    if (::fdatasync(log->fd_) != 0) return ImpressionLogError(absl::StrCat("cannot sync ", path));
  }
  log->size_ = pos;
  log->records_ = st.records;
  if (stats != nullptr) *stats = st;
  if (absl::Status s = SyncParentDirectory(path); !s.ok()) return s;  // a new file's name is durable
  return log;
}

ImpressionLog::~ImpressionLog() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void ImpressionLog::Apply(absl::string_view customer, absl::Span<const std::string> offers) {
  auto& per = counts_[customer];
  for (const std::string& o : offers) ++per[o];
}

absl::Status ImpressionLog::Record(absl::string_view customer, absl::Span<const std::string> offers, absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    json j = {{"ts", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone())},
              {"customer", customer},
              {"offers", offers}};
    const std::string line = DumpJson(j) + "\n";
    if (!WriteAll(fd_, line) || (options_.sync && ::fdatasync(fd_) != 0)) {
      absl::Status s = ImpressionLogError(absl::StrCat("cannot append to impression log ", path_));
      // Cut back whatever part was written, so the next record starts a line.
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        s = absl::DataLossError(absl::StrCat(s.message(), "; and cannot cut the partial record: ", std::strerror(errno)));
      }
      return s;
    }
    size_ += line.size();
  }
  Apply(customer, offers);
  ++records_;
  return absl::OkStatus();
}

uint32_t ImpressionLog::Count(absl::string_view customer, absl::string_view offer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(customer);
  if (it == counts_.end()) return 0;
  auto jt = it->second.find(offer);
  return jt == it->second.end() ? 0 : jt->second;
}

absl::flat_hash_map<std::string, uint32_t> ImpressionLog::CountsFor(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(customer);
  if (it == counts_.end()) return {};
  return it->second;
}

absl::StatusOr<uint64_t> ImpressionLog::Erase(absl::string_view customer) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.erase(customer);
  if (fd_ < 0) return 0;
  std::string data, kept;
  if (absl::Status s = ReadFileToString(path_, &data); !s.ok()) return s;
  data.resize(std::min<size_t>(data.size(), size_));
  uint64_t removed = 0;
  for (size_t pos = 0; pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size() - 1;
    const absl::string_view line = absl::string_view(data).substr(pos, nl + 1 - pos);
    pos = nl + 1;
    auto j = ParseJsonText(line);
    if (j.ok() && j->is_object() && j->contains("customer") && (*j)["customer"].is_string() && (*j)["customer"].get_ref<const std::string&>() == customer) {
      ++removed;
      continue;
    }
    kept.append(line.data(), line.size());
  }
  if (removed == 0) return 0;
  if (absl::Status s = WriteFileAtomically(path_, kept); !s.ok()) return s;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ImpressionLogError(absl::StrCat("cannot reopen ", path_));
  ::close(fd_);
  fd_ = fd;
  size_ = kept.size();
  records_ -= removed;
  return removed;
}

uint64_t ImpressionLog::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

}  // namespace aisle
