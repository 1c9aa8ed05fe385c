#include "engine/top_list_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace aisle {
namespace {

std::vector<ScoredItem> List(uint32_t key, size_t n) {
  std::vector<ScoredItem> v;
  for (size_t i = 0; i < n; ++i) v.push_back({static_cast<uint32_t>(key + i), 1.0f / static_cast<float>(i + 1)});
  return v;
}

TEST(TopListCacheTest, StoresAndFindsLists) {
  TopListCache cache(4, 1 << 20);
  EXPECT_EQ(cache.Find(7), nullptr);
  ASSERT_TRUE(cache.Insert(7, List(100, 6)));  // cut to the length
  auto l = cache.Find(7);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->products, (std::vector<uint32_t>{100, 101, 102, 103}));
  EXPECT_FLOAT_EQ(l->scores[1], 0.5f);
  ASSERT_TRUE(cache.Insert(8, List(5, 2)));  // a short list stays short (complete)
  EXPECT_EQ(cache.Find(8)->products.size(), 2u);
  const TopListCache::Stats st = cache.stats();
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.bytes, TopListCache::EntryBytes(4) + TopListCache::EntryBytes(2));
}

// Never over budget; the least recently used list of a shard goes first.
TEST(TopListCacheTest, BudgetEvictsTheLeastRecentlyUsed) {
  const size_t length = 8, per_shard = 3;
  TopListCache cache(length, 64 * per_shard * TopListCache::EntryBytes(length));
  // Keys of one shard: the cache hashes key * 0x9E3779B1 >> 26.
  std::vector<uint32_t> same;
  for (uint32_t k = 0; same.size() < 5; ++k) {
    if (((k * 0x9E3779B1u) >> 26) == 0) same.push_back(k);
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.Insert(same[i], List(i, length)));
  ASSERT_NE(cache.Find(same[0]), nullptr);  // now the most recent: same[1] is the oldest
  ASSERT_TRUE(cache.Insert(same[3], List(3, length)));
  EXPECT_EQ(cache.Find(same[1]), nullptr);
  EXPECT_NE(cache.Find(same[0]), nullptr);
  EXPECT_NE(cache.Find(same[2]), nullptr);
  EXPECT_NE(cache.Find(same[3]), nullptr);
  EXPECT_EQ(cache.stats().evictions, 1u);
  // Many keys: the total stays within the budget.
  for (uint32_t k = 0; k < 10000; ++k) cache.Insert(k, List(k, length));
  EXPECT_LE(cache.stats().bytes, cache.max_bytes());
  EXPECT_TRUE(cache.Full());
  EXPECT_GT(cache.stats().entries, 64u * 2);
  // A budget below one list stores nothing.
  TopListCache tiny(length, 100);
  EXPECT_FALSE(tiny.Insert(1, List(1, length)));
  EXPECT_EQ(tiny.Find(1), nullptr);
}

TEST(TopListCacheTest, ConcurrentReadersAndWriters) {
  TopListCache cache(16, 256 * TopListCache::EntryBytes(16));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (uint32_t i = 0; i < 20000; ++i) {
        const uint32_t key = (i * 7 + static_cast<uint32_t>(t)) % 1000;
        if (auto l = cache.Find(key)) {
          ASSERT_EQ(l->products[0], key);  // a list is never seen half-written
        } else {
          cache.Insert(key, List(key, 16));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.stats().bytes, cache.max_bytes());
}

}  // namespace
}  // namespace aisle
