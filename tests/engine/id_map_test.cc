#include "engine/id_map.h"

#include <gtest/gtest.h>

#include <random>

namespace aisle {
namespace {

// Model files store tables built with this hash: it must never change.
TEST(IdMapTest, HashIsPinned) {
  EXPECT_EQ(IdHash(""), 0x8cedb14d401d7353ull);
  EXPECT_EQ(IdHash("customer-42"), 0x16b365261256fe0aull);
  EXPECT_EQ(IdHash("a much longer id of 33 bytes long"), 0xf90869b20d4d56edull);
}

TEST(IdMapTest, InsertFindAndGrow) {
  IdMap m;
  EXPECT_FALSE(m.Find("x").has_value());
  for (int i = 0; i < 100000; ++i) EXPECT_EQ(m.Insert("id-" + std::to_string(i)), static_cast<uint32_t>(i));
  EXPECT_EQ(m.Insert("id-77"), 77u);  // known: not added again
  EXPECT_EQ(m.size(), 100000u);
  for (int i = 0; i < 100000; i += 7) {
    EXPECT_EQ(*m.Find("id-" + std::to_string(i)), static_cast<uint32_t>(i));
    EXPECT_EQ(m.id_view(i), "id-" + std::to_string(i));
  }
  EXPECT_FALSE(m.Find("id-100000").has_value());
  EXPECT_FALSE(m.Find("").has_value());
  EXPECT_EQ(m.Insert(""), 100000u);  // the empty id is an id like any other
  EXPECT_EQ(*m.Find(""), 100000u);
  EXPECT_LE(m.size() * 2, m.slots().size());
  IdMap a;
  EXPECT_TRUE(a.Assign({"b", "a", "c"}));
  EXPECT_EQ(*a.Find("c"), 2u);
  EXPECT_FALSE(a.Assign({"b", "a", "b"}));
}

TEST(IdMapTest, FromPartsChecksEverything) {
  IdMap m;
  for (int i = 0; i < 1000; ++i) m.Insert("c" + std::to_string(i));
  IdMap back;
  ASSERT_FALSE(IdMap::FromParts(m.bytes(), m.offsets(), m.slots(), &back).has_value());
  EXPECT_EQ(back.ids(), m.ids());
  EXPECT_EQ(*back.Find("c999"), 999u);
  auto refused = [&](std::string bytes, std::vector<uint64_t> offsets, std::vector<uint32_t> slots) {
    IdMap out;
    return IdMap::FromParts(std::move(bytes), std::move(offsets), std::move(slots), &out).has_value();
  };
  std::vector<uint32_t> swapped = m.slots();
  for (size_t i = 0, seen = 0; i < swapped.size() && seen < 2; ++i) {
    if (swapped[i] != 0 && ++seen == 2) std::swap(swapped[i], *std::find_if(swapped.begin(), swapped.end(), [](uint32_t v) { return v != 0; }));
  }
  EXPECT_TRUE(refused(m.bytes(), m.offsets(), swapped)) << "ids at each other's places";
  std::vector<uint32_t> out_of_range = m.slots();
  *std::find(out_of_range.begin(), out_of_range.end(), 0u) = 5000;
  EXPECT_TRUE(refused(m.bytes(), m.offsets(), out_of_range));
  std::vector<uint32_t> extra = m.slots();
  *std::find(extra.begin(), extra.end(), 0u) = 3;  // index 2 twice
  EXPECT_TRUE(refused(m.bytes(), m.offsets(), extra));
  EXPECT_TRUE(refused(m.bytes(), m.offsets(), std::vector<uint32_t>(m.slots().begin(), m.slots().begin() + 1024)));
  std::vector<uint64_t> past = m.offsets();
  past[10] = 1u << 30;
  EXPECT_TRUE(refused(m.bytes(), past, m.slots()));
  std::string dup = m.bytes();
  dup[m.offsets()[1] + 1] = '0';  // "c1" becomes "c0"
  EXPECT_TRUE(refused(dup, m.offsets(), m.slots()));
  EXPECT_TRUE(refused("", {}, {}));
  EXPECT_FALSE(refused("", {0}, {}));  // no ids at all
}

}  // namespace
}  // namespace aisle
