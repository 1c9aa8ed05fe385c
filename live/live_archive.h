// LiveArchive: the nightly drain of the live store several servers share
// (live/redis_live_store.h) into a directory the trainer and compaction
// read exactly as they read one server's --events_dir: closed journal
// segments (events-NNNNNN.csv, events/event_journal.h) and the customer
// ledger (consent choices and erasures, under the store's pseudonym key).
// Run as `aisle-train archive-live` from cron, before training.
//
// One run takes the stream entries older than `lag` (the servers' followers
// have long read them) after where the last run stopped, writes their
// events (not those of customers erased since) as one new segment and their
// consent choices and erasures to the ledger, records in Redis which stream
// position the segment ends at (PREFIX archived: segment -> stream id, how
// a server tells which live events a model trained on the segments holds),
// and trims the stream to there. So the events of an erased customer still
// in the stream go with the run after their erasure.
// Crash-safe: the run's plan is written (atomically) before its segment and
// removed after Redis has the position, and a run that finds a plan
// finishes it; a segment is never written twice. One run at a time per
// directory (its .lock, as a server's journal); not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "live/redis_live_store.h"

namespace aisle {

struct LiveArchiveOptions {
  RedisLiveStore::Options store;
  std::string dir;
  absl::Duration lag = absl::Minutes(10);  // entries younger than this stay in the stream
  std::function<void()> before_finish;     // tests: runs once the segment is written, before Redis is told
};

struct LiveArchiveResult {
  uint64_t entries = 0;           // stream entries archived
  uint64_t events = 0;            // events written to the segment
  uint64_t events_of_erased = 0;  // left out: their customer was erased since
  uint64_t consent_changes = 0;
  uint64_t erasures = 0;
  uint64_t segment = 0;           // the segment written (0: no events)
  std::string through;            // the last stream id archived ("" nothing new)
  uint64_t trimmed = 0;           // entries removed from the stream
  bool finished_earlier_run = false;  // a run interrupted after its segment was completed
};

absl::StatusOr<LiveArchiveResult> ArchiveLiveStore(const LiveArchiveOptions& options);

}  // namespace aisle
