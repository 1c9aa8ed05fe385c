#include "live/redis_live_store.h"

#include <sys/random.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/atomic_file.h"

namespace aisle {
namespace {

constexpr int kSeqBits = 22;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
constexpr int kBlockMs = 1000;      // the follower's XREAD BLOCK
constexpr int kScanCount = 1000;    // stream entries per read

// Checks and records each event's id and adds the new ones as one stream
// entry, atomically. KEYS[1]: the stream; KEYS[1+i]: event i's id key (''
// none). ARGV[1]: the id window (ms); ARGV[2]: this server; ARGV[2+i]:
// event i's journal line. Returns {entry id or '', one '1'/'0' per event}.
// "#!lua" without flags: Redis refuses the whole script up front when it
// is out of memory, so a refused batch wrote nothing.
RedisClient::Script AppendScript() {
  return {R"lua(#!lua
local window = tonumber(ARGV[1])
local fields = {'s', ARGV[2]}
local flags = {}
for i = 2, #KEYS do
  local fresh = true
  if KEYS[i] ~= '' then
    fresh = redis.call('SET', KEYS[i], '1', 'NX', 'PX', window) ~= false
  end
  if fresh then
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = ARGV[i + 1]
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
end
local id = ''
if #fields > 2 then id = redis.call('XADD', KEYS[1], '*', unpack(fields)) end
return {id, table.concat(flags)}
)lua",
          ""};
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(raw);
}

// The value of field `name` in an entry's field list, or null.
const std::string* Field(const RedisReply& fields, absl::string_view name) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == name) return &fields.elements[i + 1].str;
  }
  return nullptr;
}

}  // namespace

LiveStore::Position RedisLiveStore::PositionOf(absl::string_view stream_id) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(stream_id, absl::MaxSplits('-', 1));
  uint64_t ms = 0, seq = 0;
  if (!absl::SimpleAtoi(parts.first, &ms) || !absl::SimpleAtoi(parts.second, &seq)) return 0;
  return (ms << kSeqBits) | std::min(seq, kSeqMask);
}

std::string RedisLiveStore::StreamId(Position p) { return absl::StrCat(p >> kSeqBits, "-", p & kSeqMask); }

RedisLiveStore::RedisLiveStore(Options options)
    : options_(std::move(options)), server_id_(RandomHex(8)), append_script_(AppendScript()) {
  client_ = std::make_unique<RedisClient>(options_.address, options_.timeout);
  writer_client_ = std::make_unique<RedisClient>(options_.address, options_.timeout);
  follower_client_ = std::make_unique<RedisClient>(options_.address, options_.timeout + absl::Milliseconds(kBlockMs));
}

absl::StatusOr<RedisLiveStore::Options> RedisLiveStore::Configure(absl::string_view url,
                                                                  const std::string& password_file,
                                                                  const std::string& prefix) {
  Options o;
  auto address = RedisAddress::Parse(url);
  if (!address.ok()) return address.status();
  o.address = *address;
  if (!password_file.empty()) {
    std::string secret;
    if (absl::Status s = ReadFileToString(password_file, &secret, 4096); !s.ok()) return s;
    o.address.password = std::string(absl::StripTrailingAsciiWhitespace(secret));
    if (o.address.password.empty()) return absl::InvalidArgumentError(absl::StrCat(password_file, " is empty"));
  }
  if (prefix.empty()) return absl::InvalidArgumentError("the Redis key prefix must not be empty");
  o.prefix = prefix;
  return o;
}

