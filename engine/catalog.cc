#include "engine/catalog.h"

#include <algorithm>

#include <cfloat>
#include <charconv>

#include <omp.h>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
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
  if (absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json")) return ParseJsonLinesText(std::move(data), path);
  return ParseCsvText(std::move(data), path);
}

absl::StatusOr<Catalog> Catalog::ParseCsv(absl::string_view data, const std::string& name) {
  return ParseCsvText(std::string(data), name);
}

absl::StatusOr<Catalog> Catalog::ParseJsonLines(absl::string_view data, const std::string& name) {
  return ParseJsonLinesText(std::string(data), name);
}

namespace {

struct CsvColumns {
  int id = -1, name = -1, category = -1, price = -1, stock = -1;
  int need = 0;  // fields a row must have
};

struct CatalogRow {
  absl::string_view id;
  uint64_t hash;  // IdHash(id)
  CatalogEntry entry;
  uint64_t line;
};

// The rows of one piece of a CSV body (whole lines), up to its first bad
// row, which sets `error`. Fields that are not a slice of `text` (unescaped
// quoted fields) are kept in `extra`.
struct CsvPiece {
  std::vector<CatalogRow> rows;
  absl::Status error;
  // Categories numbered within the piece (rows' category_id), in order of
  // first appearance; renumbered for the whole file when pieces are joined.
  std::vector<absl::string_view> categories;
};

// Numbers categories in order of first appearance: `names[i]` is category i.
struct CategoryNumbers {
  absl::flat_hash_map<absl::string_view, int32_t> ids;
  std::vector<absl::string_view>* names;

  int32_t Of(absl::string_view category) {
    auto [it, added] = ids.try_emplace(category, static_cast<int32_t>(names->size()));
    if (added) names->push_back(category);
    return it->second;
  }
};

void ParseCsvPiece(absl::string_view text, absl::string_view piece, uint64_t first_line, bool skip_header,
                   const CsvColumns& col, const std::string& name, std::deque<std::string>* extra,
                   CsvPiece* out) {
  CsvReader reader(piece, ',');
  std::vector<absl::string_view> f;
  CategoryNumbers categories{{}, &out->categories};
  const auto keep = [&](absl::string_view v) {
    v = absl::StripAsciiWhitespace(v);
    if (v.empty() || (v.data() >= text.data() && v.data() + v.size() <= text.data() + text.size())) return v;
    return absl::string_view(extra->emplace_back(v));
  };
  if (skip_header && reader.Next(&f) != CsvReader::Result::kRecord) return;  // checked by the caller
  out->rows.reserve(static_cast<size_t>(std::count(piece.begin(), piece.end(), '\n')) + 1);
  while (true) {
    const CsvReader::Result r = reader.Next(&f);
    if (r == CsvReader::Result::kEnd) return;
    const uint64_t line = first_line + reader.record_line() - 1;
    if (r == CsvReader::Result::kMalformed) return void(out->error = RowError(name, line, reader.error()));
    if (static_cast<int>(f.size()) < col.need) return void(out->error = RowError(name, line, "too few fields"));
    CatalogRow row;
    row.line = line;
    row.id = keep(f[col.id]);
    if (row.id.empty()) return void(out->error = RowError(name, line, "empty product_id"));
    row.hash = IdHash(row.id);
    if (col.name >= 0) row.entry.name = keep(f[col.name]);
    if (col.category >= 0) row.entry.category = keep(f[col.category]);
    if (!row.entry.category.empty()) row.entry.category_id = categories.Of(row.entry.category);
    if (col.price >= 0 && !ParsePrice(f[col.price], &row.entry.price)) {
      return void(out->error = RowError(name, line, absl::StrCat("bad price '", f[col.price], "'")));
    }
    if (col.stock >= 0 && !ParseBool(f[col.stock], &row.entry.in_stock)) {
      return void(out->error = RowError(name, line, absl::StrCat("bad in_stock '", f[col.stock], "'")));
    }
    out->rows.push_back(row);
  }
}

}  // namespace

