#include "live/live_archive.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/atomic_file.h"
#include "engine/posix_error.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "events/live_event.h"
#include "nlohmann/json.hpp"

namespace aisle {
namespace {

using json = nlohmann::json;

// The stream id just after `id` (MINID keeps entries at or after it).
std::string NextId(absl::string_view id) {
  const LiveStore::Position p = RedisLiveStore::PositionOf(id);
  return RedisLiveStore::StreamId(p + 1);
}

struct Plan {
  uint64_t segment = 0;  // 0: the run had no events
  std::string through;
};

absl::StatusOr<std::optional<Plan>> ReadPlan(const std::string& path) {
  std::string text;
  absl::Status s = ReadFileToString(path, &text);
  if (absl::IsNotFound(s)) return std::nullopt;
  if (!s.ok()) return s;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("segment") || !j["segment"].is_number_unsigned() || !j.contains("through") ||
      !j["through"].is_string()) {
    return absl::DataLossError(absl::StrCat(path, ": not an archive plan ({\"segment\": N, \"through\": \"ID\"})"));
  }
  return Plan{j["segment"].get<uint64_t>(), j["through"].get<std::string>()};
}

// Tells Redis the run is done: the segment's last position, where the next
// run starts, and the stream trimmed to there.
absl::StatusOr<uint64_t> Finish(RedisClient& c, const std::string& prefix, const Plan& plan) {
  std::vector<std::vector<std::string>> cmds;
  if (plan.segment > 0) cmds.push_back({"HSET", prefix + "archived", absl::StrCat(plan.segment), plan.through});
  cmds.push_back({"SET", prefix + "archived_through", plan.through});
  cmds.push_back({"XTRIM", prefix + "log", "MINID", NextId(plan.through)});
  auto r = c.RunAll(cmds);
  if (!r.ok()) return r.status();
  return static_cast<uint64_t>(r->back().integer);
}

}  // namespace