absl::StatusOr<std::unique_ptr<RedisLiveStore>> RedisLiveStore::Open(Options options, Position live_after,
                                                                     const EventFn& on_live, OpenStats* stats) {
  OpenStats local;
  if (stats == nullptr) stats = &local;
  if (options.wait_replicas < 0) return absl::InvalidArgumentError("wait_replicas must be >= 0");
  std::unique_ptr<RedisLiveStore> s(new RedisLiveStore(std::move(options)));
  const Options& o = s->options_;
  RedisClient& c = *s->client_;
  // Settings under which an acknowledged write survives a restart of Redis.
  auto config = c.RunAll({{"CONFIG", "GET", "appendonly"},
                          {"CONFIG", "GET", "appendfsync"},
                          {"CONFIG", "GET", "maxmemory-policy"}});
  if (!config.ok() && absl::IsUnavailable(config.status())) return config.status();
  if (!o.allow_unsafe_config) {
    if (!config.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read the settings of Redis at ", o.address.ToString(),
                                                        " (", config.status().message(),
                                                        "); --redis_allow_unsafe starts anyway"));
    }
    auto value = [&](size_t i) { return (*config)[i].elements.size() == 2 ? (*config)[i].elements[1].str : ""; };
    std::vector<std::string> problems;
    if (value(0) != "yes") problems.push_back("appendonly is not yes (a restart of Redis loses events)");
    if (value(1) != "always" && !(value(1) == "everysec" && o.wait_replicas > 0)) {
      problems.push_back(absl::StrCat("appendfsync is ", value(1),
                                      " (always, or everysec with --redis_wait_replicas >= 1)"));
    }
    if (value(2) != "noeviction") {
      problems.push_back(absl::StrCat("maxmemory-policy is ", value(2), " (noeviction: evicting drops events and ids)"));
    }
    if (!problems.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("Redis at ", o.address.ToString(),
                                                        " could lose acknowledged events: ", absl::StrJoin(problems, "; "),
                                                        " (docs/OPERATIONS.md; --redis_allow_unsafe starts anyway)"));
    }
  }
  // The pseudonym key: the first server makes it.
  auto key = c.RunAll({{"SET", o.prefix + "key", RandomHex(32), "NX"}, {"GET", o.prefix + "key"}});
  if (!key.ok()) return key.status();
  s->key_ = (*key)[1].str;
  if (s->key_.size() != 64) return absl::DataLossError(absl::StrCat("Redis key ", o.prefix, "key is not a 64-digit key"));
  // Consent and erasures as Redis holds them, then the stream from the
  // watermark (entries read twice are applied the same way again).
  auto hashes = c.RunAll({{"HGETALL", o.prefix + "consent"}, {"HGETALL", o.prefix + "erased"}});
  if (!hashes.ok()) return hashes.status();
  {
    std::lock_guard<std::mutex> lock(s->state_mu_);
    s->MergeLedgerLocked((*hashes)[0], (*hashes)[1], nullptr);
    stats->consent_records = s->consent_.size();
    stats->erasures = s->erased_.size();
  }
  // Offer impressions: every customer's counts.
  {
    std::string pattern = o.prefix;
    for (size_t i = pattern.size(); i-- > 0;) {
      if (absl::string_view("*?[]\\").find(pattern[i]) != absl::string_view::npos) pattern.insert(i, "\\");
    }
    pattern += "imp:*";
    std::string cursor = "0";
    do {
      auto scan = c.Run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!scan.ok()) return scan.status();
      if (scan->elements.size() != 2) return absl::InternalError("redis: unexpected answer to SCAN");
      cursor = scan->elements[0].str;
      std::vector<std::vector<std::string>> gets;
      for (const RedisReply& k : scan->elements[1].elements) gets.push_back({"HGETALL", k.str});
      if (gets.empty()) continue;
      auto counts = c.RunAll(gets);
      if (!counts.ok()) return counts.status();
      std::lock_guard<std::mutex> lock(s->state_mu_);
      for (size_t i = 0; i < gets.size(); ++i) {
        auto& mine = s->impressions_[gets[i][1].substr(o.prefix.size() + 4)];
        const auto& f = (*counts)[i].elements;
        for (size_t k = 0; k + 1 < f.size(); k += 2) {
          uint32_t n = 0;
          if (absl::SimpleAtoi(f[k + 1].str, &n)) mine[f[k].str] = n;
        }
      }
    } while (cursor != "0");
  }
  Position last = live_after;
  absl::Status read = s->Scan(c, live_after, [&](const RedisReply& fields, Position at) {
    ++stats->log_entries_read;
    s->Apply(fields, at, /*own=*/true);
    s->ForEachEvent(fields, at, on_live, nullptr);
    last = at;
  });
  if (!read.ok()) return read;
  s->followed_ = last;
  s->writer_ = std::thread([p = s.get()] { p->WriterLoop(); });
  s->follower_ = std::thread([p = s.get()] { p->FollowerLoop(); });
  return s;
}

RedisLiveStore::~RedisLiveStore() {
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    stop_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  following_stop_ = true;
  {
    std::lock_guard<std::mutex> lock(follow_mu_);
    follow_cv_.notify_all();
  }
  follower_client_->Interrupt();
  if (follower_.joinable()) follower_.join();
}

