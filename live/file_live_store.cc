#include "live/file_live_store.h"

#include <sys/stat.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace aisle {
namespace {

// The journal's events after `after` to `fn` (those of customers erased
// since they arrived left out), and with `ids` the ids of events written
// within `window_ms` remembered.
absl::Status ReadJournal(const std::string& dir, const CustomerLedger::State& ledger, LiveStore::Position after,
                         EventIds* ids, int64_t window_ms, const LiveStore::EventFn& fn, uint64_t* damaged) {
  auto segments = EventJournal::ListSegments(dir, /*include_open=*/true);
  if (!segments.ok()) return segments.status();
  absl::flat_hash_map<std::string, std::optional<int64_t>> erased;  // per customer id seen
  const int64_t now = absl::ToUnixMillis(absl::Now());
  for (const EventJournal::Segment& seg : *segments) {
    const bool live = seg.number > after;
    struct stat st;
    const bool recent =
        ids != nullptr && ::stat(seg.path.c_str(), &st) == 0 && int64_t{st.st_mtime} * 1000 >= now - window_ms;
    if (!live && !recent) continue;
    absl::Status s = EventJournal::ReadSegment(
        seg.path,
        [&](LiveEvent&& e) {
          auto [it, inserted] = erased.try_emplace(e.customer_id);
          if (inserted) it->second = ledger.ErasedAt(e.customer_id);
          if (it->second && *it->second >= e.received_ms) return;  // erased since
          if (recent && !e.event_id.empty() && e.received_ms >= now - window_ms) {
            ids->Remember(ids->KeyOf(e.customer_id, e.event_id), e.received_ms);
          }
          if (live) fn(std::move(e), seg.number);
        },
        damaged);
    if (!s.ok()) return s;
  }
  if (ids != nullptr) ids->Finish(now);
  return absl::OkStatus();
}

}  // namespace

size_t LiveStore::Appended::count() const {
  size_t n = 0;
  for (bool s : stored) n += s;
  return n;
}

absl::StatusOr<std::unique_ptr<FileLiveStore>> FileLiveStore::Open(const std::string& dir, Options options,
                                                                   Position live_after, const EventFn& on_live,
                                                                   OpenStats* stats) {
  OpenStats local;
  if (stats == nullptr) stats = &local;
  std::unique_ptr<FileLiveStore> s(new FileLiveStore(dir, options));
  auto journal = EventJournal::Open(dir, options.journal, &stats->journal);
  if (!journal.ok()) return journal.status();
  s->journal_ = std::move(*journal);
  auto ledger = CustomerLedger::Open(dir, options.journal.sync);
  if (!ledger.ok()) return ledger.status();
  s->ledger_ = std::move(*ledger);
  if (absl::Status r = ReadJournal(dir, s->ledger_->Snapshot(), live_after, &s->ids_, options.ids.window_ms, on_live,
                                   &stats->damaged_lines);
      !r.ok()) {
    return r;
  }
  return s;
}

FileLiveStore::~FileLiveStore() {
  // The journal first: its writer may be answering an append, which then
  // settles ids (an append's `done` runs before its ids settle, so its
  // caller may already be destroying the store).
  journal_.reset();
}