absl::StatusOr<LiveArchiveResult> ArchiveLiveStore(const LiveArchiveOptions& o) {
  LiveArchiveResult result;
  const std::string& prefix = o.store.prefix;
  if (::mkdir(o.dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError(absl::StrCat("cannot create ", o.dir));
  const std::string lock = o.dir + "/.lock";
  const int lock_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return PosixError(absl::StrCat("cannot open ", lock));
  absl::Cleanup close_lock = [lock_fd] { ::close(lock_fd); };
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(o.dir, " is in use by another process (", lock, " is locked)"));
  }
  RedisClient c(o.store.address, o.store.timeout);

  // The ledger's pseudonyms must be the store's: the same key.
  auto key = c.Run({"GET", prefix + "key"});
  if (!key.ok()) return key.status();
  if (key->nil()) return absl::FailedPreconditionError(absl::StrCat("no live store under ", prefix, " in Redis yet"));
  // The directory's key as the ledger reads it (none yet: the store's is written).
  auto held = CustomerLedger::Read(o.dir);
  if (!held.ok()) return held.status();
  if (held->key.empty()) {
    if (absl::Status w = WriteFileAtomically(o.dir + "/erasure.key", key->str + "\n"); !w.ok()) return w;
  } else if (held->key != key->str) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.dir, "/erasure.key is not the live store's key: ", o.dir, " is another store's archive"));
  }

  // An earlier run that stopped after writing its segment is finished first.
  const std::string plan_path = o.dir + "/archive.plan";
  auto earlier = ReadPlan(plan_path);
  if (!earlier.ok()) return earlier.status();
  if (*earlier) {
    const Plan& p = **earlier;
    struct stat st;
    const bool written =
        p.segment == 0 || ::stat(SegmentFormat::Events().ClosedPath(o.dir, p.segment).c_str(), &st) == 0;
    if (written) {
      auto trimmed = Finish(c, prefix, p);
      if (!trimmed.ok()) return trimmed.status();
      result.finished_earlier_run = true;
      result.trimmed += *trimmed;
    }
    if (::unlink(plan_path.c_str()) != 0) return PosixError(absl::StrCat("cannot remove ", plan_path));
  }

  auto from = c.Run({"GET", prefix + "archived_through"});
  if (!from.ok()) return from.status();
  LiveStore::Position after = from->nil() ? 0 : RedisLiveStore::PositionOf(from->str);
  const int64_t cutoff_ms = absl::ToUnixMillis(absl::Now() - o.lag);

  // Erasures as Redis holds them: events of customers erased since stay out.
  auto erased_hash = c.Run({"HGETALL", prefix + "erased"});
  if (!erased_hash.ok()) return erased_hash.status();
  absl::flat_hash_map<std::string, int64_t> erased;
  for (size_t i = 0; i + 1 < erased_hash->elements.size(); i += 2) {
    int64_t at = 0;
    (void)absl::SimpleAtoi(erased_hash->elements[i + 1].str, &at);
    erased[erased_hash->elements[i].str] = at;
  }
  absl::flat_hash_map<std::string, std::optional<int64_t>> erased_at;  // by customer id, this run
  auto erased_when = [&](const std::string& customer) -> std::optional<int64_t> {
    auto [it, inserted] = erased_at.try_emplace(customer);
    if (inserted) {
      auto e = erased.find(CustomerLedger::Pseudonym(key->str, customer));
      if (e != erased.end()) it->second = e->second;
    }
    return it->second;
  };

  auto ledger = CustomerLedger::Open(o.dir);
  if (!ledger.ok()) return ledger.status();
  std::string lines(JournalHeader());
  for (;;) {
    auto r = c.Run({"XRANGE", prefix + "log", "(" + RedisLiveStore::StreamId(after), absl::StrCat(cutoff_ms),
                    "COUNT", "1000"});
    if (!r.ok()) return r.status();
    for (const RedisReply& entry : r->elements) {
      if (entry.elements.size() != 2) continue;
      ++result.entries;
      result.through = entry.elements[0].str;
      after = RedisLiveStore::PositionOf(result.through);
      const auto& f = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].str;
        if (name == "e") {
          auto e = ParseJournalLine(f[i + 1].str);
          if (!e.ok()) continue;
          if (auto at = erased_when(e->customer_id); at && *at >= e->received_ms) {
            ++result.events_of_erased;
            continue;
          }
          AppendJournalLine(*e, &lines);
          ++result.events;
        } else if (name == "c" || name == "x") {
          // A consent choice ("c", "p", "t") or an erasure ("x", "t").
          std::string p, t;
          for (size_t k = 0; k + 1 < f.size(); k += 2) {
            if (f[k].str == "p") p = f[k + 1].str;
            if (f[k].str == "t") t = f[k + 1].str;
          }
          int64_t at_ms = 0;
          if (!absl::SimpleAtoi(t, &at_ms)) continue;
          if (name == "c") {
            if (absl::Status s = (*ledger)->SetConsent(f[i + 1].str, p == "1", at_ms); !s.ok()) return s;
            ++result.consent_changes;
          } else {
            if (auto s = (*ledger)->Erase(f[i + 1].str, at_ms); !s.ok()) return s.status();
            ++result.erasures;
          }
        }
      }
    }
    if (r->elements.size() < 1000) break;
  }
  if (result.through.empty()) return result;  // nothing older than the lag

  Plan plan;
  plan.through = result.through;
  if (result.events > 0) {
    auto segments = EventJournal::ListSegments(o.dir, /*include_open=*/true);
    if (!segments.ok()) return segments.status();
    plan.segment = segments->empty() ? 1 : segments->back().number + 1;
  }
  if (absl::Status s = WriteFileAtomically(plan_path, json{{"segment", plan.segment}, {"through", plan.through}}.dump());
      !s.ok()) {
    return s;
  }
  if (plan.segment > 0) {
    const std::string path = SegmentFormat::Events().ClosedPath(o.dir, plan.segment);
    if (absl::Status s = WriteFileAtomically(path, lines); !s.ok()) return s;
    result.segment = plan.segment;
  }
  if (o.before_finish) o.before_finish();
  auto trimmed = Finish(c, prefix, plan);
  if (!trimmed.ok()) return trimmed.status();
  result.trimmed += *trimmed;
  if (::unlink(plan_path.c_str()) != 0) return PosixError(absl::StrCat("cannot remove ", plan_path));
  return result;
}

}  // namespace aisle