std::string RedisLiveStore::IdKey(absl::string_view customer, absl::string_view event_id) const {
  // 128 bits of the HMAC: no collision among billions of ids, and half the
  // key's bytes (ids are most of what Redis holds: docs/OPERATIONS.md).
  return absl::StrCat(
      options_.prefix, "id:",
      CustomerLedger::Pseudonym(key_, absl::StrCat(customer, absl::string_view("\0", 1), event_id)).substr(0, 32));
}

absl::Status RedisLiveStore::Scan(RedisClient& client, Position after,
                                  const std::function<void(const RedisReply&, Position)>& fn) const {
  const std::string log = options_.prefix + "log";
  for (;;) {
    auto r = client.Run({"XRANGE", log, "(" + StreamId(after), "+", "COUNT", absl::StrCat(kScanCount)});
    if (!r.ok()) return r.status();
    for (const RedisReply& entry : r->elements) {
      if (entry.elements.size() != 2) continue;
      after = PositionOf(entry.elements[0].str);
      fn(entry.elements[1], after);
    }
    if (r->elements.size() < static_cast<size_t>(kScanCount)) return absl::OkStatus();
  }
}

void RedisLiveStore::Append(std::vector<LiveEvent> events, AppendDone done) {
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (!stop_) {
      pending_.push_back({std::move(events), std::move(done)});
      ++queued_;
      write_cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("the live store is closing"));
}

void RedisLiveStore::WriterLoop() {
  std::unique_lock<std::mutex> lock(write_mu_);
  for (;;) {
    write_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left
    std::deque<Pending> batch;
    size_t events = 0;
    while (!pending_.empty() && (batch.empty() || events + pending_.front().events.size() <= options_.max_batch_events)) {
      events += pending_.front().events.size();
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    lock.unlock();
    WriteBatch(batch);
    lock.lock();
    answered_ += batch.size();
    flushed_cv_.notify_all();
  }
}

void RedisLiveStore::WriteBatch(std::deque<Pending>& batch) {
  std::vector<std::string> keys = {options_.prefix + "log"};
  std::vector<std::string> args = {absl::StrCat(options_.event_id_window_ms), server_id_};
  const bool ids = options_.event_id_window_ms > 0;
  for (const Pending& p : batch) {
    for (const LiveEvent& e : p.events) {
      keys.push_back(ids && !e.event_id.empty() ? IdKey(e.customer_id, e.event_id) : std::string());
      std::string line;
      AppendJournalLine(e, &line);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      args.push_back(std::move(line));
    }
  }
  absl::StatusOr<RedisReply> r = writer_client_->Eval(append_script_, keys, args);
  absl::Status failed = r.status();
  if (r.ok() && (r->elements.size() != 2 || r->elements[1].str.size() != keys.size() - 1)) {
    failed = absl::InternalError("redis: unexpected answer from the append script");
  }
  if (failed.ok() && options_.wait_replicas > 0 && !r->elements[0].str.empty()) {
    auto w = writer_client_->Run({"WAIT", absl::StrCat(options_.wait_replicas),
                                  absl::StrCat(absl::ToInt64Milliseconds(options_.timeout))});
    if (!w.ok()) {
      failed = w.status();
    } else if (w->integer < options_.wait_replicas) {
      failed = absl::UnavailableError(absl::StrCat("redis: ", w->integer, " of ", options_.wait_replicas,
                                                   " replicas have the events in time"));
    }
  }
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++batches_;
    if (!failed.ok()) ++write_errors_;
  }
  if (!failed.ok()) {
    for (Pending& p : batch) p.done(failed);
    return;
  }
  const Position at = r->elements[0].str.empty() ? 0 : PositionOf(r->elements[0].str);
  const std::string& flags = r->elements[1].str;
  size_t i = 0;
  for (Pending& p : batch) {
    Appended a;
    a.at = at;
    a.stored.reserve(p.events.size());
    for (size_t k = 0; k < p.events.size(); ++k) a.stored.push_back(flags[i++] == '1');
    a.events = std::move(p.events);
    p.done(std::move(a));
  }
}

void RedisLiveStore::Flush() {
  std::unique_lock<std::mutex> lock(write_mu_);
  const uint64_t target = queued_;
  flushed_cv_.wait(lock, [&] { return answered_ >= target; });
}

