#include "events/customer_ledger.h"

#include <fcntl.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/atomic_file.h"
#include "engine/checksum.h"
#include "engine/json_text.h"
#include "engine/posix_error.h"
#include "events/event_log.h"

namespace aisle {
namespace {

using json = nlohmann::json;

std::string Line(const json& j) {
  const std::string text = DumpJson(j);
  return absl::StrFormat("%08x %s\n", Crc32c(0, text.data(), text.size()), text);
}

// Applies the lines of `data` to `state`; returns the bytes of intact lines.
absl::StatusOr<size_t> Replay(const std::string& path, const std::string& data, CustomerLedger::State* state) {
  size_t pos = 0, line_no = 0;
  size_t bad_at = std::string::npos, bad_line = 0;
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    ++line_no;
    const absl::string_view line =
        absl::string_view(data).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    uint32_t crc = 0;
    bool ok = nl != std::string::npos && line.size() > 9 && line[8] == ' ' &&
              absl::SimpleHexAtoi(line.substr(0, 8), &crc) && Crc32c(0, line.data() + 9, line.size() - 9) == crc;
    absl::StatusOr<json> j = ok ? ParseJsonText(line.substr(9)) : absl::StatusOr<json>(absl::DataLossError(""));
    ok = ok && j.ok() && j->is_object() && j->contains("at_ms") && (*j)["at_ms"].is_number_integer();
    if (!ok) {
      if (bad_at == std::string::npos) {
        bad_at = pos;
        bad_line = line_no;
      }
      if (nl == std::string::npos) break;
      pos = nl + 1;
      continue;
    }
    if (bad_at != std::string::npos) {
      return absl::DataLossError(absl::StrCat(path, ":", bad_line, ": damaged record (not at the end of the file)"));
    }
    const int64_t at = (*j)["at_ms"].get<int64_t>();
    if (j->contains("erased") && (*j)["erased"].is_string()) {
      state->erased[(*j)["erased"].get<std::string>()] = at;
    } else if (j->contains("customer") && (*j)["customer"].is_string() && j->contains("personalization") &&
               (*j)["personalization"].is_boolean()) {
      state->consent[(*j)["customer"].get<std::string>()] = {(*j)["personalization"].get<bool>(), at};
    } else {
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": unknown record"));
    }
    pos = nl + 1;
  }
  return bad_at == std::string::npos ? data.size() : bad_at;
}

absl::StatusOr<std::string> ReadKey(const std::string& dir, bool create) {
  const std::string path = dir + "/erasure.key";
  std::string key;
  absl::Status s = ReadFileToString(path, &key);
  if (s.ok()) {
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) key.pop_back();
    if (key.size() != 64 || key.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return absl::DataLossError(absl::StrCat(path, " is not 64 hex digits"));
    }
    return key;
  }
  if (!absl::IsNotFound(s)) return s;
  if (!create) return std::string();
  unsigned char raw[32];
  if (getrandom(raw, sizeof(raw), 0) != static_cast<ssize_t>(sizeof(raw))) return PosixError("getrandom");
  key = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
  if (absl::Status w = WriteFileAtomically(path, key + "\n"); !w.ok()) return w;
  ::chmod(path.c_str(), 0600);
  return key;
}

}  // namespace

std::optional<int64_t> CustomerLedger::State::ErasedAt(absl::string_view id) const {
  if (erased.empty() || key.empty()) return std::nullopt;
  auto it = erased.find(Pseudonym(key, id));
  if (it == erased.end()) return std::nullopt;
  return it->second;
}

std::string CustomerLedger::Pseudonym(absl::string_view key_hex, absl::string_view id) {
  const std::string key = absl::HexStringToBytes(key_hex);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(id.data()),
       id.size(), mac, &len);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), len));
}

absl::StatusOr<CustomerLedger::State> CustomerLedger::Read(const std::string& dir) {
  State state;
  auto key = ReadKey(dir, /*create=*/false);
  if (!key.ok()) return key.status();
  state.key = *key;
  const std::string path = dir + "/customers.log";
  std::string data;
  absl::Status s = ReadFileToString(path, &data);
  if (absl::IsNotFound(s)) return state;
  if (!s.ok()) return s;
  auto kept = Replay(path, data, &state);
  if (!kept.ok()) return kept.status();
  if (!state.erased.empty() && state.key.empty()) {
    return absl::DataLossError(absl::StrCat(dir, "/erasure.key is missing but ", path,
                                            " records erasures: erased customers could not be recognized"));
  }
  return state;
}

