#include "engine/top_list_cache.h"

#include <algorithm>

namespace aisle {

TopListCache::TopListCache(size_t length, size_t max_bytes)
    : length_(length), max_bytes_(max_bytes), shard_budget_(max_bytes / kShards), shards_(kShards) {}

size_t TopListCache::EntryBytes(size_t length) {
  // The two arrays, the list object and its control block, the LRU node and
  // the index slot.
  return length * (sizeof(uint32_t) + sizeof(float)) + sizeof(CachedList) + 32 + 48 + 24;
}

std::shared_ptr<const CachedList> TopListCache::Find(uint32_t key) const {
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->second;
}

std::shared_ptr<const CachedList> TopListCache::Peek(uint32_t key) const {
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  return it == s.index.end() ? nullptr : it->second->second;
}

bool TopListCache::Contains(uint32_t key) const {
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.index.contains(key);
}

bool TopListCache::Full() const {
  const size_t need = EntryBytes(length_);
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.bytes + need <= shard_budget_) return false;
  }
  return true;
}

bool TopListCache::Insert(uint32_t key, absl::Span<const ScoredItem> items,
                          std::shared_ptr<const RepurchaseState> repurchase, size_t repurchase_bytes) {
  const size_t n = std::min(items.size(), length_);
  const size_t cost = EntryBytes(n) + repurchase_bytes;
  if (cost > shard_budget_) return false;
  auto list = std::make_shared<CachedList>();
  list->repurchase = std::move(repurchase);
  list->bytes = cost;
  list->products.reserve(n);
  list->scores.reserve(n);
  for (size_t j = 0; j < n; ++j) {
    list->products.push_back(items[j].index);
    list->scores.push_back(items[j].score);
  }
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  if (it != s.index.end()) {
    // Another request computed it first; keep one (the same lists).
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return true;
  }
  while (s.bytes + cost > shard_budget_ && !s.lru.empty()) {
    const auto& victim = s.lru.back();
    s.bytes -= victim.second->bytes;
    s.index.erase(victim.first);
    s.lru.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  s.lru.emplace_front(key, std::move(list));
  s.index.emplace(key, s.lru.begin());
  s.bytes += cost;
  inserts_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

TopListCache::Stats TopListCache::stats() const {
  Stats st;
  st.hits = hits_.load(std::memory_order_relaxed);
  st.misses = misses_.load(std::memory_order_relaxed);
  st.inserts = inserts_.load(std::memory_order_relaxed);
  st.evictions = evictions_.load(std::memory_order_relaxed);
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    st.entries += s.index.size();
    st.bytes += s.bytes;
  }
  return st;
}

}  // namespace aisle