absl::Status RedisLiveStore::ReadEvents(Position after, const EventFn& fn, uint64_t* damaged) const {
  // A connection of its own: a long read holds no request thread's.
  RedisClient c(options_.address, options_.timeout);
  return Scan(c, after, [&](const RedisReply& fields, Position at) { ForEachEvent(fields, at, fn, damaged); });
}

void RedisLiveStore::ForEachEvent(const RedisReply& fields, Position at, const EventFn& fn, uint64_t* damaged) const {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str != "e") continue;
    auto e = ParseJournalLine(fields.elements[i + 1].str);
    if (!e.ok()) {
      if (damaged != nullptr) ++*damaged;
      continue;
    }
    auto erased = ErasedAt(e->customer_id);
    if (erased && *erased >= e->received_ms) continue;
    fn(std::move(*e), at);
  }
}

std::optional<ConsentRecord> RedisLiveStore::Consent(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = consent_.find(customer);
  if (it == consent_.end()) return std::nullopt;
  return it->second;
}

// Runs `commands` (MULTI ... EXEC) on the request threads' connection and,
// with wait_replicas, waits for that many replicas to have them; the EXEC's
// answer. `what` names the write in errors.
absl::StatusOr<RedisReply> RedisLiveStore::Transact(std::vector<std::vector<std::string>> commands,
                                                   absl::string_view what) {
  const size_t exec = commands.size() - 1;
  if (options_.wait_replicas > 0) {
    commands.push_back(
        {"WAIT", absl::StrCat(options_.wait_replicas), absl::StrCat(absl::ToInt64Milliseconds(options_.timeout))});
  }
  std::lock_guard<std::mutex> lock(client_mu_);
  auto r = client_->RunAll(commands);
  if (!r.ok()) return r.status();
  if (options_.wait_replicas > 0 && r->back().integer < options_.wait_replicas) {
    return absl::UnavailableError(absl::StrCat("redis: the replicas did not confirm the ", what, " in time"));
  }
  return std::move((*r)[exec]);
}

absl::Status RedisLiveStore::SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) {
  const std::string c(customer), p = personalization ? "1" : "0", t = absl::StrCat(at_ms);
  std::vector<std::vector<std::string>> tx = {{"MULTI"},
                                              {"HSET", options_.prefix + "consent", c, absl::StrCat(p, " ", t)},
                                              {"XADD", options_.prefix + "log", "*", "s", server_id_, "c", c, "p", p, "t", t},
                                              {"EXEC"}};
  if (auto r = Transact(std::move(tx), "consent record"); !r.ok()) return r.status();
  std::lock_guard<std::mutex> lock(state_mu_);
  ConsentRecord& r = consent_[c];
  r.personalization = personalization;
  r.at_ms = at_ms;
  return absl::OkStatus();
}

absl::StatusOr<LiveStore::Erasure> RedisLiveStore::Erase(absl::string_view customer, int64_t at_ms) {
  const std::string c(customer), t = absl::StrCat(at_ms);
  std::vector<std::vector<std::string>> tx = {{"MULTI"},
                                              {"HDEL", options_.prefix + "consent", c},
                                              {"HSET", options_.prefix + "erased", CustomerLedger::Pseudonym(key_, c), t},
                                              {"DEL", options_.prefix + "imp:" + c},
                                              {"XADD", options_.prefix + "log", "*", "s", server_id_, "x", c, "t", t},
                                              {"EXEC"}};
  Erasure out;
  auto exec = Transact(std::move(tx), "erasure");
  if (!exec.ok()) return exec.status();
  if (exec->elements.size() != 4) return absl::InternalError("redis: unexpected answer to the erasure");
  out.consent_record = exec->elements[0].integer > 0;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    out.consent_record |= consent_.erase(c) > 0;
  }
  RecordErasure(c, at_ms);
  out.events_sealed = true;  // the stream's copies go when the archiver trims it
  return out;
}

