#include "training/event_compaction.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"

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

}  // namespace

absl::StatusOr<CompactionResult> CompactEvents(const std::string& events_dir, const std::string& publish_dir) {
  CompactionResult result;
  auto ledger = CustomerLedger::Read(events_dir);
  if (!ledger.ok()) return ledger.status();
  auto segments = EventJournal::ListSegments(events_dir, /*include_open=*/false);
  if (!segments.ok()) return segments.status();
  absl::flat_hash_map<std::string, std::optional<int64_t>> erased;  // per customer id
  for (const EventJournal::Segment& seg : *segments) {
    ++result.segments;
    if (ledger->erased.empty()) continue;
    std::string data;
    if (absl::Status s = ReadFileToString(seg.path, &data); !s.ok()) return s;
    const absl::string_view header = JournalHeader();
    if (!absl::StartsWith(data, header)) {
      return absl::DataLossError(absl::StrCat(seg.path, ": not an event journal segment (bad header)"));
    }
    std::string kept(header);
    uint64_t removed = 0;
    for (size_t pos = header.size(); pos < data.size();) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) nl = data.size();
      const absl::string_view line = absl::string_view(data).substr(pos, nl - pos);
      pos = nl + 1;
      auto e = ParseJournalLine(line);
      if (e.ok()) {
        auto [it, inserted] = erased.try_emplace(e->customer_id);
        if (inserted) it->second = ledger->ErasedAt(e->customer_id);
        if (it->second && *it->second >= e->received_ms) {
          ++removed;
          continue;
        }
      } else {
        ++result.damaged_lines;
      }
      kept.append(line.data(), line.size());
      kept.push_back('\n');
    }
    if (removed == 0) continue;
    if (absl::Status s = WriteFileAtomically(seg.path, kept); !s.ok()) return s;
    ++result.segments_rewritten;
    result.events_removed += removed;
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
