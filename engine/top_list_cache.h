// TopListCache: ranked product lists of one model (a customer's best
// products, a product's most similar ones), kept within a memory budget
// instead of computed for everyone at load: a list is stored when a request
// computes it, or by a background warm-up, and the least recently used lists
// are evicted when the budget is reached. A new model gets a new cache, so
// lists never outlive the model that scored them.
// A list shorter than length() is complete: it holds every candidate there
// was. Thread-safe (sharded locks); lists are immutable once stored.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "engine/topk.h"

namespace aisle {

struct RepurchaseState;  // engine/buy_again.h

struct CachedList {
  std::vector<uint32_t> products;  // best first
  std::vector<float> scores;
  // A customer's buy-again state for merging due products into answers
  // from this list (null: none; models without buy-again, products' lists).
  std::shared_ptr<const RepurchaseState> repurchase;
  size_t bytes = 0;  // what the cache counts for this entry
};

class TopListCache {
 public:
  // Lists of `length` products within `max_bytes` (entries and their
  // bookkeeping counted).
  TopListCache(size_t length, size_t max_bytes);
  TopListCache(const TopListCache&) = delete;
  TopListCache& operator=(const TopListCache&) = delete;

  size_t length() const { return length_; }
  size_t max_bytes() const { return max_bytes_; }

  // The list of `key`, or null; a hit makes it the most recently used.
  std::shared_ptr<const CachedList> Find(uint32_t key) const;
  // The same without statistics or recency change (a second look by the
  // request that just found it).
  std::shared_ptr<const CachedList> Peek(uint32_t key) const;
  // True when `key` has a list (no statistics, no recency change).
  bool Contains(uint32_t key) const;
  // Stores the list of `key` (at most length() items, best first), evicting
  // the least recently used lists of its shard while over budget. Returns
  // false when a list alone exceeds the shard's budget (nothing stored).
  // `repurchase` (optional) is kept with the list, its `repurchase_bytes`
  // counted in the budget.
  bool Insert(uint32_t key, absl::Span<const ScoredItem> items,
              std::shared_ptr<const RepurchaseState> repurchase = nullptr, size_t repurchase_bytes = 0);
  // True when another list of this length would have to evict one.
  bool Full() const;

  // Bytes a list of `length` costs in the cache (for sizing).
  static size_t EntryBytes(size_t length);

  struct Stats {
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0;
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    // Most recently used at the front.
    mutable std::list<std::pair<uint32_t, std::shared_ptr<const CachedList>>> lru;
    absl::flat_hash_map<uint32_t, decltype(lru)::iterator> index;
    size_t bytes = 0;
  };
  static constexpr size_t kShards = 64;
  Shard& ShardOf(uint32_t key) const { return shards_[(key * 0x9E3779B1u) >> 26]; }

  const size_t length_;
  const size_t max_bytes_;
  const size_t shard_budget_;
  mutable std::vector<Shard> shards_;
  mutable std::atomic<uint64_t> hits_{0}, misses_{0}, inserts_{0}, evictions_{0};
};

}  // namespace aisle