void RedisLiveStore::MergeLedgerLocked(const RedisReply& consent, const RedisReply& erased,
                                       absl::flat_hash_map<std::string, int64_t>* fresh) {
  for (size_t i = 0; i + 1 < erased.elements.size(); i += 2) {
    int64_t at = 0;
    (void)absl::SimpleAtoi(erased.elements[i + 1].str, &at);
    auto [it, inserted] = erased_.try_emplace(erased.elements[i].str, at);
    if (inserted || it->second < at) {
      it->second = at;
      if (fresh != nullptr) (*fresh)[it->first] = at;
    }
  }
  for (size_t i = 0; i + 1 < consent.elements.size(); i += 2) {
    std::pair<absl::string_view, absl::string_view> pt =
        absl::StrSplit(consent.elements[i + 1].str, absl::MaxSplits(' ', 1));
    ConsentRecord r;
    r.personalization = pt.first == "1";
    (void)absl::SimpleAtoi(pt.second, &r.at_ms);
    auto [it, inserted] = consent_.try_emplace(consent.elements[i].str, r);
    if (!inserted && it->second.at_ms <= r.at_ms) it->second = r;
  }
}

void RedisLiveStore::ResyncLedger() {
  auto hashes = follower_client_->RunAll({{"HGETALL", options_.prefix + "consent"},
                                          {"HGETALL", options_.prefix + "erased"}});
  if (!hashes.ok()) {
    std::fprintf(stderr, "aisle live store: cannot read consent and erasures again: %s\n",
                 std::string(hashes.status().message()).c_str());
    return;
  }
  absl::flat_hash_map<std::string, int64_t> fresh;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    MergeLedgerLocked((*hashes)[0], (*hashes)[1], &fresh);
    if (!fresh.empty()) {
      // What memory holds of the customers newly known to be erased: their
      // ids are only known here, so each id held is put to the pseudonym test.
      std::vector<std::pair<std::string, int64_t>> held;
      auto test = [&](const std::string& id) {
        if (auto f = fresh.find(CustomerLedger::Pseudonym(key_, id)); f != fresh.end()) held.emplace_back(id, f->second);
      };
      for (const auto& [id, r] : consent_) test(id);
      for (const auto& [id, counts] : impressions_) test(id);
      for (const auto& [id, at] : held) ForgetLocked(id, at);
    }
  }
  if (fresh.empty()) return;
  {
    std::lock_guard<std::mutex> m(metrics_mu_);
    remote_erasures_ += fresh.size();
  }
  std::lock_guard<std::mutex> lock(follow_mu_);
  if (changes_.erased_pseudonyms) changes_.erased_pseudonyms(fresh, key_);
}

void RedisLiveStore::RecordErasure(absl::string_view customer, int64_t at_ms) {
  const std::string p = CustomerLedger::Pseudonym(key_, customer);
  std::lock_guard<std::mutex> lock(state_mu_);
  int64_t& e = erased_[p];
  e = std::max(e, at_ms);
  ForgetLocked(std::string(customer), at_ms);
}

void RedisLiveStore::ForgetLocked(const std::string& customer, int64_t at_ms) {
  int64_t& i = erased_ids_[customer];
  i = std::max(i, at_ms);
  impressions_.erase(customer);
  if (auto it = consent_.find(customer); it != consent_.end() && it->second.at_ms <= at_ms) consent_.erase(it);
}

std::optional<int64_t> RedisLiveStore::ErasedAt(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (erased_.empty()) return std::nullopt;
  if (auto it = erased_ids_.find(customer); it != erased_ids_.end()) return it->second;
  auto it = erased_.find(CustomerLedger::Pseudonym(key_, customer));
  if (it == erased_.end()) return std::nullopt;
  return it->second;
}

CustomerLedger::State RedisLiveStore::Snapshot() const {
  CustomerLedger::State s;
  std::lock_guard<std::mutex> lock(state_mu_);
  s.consent = consent_;
  s.erased = erased_;
  s.key = key_;
  return s;
}

size_t RedisLiveStore::erasures() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return erased_.size();
}

void RedisLiveStore::Follow(Changes changes) {
  std::lock_guard<std::mutex> lock(follow_mu_);
  changes_ = std::move(changes);
}

