// IdMap: a bijection between external string ids (customer or product ids as
// the store writes them) and dense indexes 0..size()-1 in insertion order.
// Not thread-safe for writes; concurrent const lookups are safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace aisle {

class IdMap {
 public:
  static constexpr uint32_t kMaxSize = 0xFFFFFFFEu;

  // Returns the index of `id`, adding it at the end when new.
  uint32_t Insert(absl::string_view id) {
    auto [it, inserted] = index_.try_emplace(id, static_cast<uint32_t>(ids_.size()));
    if (inserted) ids_.emplace_back(id);
    return it->second;
  }
  // The index of `id`, or nullopt when unknown.
  std::optional<uint32_t> Find(absl::string_view id) const {
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  // REQUIRES: index < size().
  const std::string& id(uint32_t index) const { return ids_[index]; }
  const std::vector<std::string>& ids() const { return ids_; }
  size_t size() const { return ids_.size(); }
  void Reserve(size_t n) {
    ids_.reserve(n);
    index_.reserve(n);
  }

  // Builds a map from a list of distinct ids. Returns false on a duplicate.
  bool Assign(std::vector<std::string> ids) {
    ids_ = std::move(ids);
    index_.clear();
    index_.reserve(ids_.size());
    for (uint32_t i = 0; i < ids_.size(); ++i) {
      if (!index_.try_emplace(ids_[i], i).second) return false;
    }
    return true;
  }

 private:
  std::vector<std::string> ids_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

}  // namespace aisle
