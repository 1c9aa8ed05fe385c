#include "events/exposure_record.h"

#include "engine/atomic_file.h"
#include "engine/json_text.h"

namespace aisle {

absl::StatusOr<ExposureRecord> ParseExposureLine(absl::string_view line) {
  auto j = ParseJsonText(line);
  if (!j.ok()) return j.status();
  auto text = [&](const char* key, bool nullable) -> std::optional<std::string> {
    auto it = j->find(key);
    if (it == j->end()) return std::nullopt;
    if (it->is_null() && nullable) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  if (!j->is_object()) return absl::InvalidArgumentError("not an exposure record");
  ExposureRecord r;
  auto id = text("recommendation_id", false), customer = text("customer", false), endpoint = text("endpoint", false);
  auto experiment = text("experiment", true), variant = text("variant", true);
  auto at = j->find("at_ms");
  auto items = j->find("items");
  if (!id || !customer || !endpoint || !experiment || !variant || at == j->end() || !at->is_number_integer() ||
      items == j->end() || !items->is_array()) {
    return absl::InvalidArgumentError("not an exposure record");
  }
  r.recommendation_id = *id;
  r.customer = *customer;
  r.endpoint = *endpoint;
  r.experiment = *experiment;
  r.variant = *variant;
  r.at_ms = at->get<int64_t>();
  for (const auto& x : *items) {
    if (!x.is_string()) return absl::InvalidArgumentError("not an exposure record");
    r.items.push_back(x.get<std::string>());
  }
  return r;
}

SegmentFormat ExposureSegmentFormat() {
  SegmentFormat f;
  f.prefix = "exposures-";
  f.suffix = ".jsonl";
  f.intact = [](absl::string_view line) { return ParseExposureLine(line).ok(); };
  return f;
}

absl::StatusOr<std::vector<ExposureRecord>> ReadExposures(const std::string& dir) {
  auto segments = EventJournal::ListSegments(dir, /*include_open=*/true, ExposureSegmentFormat());
  if (!segments.ok()) return segments.status();
  std::vector<ExposureRecord> out;
  for (const EventJournal::Segment& s : *segments) {
    std::string text;
    if (absl::Status st = ReadFileToString(s.path, &text); !st.ok()) return st;
    for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      auto r = ParseExposureLine(absl::string_view(text).substr(pos, nl - pos));
      if (r.ok()) out.push_back(*std::move(r));
    }
  }
  return out;
}

}  // namespace aisle
