// IdMap: a bijection between external string ids (customer or product ids as
// the store writes them) and dense indexes 0..size()-1 in insertion order.
// Compact: the ids are one byte string with offsets, looked up through an
// open-addressing table of indexes (linear probing, at most half full) keyed
// by IdHash, a hash fixed for all builds, so that model files store the
// table as it is and a server loads it without hashing millions of ids
// (engine/model_io.h; FromParts checks every id is found at its own index).
// About 2.5 x 4 bytes per id plus the ids' bytes (a flat_hash_map of
// std::string took some 80).
// Not thread-safe for writes; concurrent const lookups are safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace aisle {

// The hash of an id: stable across builds and machines (it is stored in
// model files); pinned by a test.
uint64_t IdHash(absl::string_view id);

class IdMap {
 public:
  static constexpr uint32_t kMaxSize = 0xFFFFFFFEu;

  // Returns the index of `id`, adding it at the end when new.
  uint32_t Insert(absl::string_view id) { return InsertHashed(id, IdHash(id)); }
  // The same with `hash` == IdHash(id) already known (computed on other
  // threads), and a hint to fetch the slot an id of that hash probes first
  // ahead of its Insert or Find: a bulk load or join of a million ids
  // issues them a few ids ahead, so the table's cache misses overlap (the
  // table must not grow in between: Reserve first).
  uint32_t InsertHashed(absl::string_view id, uint64_t hash);
  void Prefetch(uint64_t hash) const {
    if (slots_.empty()) return;
    const size_t s = hash & (slots_.size() - 1);
    __builtin_prefetch(&slots_[s]);
    __builtin_prefetch(&tags_[s]);
  }
  // The index of `id`, or nullopt when unknown.
  std::optional<uint32_t> Find(absl::string_view id) const { return FindHashed(id, IdHash(id)); }
  // The same with `hash` == IdHash(id) already known (see Prefetch).
  std::optional<uint32_t> FindHashed(absl::string_view id, uint64_t h) const {
    if (slots_.empty()) return std::nullopt;
    const size_t mask = slots_.size() - 1;
    const uint8_t tag = Tag(h);
    for (size_t s = h & mask, probes = 0; probes <= mask; s = (s + 1) & mask, ++probes) {
      const uint32_t v = slots_[s];
      if (v == 0) return std::nullopt;
      if (tags_[s] == tag && id_unchecked(v - 1) == id) return v - 1;
    }
    return std::nullopt;
  }
  // REQUIRES: index < size(). A view into the map (valid while it lives
  // unchanged), or a copy.
  absl::string_view id_view(uint32_t index) const { return id_unchecked(index); }
  std::string id(uint32_t index) const { return std::string(id_unchecked(index)); }
  // A copy of all ids, in index order (tools and tests).
  std::vector<std::string> ids() const;
  size_t size() const { return offsets_.size() - 1; }
  void Reserve(size_t n);

  // Builds a map from a list of distinct ids. Returns false on a duplicate.
  bool Assign(const std::vector<std::string>& ids);

  // The stored form (model files): the ids' bytes, size() + 1 offsets into
  // them, and the table (a power of two of slots, each 0 or index + 1).
  const std::string& bytes() const { return bytes_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }
  const std::vector<uint32_t>& slots() const { return slots_; }
  // A map from its stored form, checked completely: offsets ascending within
  // the bytes, a table of a power of two at most half full, and every id
  // found at its own index (so no id is duplicated or unreachable), on all
  // OpenMP threads. The reason when it is not consistent.
  static std::optional<std::string> FromParts(std::string bytes, std::vector<uint64_t> offsets,
                                              std::vector<uint32_t> slots, IdMap* out);

 private:
  // Eight more bits of an id's hash beside its slot, so that a probe past
  // other ids rarely reads their bytes (not stored in files: rebuilt).
  static uint8_t Tag(uint64_t h) { return static_cast<uint8_t>(h >> 56); }
  absl::string_view id_unchecked(uint32_t index) const {
    return absl::string_view(bytes_.data() + offsets_[index], offsets_[index + 1] - offsets_[index]);
  }
  void Rehash(size_t slots);

  std::string bytes_;
  std::vector<uint64_t> offsets_ = {0};
  std::vector<uint32_t> slots_;
  std::vector<uint8_t> tags_;  // per slot
};

}  // namespace aisle