absl::StatusOr<std::unique_ptr<CustomerLedger>> CustomerLedger::Open(const std::string& dir, bool sync) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError(absl::StrCat("cannot create ", dir));
  std::unique_ptr<CustomerLedger> l(new CustomerLedger());
  l->sync_ = sync;
  l->path_ = dir + "/customers.log";
  std::string data;
  absl::Status s = ReadFileToString(l->path_, &data);
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  auto kept = Replay(l->path_, data, &l->state_);
  if (!kept.ok()) return kept.status();
  auto key = ReadKey(dir, /*create=*/l->state_.erased.empty());
  if (!key.ok()) return key.status();
  if (key->empty()) {
    return absl::DataLossError(absl::StrCat(dir, "/erasure.key is missing but ", l->path_,
                                            " records erasures: erased customers could not be recognized"));
  }
  l->state_.key = *key;
  l->fd_ = ::open(l->path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (l->fd_ < 0) return PosixError(absl::StrCat("cannot open ", l->path_));
  if (*kept < data.size()) {
    if (::ftruncate(l->fd_, static_cast<off_t>(*kept)) != 0 || ::fsync(l->fd_) != 0) {
      return PosixError(absl::StrCat("cannot cut the torn end of ", l->path_));
    }
  }
  if (absl::Status d = SyncParentDirectory(l->path_); !d.ok()) return d;
  return l;
}

CustomerLedger::~CustomerLedger() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status CustomerLedger::AppendLine(const std::string& line) {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return PosixError("fstat");
  const char* p = line.data();
  size_t n = line.size();
  absl::Status s;
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      s = PosixError(absl::StrCat("cannot write ", path_));
      break;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  if (s.ok() && sync_ && ::fdatasync(fd_) != 0) s = PosixError(absl::StrCat("cannot sync ", path_));
  if (!s.ok()) (void)!::ftruncate(fd_, st.st_size);
  return s;
}

std::optional<ConsentRecord> CustomerLedger::Consent(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.consent.find(customer);
  if (it == state_.consent.end()) return std::nullopt;
  return it->second;
}

absl::Status CustomerLedger::SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) {
  // The file under its own lock: lookups (every personalized request) do not wait for the sync.
  std::lock_guard<std::mutex> write(write_mu_);
  json j = {{"customer", std::string(customer)}, {"personalization", personalization}, {"at_ms", at_ms}};
  if (absl::Status s = AppendLine(Line(j)); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  state_.consent[std::string(customer)] = {personalization, at_ms};
  return absl::OkStatus();
}

absl::StatusOr<bool> CustomerLedger::Erase(absl::string_view customer, int64_t at_ms) {
  std::lock_guard<std::mutex> write(write_mu_);  // no other write meanwhile: the state read here stays current
  State next = Snapshot();
  const std::string pseudonym = Pseudonym(next.key, customer);
  const bool had_consent = next.consent.erase(customer) > 0;
  next.erased[pseudonym] = at_ms;
  // The whole file again, without the customer's consent records.
  std::string text;
  for (const auto& [id, c] : next.consent) {
    text += Line({{"customer", id}, {"personalization", c.personalization}, {"at_ms", c.at_ms}});
  }
  for (const auto& [p, at] : next.erased) text += Line({{"erased", p}, {"at_ms", at}});
  if (absl::Status s = WriteFileAtomically(path_, text); !s.ok()) return s;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("cannot reopen ", path_));
  ::close(fd_);
  fd_ = fd;
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(next);
  return had_consent;
}

std::optional<int64_t> CustomerLedger::ErasedAt(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.ErasedAt(customer);
}

CustomerLedger::State CustomerLedger::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

size_t CustomerLedger::consent_records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.consent.size();
}

size_t CustomerLedger::erasures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.erased.size();
}

LedgerFilterStats ApplyLedger(const CustomerLedger::State& ledger, bool default_consent, EventLog* log) {
  LedgerFilterStats st;
  const size_t nc = log->customers.size();
  // Per customer: keep all (INT64_MIN), drop all (INT64_MAX), or drop up to a time (ms).
  std::vector<int64_t> drop_until(nc, INT64_MIN);
  for (uint32_t c = 0; c < nc; ++c) {
    const absl::string_view id = log->customers.id_view(c);
    auto it = ledger.consent.find(id);
    const bool consent = it != ledger.consent.end() ? it->second.personalization : default_consent;
    if (!consent) {
      drop_until[c] = INT64_MAX;
      continue;
    }
    if (auto at = ledger.ErasedAt(id)) drop_until[c] = *at;
  }
  std::vector<char> counted(nc, 0);
  size_t out = 0;
  for (const Event& e : log->events) {
    const int64_t d = drop_until[e.customer];
    if (d == INT64_MIN || (d != INT64_MAX && e.timestamp * 1000 > d)) {
      log->events[out++] = e;
      continue;
    }
    const bool erased = d != INT64_MAX;
    ++(erased ? st.erased_events : st.no_consent_events);
    if (!counted[e.customer]) {
      counted[e.customer] = 1;
      ++(erased ? st.erased_customers : st.no_consent_customers);
    }
  }
  log->events.resize(out);
  return st;
}

}  // namespace aisle
