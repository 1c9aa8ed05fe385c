#include "training/event_compaction.h"

#include <functional>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "events/exposure_record.h"

namespace aisle {
namespace {

// How many customers of `model` were erased after its data.
absl::StatusOr<uint64_t> ErasedCustomers(const std::string& path, const CustomerLedger::State& ledger) {
  auto model = ReadModel(path);
  if (!model.ok()) return model.status();
  const int64_t cutoff_ms = model->last_event_unix * 1000 + 999;
  uint64_t n = 0;
  for (const std::string& id : model->customers.ids()) {
    if (auto at = ledger.ErasedAt(id); at && *at > cutoff_ms) ++n;
  }
  return n;
}

// Rewrites a closed segment (atomically) without the lines whose customer
// was erased at or after the line's time. `parse` gives a line's customer
// and time in ms, or nothing for a damaged line (kept as it was). Returns
// the number of lines removed.
using LineOwner = std::function<std::optional<std::pair<std::string, int64_t>>(absl::string_view line)>;

absl::StatusOr<uint64_t> RewriteSegment(const std::string& path, absl::string_view header, const LineOwner& parse,
                                        const CustomerLedger::State& ledger,
                                        absl::flat_hash_map<std::string, std::optional<int64_t>>* erased,
                                        uint64_t* damaged) {
  std::string data;
  if (absl::Status s = ReadFileToString(path, &data); !s.ok()) return s;
  if (!absl::StartsWith(data, header)) {
    return absl::DataLossError(absl::StrCat(path, ": not a segment of this log (bad header)"));
  }
  std::string kept(header);
  uint64_t removed = 0;
  for (size_t pos = header.size(); pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    const absl::string_view line = absl::string_view(data).substr(pos, nl - pos);
    pos = nl + 1;
    if (auto owner = parse(line)) {
      auto [it, inserted] = erased->try_emplace(owner->first);
      if (inserted) it->second = ledger.ErasedAt(owner->first);
      if (it->second && *it->second >= owner->second) {
        ++removed;
        continue;
      }
    } else {
      ++*damaged;
    }
    kept.append(line.data(), line.size());
    kept.push_back('\n');
  }
  if (removed == 0) return 0;
  if (absl::Status s = WriteFileAtomically(path, kept); !s.ok()) return s;
  return removed;
}

}  // namespace

absl::StatusOr<CompactionResult> CompactEvents(const std::string& events_dir, const std::string& publish_dir,
                                               const std::string& exposures_dir) {
  CompactionResult result;
  auto ledger = CustomerLedger::Read(events_dir);
  if (!ledger.ok()) return ledger.status();
  absl::flat_hash_map<std::string, std::optional<int64_t>> erased;  // per customer id
  const LineOwner event_owner = [](absl::string_view line) -> std::optional<std::pair<std::string, int64_t>> {
    auto e = ParseJournalLine(line);
    if (!e.ok()) return std::nullopt;
    return std::make_pair(std::move(e->customer_id), e->received_ms);
  };
  const LineOwner exposure_owner = [](absl::string_view line) -> std::optional<std::pair<std::string, int64_t>> {
    auto r = ParseExposureLine(line);
    if (!r.ok()) return std::nullopt;
    return std::make_pair(std::move(r->customer), r->at_ms);
  };
  struct Log {
    const std::string* dir;
    SegmentFormat format;
    const LineOwner* owner;
    uint64_t* segments;
    uint64_t* rewritten;
    uint64_t* removed;
  };
  std::vector<Log> logs = {{&events_dir, SegmentFormat::Events(), &event_owner, &result.segments,
                            &result.segments_rewritten, &result.events_removed}};
  if (!exposures_dir.empty()) {
    logs.push_back({&exposures_dir, ExposureSegmentFormat(), &exposure_owner, &result.exposure_segments,
                    &result.exposure_segments_rewritten, &result.exposures_removed});
  }
  for (const Log& log : logs) {
    auto segments = EventJournal::ListSegments(*log.dir, /*include_open=*/false, log.format);
    if (!segments.ok()) return segments.status();
    for (const EventJournal::Segment& seg : *segments) {
      ++*log.segments;
      if (ledger->erased.empty()) continue;
      auto removed = RewriteSegment(seg.path, log.format.header, *log.owner, *ledger, &erased, &result.damaged_lines);
      if (!removed.ok()) return removed.status();
      if (*removed == 0) continue;
      ++*log.rewritten;
      *log.removed += *removed;
    }
  }
  if (!publish_dir.empty() && !ledger->erased.empty()) {
    auto removed = RemoveVersions(publish_dir, [&](const PublishedVersion& v) -> absl::StatusOr<bool> {
      auto n = ErasedCustomers(v.path, *ledger);
      if (!n.ok()) return n.status();
      return *n > 0;
    });
    if (!removed.ok()) return removed.status();
    result.models_removed = *std::move(removed);
    if (auto current = CurrentModelPath(publish_dir); current.ok()) {
      auto n = ErasedCustomers(*current, *ledger);
      if (!n.ok()) return n.status();
      result.current_model_erased_customers = *n;
    }
  }
  return result;
}

}  // namespace aisle
