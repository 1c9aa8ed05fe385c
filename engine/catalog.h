// Catalog: product attributes loaded beside the model (name, category,
// price, in stock), used for request filters and returned with each
// recommendation. Two file forms (data/FORMATS.md, "Product catalog"):
//  - CSV with a header: product_id (required), name, category, price, in_stock;
//  - JSON lines: {"product_id": "...", "name": ..., "category": ..., "price": ..., "in_stock": ...}.
// Immutable once loaded; concurrent reads are safe.
// Compact for a million products: names and categories are views into the
// file's own bytes (or, for quoted and JSON fields, into a side store both
// owned by the catalog and shared by its copies), the ids an IdMap, and a
// CSV file without quotes is split into fields on all OpenMP threads.
#pragma once

#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/id_map.h"

namespace aisle {

struct CatalogEntry {
  absl::string_view name;      // valid while the catalog (or a copy) lives
  absl::string_view category;
  int32_t category_id = -1;    // index into Catalog::categories(); -1 when empty
  float price = NAN;     // NaN when unknown
  bool in_stock = true;
};

class Catalog {
 public:
  // Loads a .jsonl / .json file as JSON lines and anything else as CSV.
  // NotFound when missing; InvalidArgument naming file and line for a
  // malformed row, a duplicate product id or a missing product_id column.
  static absl::StatusOr<Catalog> Load(const std::string& path);
  // Copy `data` (the catalog keeps views into its own copy).
  static absl::StatusOr<Catalog> ParseCsv(absl::string_view data, const std::string& name);
  static absl::StatusOr<Catalog> ParseJsonLines(absl::string_view data, const std::string& name);

  // nullptr when the product is not in the catalog.
  const CatalogEntry* Find(absl::string_view product_id) const {
    const std::optional<uint32_t> i = ids_.Find(product_id);
    return i ? &entries_[*i] : nullptr;
  }
  // The entry of every id of `products`, by its index (nullptr when not in
  // the catalog), looked up on all OpenMP threads with the table's misses
  // overlapped: the join a recommender makes of a million products.
  std::vector<const CatalogEntry*> FindAll(const IdMap& products) const;
  size_t size() const { return entries_.size(); }
  // Whether the file says which products are in stock (a CSV in_stock
  // column, an in_stock field in some JSON line): servers then recommend
  // only products in stock unless a request asks otherwise.
  bool has_stock() const { return has_stock_; }
  // The distinct non-empty categories, in order of first appearance in the file.
  const std::vector<absl::string_view>& categories() const { return categories_; }

 private:
  // The bytes entries point into: the file, and fields that are not a
  // plain slice of it (unescaped quoted fields, JSON strings).
  struct Storage {
    std::string text;
    std::vector<std::deque<std::string>> extra;  // one per parsed piece
  };
  static absl::StatusOr<Catalog> ParseCsvText(std::string text, const std::string& name);
  static absl::StatusOr<Catalog> ParseJsonLinesText(std::string text, const std::string& name);

  std::shared_ptr<Storage> storage_ = std::make_shared<Storage>();
  IdMap ids_;
  std::vector<CatalogEntry> entries_;  // by index in ids_
  bool has_stock_ = false;
  std::vector<absl::string_view> categories_;
};

}  // namespace aisle
