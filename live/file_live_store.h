// FileLiveStore: the live store in one server's directory, the embedded
// default (no other process to run): events in the append-only event
// journal (events/event_journal.h: group-committed, fdatasync'ed before an
// append is answered, segments the trainer reads), consent and erasures in
// the customer ledger (events/customer_ledger.h), and the event ids of the
// last `window` in memory (events/event_ids.h), read back from the recent
// segments at Open. One process per directory (the journal's lock).
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "events/event_ids.h"
#include "events/event_journal.h"
#include "live/live_store.h"

namespace aisle {

class FileLiveStore : public LiveStore {
 public:
  struct Options {
    EventJournal::Options journal;
    EventIds::Options ids;
  };
  struct OpenStats {
    EventJournal::OpenStats journal;
    uint64_t damaged_lines = 0;  // lines of closed segments that failed their checksum
  };
  // Opens (or creates) the store in `dir` and reads it back in one pass:
  // the ids of the segments written within the ids' window are remembered,
  // and every event stored after `live_after` goes to `on_live` (as
  // ReadEvents would give it).
  static absl::StatusOr<std::unique_ptr<FileLiveStore>> Open(const std::string& dir, Options options,
                                                             Position live_after, const EventFn& on_live,
                                                             OpenStats* stats = nullptr);
  ~FileLiveStore() override;

  void Append(std::vector<LiveEvent> events, AppendDone done) override;
  absl::Status ReadEvents(Position after, const EventFn& fn, uint64_t* damaged = nullptr) const override;
  std::optional<ConsentRecord> Consent(absl::string_view customer) const override;
  absl::Status SetConsent(absl::string_view customer, bool personalization, int64_t at_ms) override;
  absl::StatusOr<Erasure> Erase(absl::string_view customer, int64_t at_ms) override;
  std::optional<int64_t> ErasedAt(absl::string_view customer) const override;
  CustomerLedger::State Snapshot() const override;
  size_t erasures() const override;
  void Flush() override;
  std::string RenderMetrics() const override;

  const EventIds& ids() const { return ids_; }
  EventJournal::Stats journal_stats() const { return journal_->stats(); }

 private:
  FileLiveStore(std::string dir, Options options) : dir_(std::move(dir)), options_(options), ids_(options.ids) {}
  // The segments' events after `after` to `fn`; with `remember_ids`, the
  // ids of those written within the window too.
  absl::Status Read(Position after, bool remember_ids, const EventFn& fn, uint64_t* damaged);

  const std::string dir_;
  const Options options_;
  std::unique_ptr<EventJournal> journal_;
  std::unique_ptr<CustomerLedger> ledger_;
  EventIds ids_;
};

}  // namespace aisle