absl::StatusOr<Catalog> Catalog::ParseCsvText(std::string data, const std::string& name) {
  Catalog c;
  c.storage_->text = std::move(data);
  const absl::string_view text = c.storage_->text;
  CsvColumns col;
  {
    CsvReader reader(text, ',');
    std::vector<absl::string_view> f;
    auto r = reader.Next(&f);
    if (r == CsvReader::Result::kEnd) return c;
    if (r == CsvReader::Result::kMalformed) return RowError(name, reader.record_line(), reader.error());
    for (size_t i = 0; i < f.size(); ++i) {
      absl::string_view h = absl::StripAsciiWhitespace(f[i]);
      if (absl::EqualsIgnoreCase(h, "product_id")) col.id = static_cast<int>(i);
      if (absl::EqualsIgnoreCase(h, "name")) col.name = static_cast<int>(i);
      if (absl::EqualsIgnoreCase(h, "category")) col.category = static_cast<int>(i);
      if (absl::EqualsIgnoreCase(h, "price")) col.price = static_cast<int>(i);
      if (absl::EqualsIgnoreCase(h, "in_stock")) col.stock = static_cast<int>(i);
    }
    if (col.id < 0) return RowError(name, 1, "header has no product_id column");
    c.has_stock_ = col.stock >= 0;
    col.need = std::max({col.id, col.name, col.category, col.price, col.stock}) + 1;
  }
  // Pieces of whole lines parsed on all threads when no record can span
  // lines (no quote anywhere); one piece otherwise. Rows are then added in
  // file order, so the first error reported is the first in the file.
  std::vector<size_t> starts = {0};
  if (text.size() >= (1u << 20) && text.find('"') == absl::string_view::npos) {
    const size_t pieces = 4 * static_cast<size_t>(std::max(1, omp_get_max_threads()));
    for (size_t k = 1; k < pieces; ++k) {
      size_t at = text.find('\n', std::max(starts.back(), text.size() / pieces * k));
      if (at == absl::string_view::npos) break;
      ++at;
      // A piece must not begin with what a reader skips at a buffer's start.
      if (absl::StartsWith(text.substr(at), "\xEF\xBB\xBF")) continue;
      if (at < text.size() && at > starts.back()) starts.push_back(at);
    }
  }
  starts.push_back(text.size());
  const size_t n = starts.size() - 1;
  std::vector<uint64_t> first_line(n, 1);
  for (size_t k = 1; k < n; ++k) {
    first_line[k] = first_line[k - 1] + std::count(text.begin() + starts[k - 1], text.begin() + starts[k], '\n');
  }
  std::vector<CsvPiece> pieces(n);
  c.storage_->extra.resize(n);  // never resized again: entries point into them
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < static_cast<long>(n); ++k) {
    ParseCsvPiece(text, text.substr(starts[k], starts[k + 1] - starts[k]), first_line[k], k == 0, col, name,
                  &c.storage_->extra[k], &pieces[k]);
  }
  size_t rows = 0;
  for (const CsvPiece& p : pieces) rows += p.rows.size();
  c.ids_.Reserve(rows);
  c.entries_.reserve(rows);
  // The table is the serial part: its slots fetched a few rows ahead.
  constexpr size_t kAhead = 16;
  CategoryNumbers categories{{}, &c.categories_};
  for (CsvPiece& p : pieces) {
    std::vector<int32_t> renumber(p.categories.size());
    for (size_t k = 0; k < p.categories.size(); ++k) renumber[k] = categories.Of(p.categories[k]);
    for (size_t i = 0; i < p.rows.size(); ++i) {
      if (i + kAhead < p.rows.size()) c.ids_.Prefetch(p.rows[i + kAhead].hash);
      const CatalogRow& row = p.rows[i];
      if (c.ids_.InsertHashed(row.id, row.hash) != c.entries_.size()) {
        return RowError(name, row.line, absl::StrCat("duplicate product_id '", row.id, "'"));
      }
      c.entries_.push_back(row.entry);
      if (row.entry.category_id >= 0) c.entries_.back().category_id = renumber[row.entry.category_id];
    }
    if (!p.error.ok()) return p.error;
    p.rows = {};
  }
  return c;
}

std::vector<const CatalogEntry*> Catalog::FindAll(const IdMap& products) const {
  const long n = static_cast<long>(products.size());
  std::vector<const CatalogEntry*> out(static_cast<size_t>(n), nullptr);
  constexpr long kBlock = 4096, kAhead = 16;
#pragma omp parallel
  {
    std::vector<uint64_t> hashes(kBlock);
#pragma omp for schedule(static)
    for (long b = 0; b < n; b += kBlock) {
      const long m = std::min(kBlock, n - b);
      for (long i = 0; i < m; ++i) hashes[i] = IdHash(products.id_view(static_cast<uint32_t>(b + i)));
      for (long i = 0; i < m; ++i) {
        if (i + kAhead < m) ids_.Prefetch(hashes[i + kAhead]);
        const std::optional<uint32_t> e = ids_.FindHashed(products.id_view(static_cast<uint32_t>(b + i)), hashes[i]);
        if (e) out[b + i] = &entries_[*e];
      }
    }
  }
  return out;
}

absl::StatusOr<Catalog> Catalog::ParseJsonLinesText(std::string data, const std::string& name) {
  Catalog c;
  std::deque<std::string>& extra = c.storage_->extra.emplace_back();
  const auto keep = [&extra](std::string s) { return absl::string_view(extra.emplace_back(std::move(s))); };
  CategoryNumbers categories{{}, &c.categories_};
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
      e.name = keep(it->get<std::string>());
    }
    if (auto it = j.find("category"); it != j.end() && !it->is_null()) {
      if (!it->is_string()) return RowError(name, line, "category is not a string");
      e.category = keep(it->get<std::string>());
      if (!e.category.empty()) e.category_id = categories.Of(e.category);
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
      c.has_stock_ = true;
    }
    if (c.ids_.Insert(id) != c.entries_.size()) {
      return RowError(name, line, absl::StrCat("duplicate product_id '", id, "'"));
    }
    c.entries_.push_back(e);
  }
  return c;
}

}  // namespace aisle