void RedisLiveStore::Apply(const RedisReply& fields, Position at, bool own) {
  if (const std::string* c = Field(fields, "c")) {
    const std::string* p = Field(fields, "p");
    const std::string* t = Field(fields, "t");
    ConsentRecord r;
    r.personalization = p != nullptr && *p == "1";
    if (t == nullptr || !absl::SimpleAtoi(*t, &r.at_ms)) return;
    std::lock_guard<std::mutex> lock(state_mu_);
    if (auto e = erased_ids_.find(*c); e != erased_ids_.end() && e->second >= r.at_ms) return;
    auto [it, inserted] = consent_.try_emplace(*c, r);
    if (!inserted && it->second.at_ms <= r.at_ms) it->second = r;
    if (!own) {
      std::lock_guard<std::mutex> m(metrics_mu_);
      ++remote_consent_;
    }
    return;
  }
  if (const std::string* x = Field(fields, "x")) {
    const std::string* t = Field(fields, "t");
    int64_t at_ms = 0;
    if (t == nullptr || !absl::SimpleAtoi(*t, &at_ms)) return;
    RecordErasure(*x, at_ms);
    if (!own) {
      {
        std::lock_guard<std::mutex> m(metrics_mu_);
        ++remote_erasures_;
      }
      std::lock_guard<std::mutex> lock(follow_mu_);
      if (changes_.erased) changes_.erased(*x, at_ms);
    }
    return;
  }
  if (const std::string* i = Field(fields, "i")) {
    if (own) return;  // counted when recorded
    std::lock_guard<std::mutex> lock(state_mu_);
    if (erased_ids_.contains(*i)) return;
    auto& mine = impressions_[*i];
    for (size_t k = 0; k + 1 < fields.elements.size(); k += 2) {
      if (fields.elements[k].str == "o") ++mine[fields.elements[k + 1].str];
    }
    std::lock_guard<std::mutex> m(metrics_mu_);
    ++remote_impressions_;
    return;
  }
  if (own) return;  // this server's events are in its memory already
  std::lock_guard<std::mutex> lock(follow_mu_);
  ForEachEvent(fields, at, [&](LiveEvent&& e, Position p) {
    {
      std::lock_guard<std::mutex> m(metrics_mu_);
      ++remote_events_;
    }
    if (changes_.event) changes_.event(std::move(e), p);
  }, nullptr);
}

