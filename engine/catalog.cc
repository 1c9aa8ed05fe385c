#include "engine/catalog.h"

#include <algorithm>

#include <cfloat>
#include <charconv>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/csv_reader.h"
#include "engine/atomic_file.h"
#include "engine/json_text.h"

namespace aisle {
namespace {

absl::Status RowError(const std::string& name, uint64_t line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": ", why));
}

bool ParseBool(absl::string_view s, bool* out) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return *out = true, true;
  for (absl::string_view t : {"1", "true", "yes", "y"}) {
    if (absl::EqualsIgnoreCase(s, t)) return *out = true, true;
  }
  for (absl::string_view f : {"0", "false", "no", "n"}) {
    if (absl::EqualsIgnoreCase(s, f)) return *out = false, true;
  }
  return false;
}

bool ParsePrice(absl::string_view s, float* out) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return *out = NAN, true;
  float v;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !(v >= 0) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

absl::StatusOr<Catalog> Catalog::Load(const std::string& path) {
  // Read, not mapped: a catalog rewritten while it loads cannot raise SIGBUS.
  std::string data;
  if (absl::Status s = ReadFileToString(path, &data); !s.ok()) return s;
  if (absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json")) return ParseJsonLines(data, path);
  return ParseCsv(data, path);
}

absl::StatusOr<Catalog> Catalog::ParseCsv(absl::string_view data, const std::string& name) {
  Catalog c;
  CsvReader reader(data, ',');
  std::vector<absl::string_view> f;
  auto r = reader.Next(&f);
  if (r == CsvReader::Result::kEnd) return c;
  if (r == CsvReader::Result::kMalformed) return RowError(name, reader.record_line(), reader.error());
  int id = -1, nm = -1, cat = -1, price = -1, stock = -1;
  for (size_t i = 0; i < f.size(); ++i) {
    absl::string_view h = absl::StripAsciiWhitespace(f[i]);
    if (absl::EqualsIgnoreCase(h, "product_id")) id = static_cast<int>(i);
    if (absl::EqualsIgnoreCase(h, "name")) nm = static_cast<int>(i);
    if (absl::EqualsIgnoreCase(h, "category")) cat = static_cast<int>(i);
    if (absl::EqualsIgnoreCase(h, "price")) price = static_cast<int>(i);
    if (absl::EqualsIgnoreCase(h, "in_stock")) stock = static_cast<int>(i);
  }
  if (id < 0) return RowError(name, 1, "header has no product_id column");
  const int need = std::max({id, nm, cat, price, stock}) + 1;
  // One product per line at most: the table sized once (no rehashing a
  // million entries as it grows).
  c.entries_.reserve(static_cast<size_t>(std::count(data.begin(), data.end(), '\n')));
  while (true) {
    r = reader.Next(&f);
    if (r == CsvReader::Result::kEnd) break;
    const uint64_t line = reader.record_line();
    if (r == CsvReader::Result::kMalformed) return RowError(name, line, reader.error());
    if (static_cast<int>(f.size()) < need) return RowError(name, line, "too few fields");
    absl::string_view pid = absl::StripAsciiWhitespace(f[id]);
    if (pid.empty()) return RowError(name, line, "empty product_id");
    CatalogEntry e;
    if (nm >= 0) e.name = std::string(absl::StripAsciiWhitespace(f[nm]));
    if (cat >= 0) e.category = std::string(absl::StripAsciiWhitespace(f[cat]));
    if (price >= 0 && !ParsePrice(f[price], &e.price)) return RowError(name, line, absl::StrCat("bad price '", f[price], "'"));
    if (stock >= 0 && !ParseBool(f[stock], &e.in_stock)) {
      return RowError(name, line, absl::StrCat("bad in_stock '", f[stock], "'"));
    }
    if (!c.entries_.try_emplace(pid, std::move(e)).second) {
      return RowError(name, line, absl::StrCat("duplicate product_id '", pid, "'"));
    }
  }
  return c;
}

absl::StatusOr<Catalog> Catalog::ParseJsonLines(absl::string_view data, const std::string& name) {
  Catalog c;
  uint64_t line = 0;
  for (absl::string_view text : absl::StrSplit(data, '\n')) {
    ++line;
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    auto parsed = ParseJsonText(text);
    if (!parsed.ok()) return RowError(name, line, absl::StrCat("not a JSON object: ", parsed.status().message()));
    const nlohmann::json& j = *parsed;
    if (!j.is_object()) return RowError(name, line, "not a JSON object");
    auto pid = j.find("product_id");
    if (pid == j.end() || !(pid->is_string() || pid->is_number_integer())) {
      return RowError(name, line, "product_id missing or not a string");
    }
    const std::string id = pid->is_string() ? pid->get<std::string>() : pid->dump();
    if (id.empty()) return RowError(name, line, "empty product_id");
    CatalogEntry e;
    if (auto it = j.find("name"); it != j.end() && !it->is_null()) {
      if (!it->is_string()) return RowError(name, line, "name is not a string");
      e.name = it->get<std::string>();
    }
    if (auto it = j.find("category"); it != j.end() && !it->is_null()) {
      if (!it->is_string()) return RowError(name, line, "category is not a string");
      e.category = it->get<std::string>();
    }
    if (auto it = j.find("price"); it != j.end() && !it->is_null()) {
      if (!it->is_number() || !(it->get<double>() >= 0) || it->get<double>() > FLT_MAX) {
        return RowError(name, line, "price is not a number >= 0 within float range");
      }
      e.price = it->get<float>();
    }
    if (auto it = j.find("in_stock"); it != j.end() && !it->is_null()) {
      if (!it->is_boolean()) return RowError(name, line, "in_stock is not true or false");
      e.in_stock = it->get<bool>();
    }
    if (!c.entries_.try_emplace(id, std::move(e)).second) {
      return RowError(name, line, absl::StrCat("duplicate product_id '", id, "'"));
    }
  }
  return c;
}

}  // namespace aisle