void FileLiveStore::Append(std::vector<LiveEvent> events, AppendDone done) {
  std::vector<size_t> with_id;  // indexes of the events with an id
  std::vector<EventIds::Key> keys;
  std::vector<int64_t> received;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].event_id.empty()) continue;
    with_id.push_back(i);
    keys.push_back(ids_.KeyOf(events[i].customer_id, events[i].event_id));
    received.push_back(events[i].received_ms);
  }
  Appended a;
  a.stored.assign(events.size(), true);
  std::shared_ptr<EventIds::Claim> claim;
  if (!keys.empty()) {
    std::vector<bool> duplicate;
    // An id another request is still writing: this request waits for that
    // one's outcome and is then taken again from the start (its events
    // held where the retry takes them from, before the retry can run).
    auto pending = std::make_shared<std::vector<LiveEvent>>(std::move(events));
    claim = ids_.TryClaim(keys, received, &duplicate, [this, pending, done] { Append(std::move(*pending), done); });
    if (claim == nullptr) return;
    events = std::move(*pending);  // claimed: the retry was dropped, nobody else holds them
    for (size_t k = 0; k < with_id.size(); ++k) {
      if (duplicate[k]) a.stored[with_id[k]] = false;
    }
  }
  std::string lines;
  size_t count = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!a.stored[i]) continue;
    AppendJournalLine(events[i], &lines);
    ++count;
  }
  a.events = std::move(events);
  if (count == 0) {
    done(std::move(a));
    if (claim != nullptr) ids_.Settle(claim, /*durable=*/true);
    return;
  }
  auto shared = std::make_shared<Appended>(std::move(a));
  journal_->Append(std::move(lines), count, [this, shared, claim, done = std::move(done)](absl::Status s, uint64_t segment) {
    if (!s.ok()) {
      // The ids are unknown again (retries waiting store the events
      // themselves) before the answer goes.
      if (claim != nullptr) ids_.Settle(claim, /*durable=*/false);
      done(s);
      return;
    }
    shared->at = segment;
    done(std::move(*shared));
    // Durable and applied: remembered, and retries waiting are duplicates.
    if (claim != nullptr) ids_.Settle(claim, /*durable=*/true);
  });
}

absl::Status FileLiveStore::ReadEvents(Position after, const EventFn& fn, uint64_t* damaged) const {
  return ReadJournal(dir_, ledger_->Snapshot(), after, nullptr, 0, fn, damaged);
}

std::optional<ConsentRecord> FileLiveStore::Consent(absl::string_view customer) const {
  return ledger_->Consent(customer);
}

absl::Status FileLiveStore::SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) {
  return ledger_->SetConsent(customer, personalization, at_ms);
}

absl::StatusOr<LiveStore::Erasure> FileLiveStore::Erase(absl::string_view customer, int64_t at_ms) {
  Erasure e;
  auto had = ledger_->Erase(customer, at_ms);
  if (!had.ok()) return had.status();
  e.consent_record = *had;
  // Close the segment being written, so that every event of theirs is in a
  // closed segment that compaction rewrites.
  if (absl::Status s = journal_->Rotate(); !s.ok()) return s;
  e.events_sealed = true;
  return e;
}

std::optional<int64_t> FileLiveStore::ErasedAt(absl::string_view customer) const { return ledger_->ErasedAt(customer); }

CustomerLedger::State FileLiveStore::Snapshot() const { return ledger_->Snapshot(); }

size_t FileLiveStore::erasures() const { return ledger_->erasures(); }

void FileLiveStore::Flush() { journal_->Flush(); }

std::string FileLiveStore::RenderMetrics() const {
  const EventJournal::Stats j = journal_->stats();
  std::string out;
  absl::StrAppend(&out, "# HELP aisle_event_ids Event ids remembered for retries.\n# TYPE aisle_event_ids gauge\n",
                  "aisle_event_ids ", ids_.size(), "\n# HELP aisle_event_ids_in_flight Event ids of requests being written.\n",
                  "# TYPE aisle_event_ids_in_flight gauge\naisle_event_ids_in_flight ", ids_.in_flight(),
                  "\n# HELP aisle_event_id_bytes Memory held by the event ids.\n# TYPE aisle_event_id_bytes gauge\n",
                  "aisle_event_id_bytes ", ids_.bytes(), "\n");
  absl::StrAppend(&out, "# TYPE aisle_event_journal_syncs_total counter\naisle_event_journal_syncs_total ", j.syncs,
                  "\n# TYPE aisle_event_journal_appends_total counter\naisle_event_journal_appends_total ", j.appends,
                  "\n# TYPE aisle_event_journal_bytes_total counter\naisle_event_journal_bytes_total ", j.bytes,
                  "\n# TYPE aisle_event_journal_segment gauge\naisle_event_journal_segment ", j.segment, "\n");
  return out;
}

}  // namespace aisle