void RedisLiveStore::FollowerLoop() {
  const std::string log = options_.prefix + "log";
  absl::Duration backoff = absl::Milliseconds(50);
  while (!following_stop_.load()) {
    Position from;
    {
      std::lock_guard<std::mutex> lock(follow_mu_);
      from = followed_;
    }
    auto r = follower_client_->Run({"XREAD", "COUNT", absl::StrCat(kScanCount), "BLOCK", absl::StrCat(kBlockMs),
                                    "STREAMS", log, StreamId(from)});
    if (!r.ok()) {
      if (following_stop_.load()) break;
      stale_ = true;
      {
        std::lock_guard<std::mutex> m(metrics_mu_);
        ++reconnects_;
      }
      std::unique_lock<std::mutex> lock(follow_mu_);
      follow_cv_.wait_for(lock, absl::ToChronoMilliseconds(backoff), [&] { return following_stop_.load(); });
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (stale_.exchange(false)) {
      // Back after an outage: entries the archive trimmed meanwhile (past
      // where this server had read) never reach it. Said, and counted.
      auto through = follower_client_->Run({"GET", options_.prefix + "archived_through"});
      if (through.ok() && !through->nil() && PositionOf(through->str) > from) {
        {
          std::lock_guard<std::mutex> m(metrics_mu_);
          ++gaps_;
        }
        std::fprintf(stderr,
                     "aisle live store: entries through %s were archived before this server read them (it was cut "
                     "off from Redis); their events are missing here until the next model or a restart, their "
                     "consent choices and erasures are read again\n",
                     through->str.c_str());
        ResyncLedger();
      }
    }
    if (r->nil() || r->elements.empty()) continue;
    // [[stream, [[id, fields], ...]]]
    const RedisReply& stream = r->elements[0];
    if (stream.elements.size() != 2) continue;
    for (const RedisReply& entry : stream.elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      const Position at = PositionOf(entry.elements[0].str);
      const std::string* s = Field(entry.elements[1], "s");
      Apply(entry.elements[1], at, s != nullptr && *s == server_id_);
      std::lock_guard<std::mutex> lock(follow_mu_);
      followed_ = at;
      follow_cv_.notify_all();
    }
  }
}

absl::Status RedisLiveStore::RecordImpressions(absl::string_view customer, absl::Span<const std::string> offers) {
  if (offers.empty()) return absl::OkStatus();
  const std::string c(customer), key = options_.prefix + "imp:" + c;
  std::vector<std::vector<std::string>> tx = {{"MULTI"}};
  std::vector<std::string> xadd = {"XADD", options_.prefix + "log", "*", "s", server_id_, "i", c};
  for (const std::string& o : offers) {
    tx.push_back({"HINCRBY", key, o, "1"});
    xadd.push_back("o");
    xadd.push_back(o);
  }
  tx.push_back(std::move(xadd));
  tx.push_back({"EXEC"});
  if (auto r = Transact(std::move(tx), "impressions"); !r.ok()) return r.status();
  std::lock_guard<std::mutex> lock(state_mu_);
  auto& mine = impressions_[c];
  for (const std::string& o : offers) ++mine[o];
  return absl::OkStatus();
}

absl::flat_hash_map<std::string, uint32_t> RedisLiveStore::Impressions(absl::string_view customer) const {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = impressions_.find(customer);
  return it == impressions_.end() ? absl::flat_hash_map<std::string, uint32_t>() : it->second;
}

absl::StatusOr<uint64_t> RedisLiveStore::EraseImpressions(absl::string_view customer) {
  {
    std::lock_guard<std::mutex> lock(client_mu_);
    auto r = client_->Run({"DEL", options_.prefix + "imp:" + std::string(customer)});
    if (!r.ok()) return r.status();
  }
  uint64_t n = 0;
  std::lock_guard<std::mutex> lock(state_mu_);
  if (auto it = impressions_.find(customer); it != impressions_.end()) {
    for (const auto& [offer, count] : it->second) n += count;
    impressions_.erase(it);
  }
  return n;
}

absl::StatusOr<LiveStore::Position> RedisLiveStore::ArchivedThrough(RedisClient& client, const std::string& prefix,
                                                                     uint64_t segment) {
  auto r = client.Run({"HGET", prefix + "archived", absl::StrCat(segment)});
  if (!r.ok()) return r.status();
  return r->nil() ? 0 : PositionOf(r->str);
}

absl::StatusOr<LiveStore::Position> RedisLiveStore::ArchivedThrough(const Options& options, uint64_t segment) {
  RedisClient c(options.address, options.timeout);
  return ArchivedThrough(c, options.prefix, segment);
}

LiveStore::Position RedisLiveStore::PositionOfSegment(uint64_t segment) const {
  std::lock_guard<std::mutex> lock(client_mu_);
  return ArchivedThrough(*client_, options_.prefix, segment).value_or(0);
}

absl::Status RedisLiveStore::CatchUp() {
  Position tail = 0;
  {
    std::lock_guard<std::mutex> lock(client_mu_);
    auto r = client_->Run({"XREVRANGE", options_.prefix + "log", "+", "-", "COUNT", "1"});
    if (!r.ok()) return r.status();
    if (!r->elements.empty() && !r->elements[0].elements.empty()) tail = PositionOf(r->elements[0].elements[0].str);
  }
  std::unique_lock<std::mutex> lock(follow_mu_);
  if (!follow_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return followed_ >= tail; })) {
    return absl::DeadlineExceededError("the follower did not catch up in 10 s");
  }
  return absl::OkStatus();
}

std::string RedisLiveStore::RenderMetrics() const {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  return absl::StrCat(
      "# HELP aisle_live_store_batches_total Append batches written to Redis.\n# TYPE aisle_live_store_batches_total counter\n",
      "aisle_live_store_batches_total ", batches_,
      "\n# TYPE aisle_live_store_write_errors_total counter\naisle_live_store_write_errors_total ", write_errors_,
      "\n# HELP aisle_live_store_followed_total What other servers wrote, applied here.\n"
      "# TYPE aisle_live_store_followed_total counter\n",
      "aisle_live_store_followed_total{kind=\"event\"} ", remote_events_,
      "\naisle_live_store_followed_total{kind=\"consent\"} ", remote_consent_,
      "\naisle_live_store_followed_total{kind=\"erasure\"} ", remote_erasures_,
      "\naisle_live_store_followed_total{kind=\"impression\"} ", remote_impressions_,
      "\n# TYPE aisle_live_store_follower_reconnects_total counter\naisle_live_store_follower_reconnects_total ",
      reconnects_,
      "\n# HELP aisle_live_store_gaps_total Times entries were archived before this server read them.\n"
      "# TYPE aisle_live_store_gaps_total counter\naisle_live_store_gaps_total ", gaps_, "\n# HELP aisle_live_store_stale 1 while the shared live state may be behind (Redis unreachable).\n",
      "# TYPE aisle_live_store_stale gauge\naisle_live_store_stale ", stale() ? 1 : 0, "\n");
}

}  // namespace aisle
