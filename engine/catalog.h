// Catalog: product attributes loaded beside the model (name, category,
// price, in stock), used for request filters and returned with each
// recommendation. Two file forms (data/FORMATS.md, "Product catalog"):
//  - CSV with a header: product_id (required), name, category, price, in_stock;
//  - JSON lines: {"product_id": "...", "name": ..., "category": ..., "price": ..., "in_stock": ...}.
// Immutable once loaded; concurrent reads are safe.
#pragma once

#include <cmath>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

struct CatalogEntry {
  std::string name;
  std::string category;
  float price = NAN;     // NaN when unknown
  bool in_stock = true;
};

class Catalog {
 public:
  // Loads a .jsonl / .json file as JSON lines and anything else as CSV.
  // NotFound when missing; InvalidArgument naming file and line for a
  // malformed row, a duplicate product id or a missing product_id column.
  static absl::StatusOr<Catalog> Load(const std::string& path);
  static absl::StatusOr<Catalog> ParseCsv(absl::string_view data, const std::string& name);
  static absl::StatusOr<Catalog> ParseJsonLines(absl::string_view data, const std::string& name);

  // nullptr when the product is not in the catalog.
  const CatalogEntry* Find(absl::string_view product_id) const {
    auto it = entries_.find(product_id);
    return it == entries_.end() ? nullptr : &it->second;
  }
  size_t size() const { return entries_.size(); }

 private:
  absl::flat_hash_map<std::string, CatalogEntry> entries_;
};

}  // namespace aisle
