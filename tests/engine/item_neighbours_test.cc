// Product neighbours by co-purchase: planted pairs are found, the lists keep
// their shape (sorted, no self, at most k, similarities in (0, 1]), the
// affinity sums what the lists say, Validate refuses every broken shape, and
// the model file keeps the lists and refuses one that lies about them with
// every checksum right.
#include "engine/item_neighbours.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "engine/buy_again.h"
#include "engine/checksum.h"
#include "engine/model_io.h"
#include "tests/planted_pairs.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

constexpr uint32_t kPairs = 10;     // products 2p and 2p + 1 are bought together
constexpr uint32_t kProducts = 60;  // the rest (20..59) are noise

CsrMatrix PlantedPurchases(uint32_t customers, uint32_t seed) {
  return aisle::testing::PlantedPairs(customers, kProducts, kPairs, /*pairs_each=*/2, /*noise_each=*/4, seed);
}

TEST(ItemNeighbours, FindsPlantedCoPurchases) {
  const CsrMatrix bought = PlantedPurchases(400, 1);
  NeighbourOptions o;
  o.k = 8;
  const ItemNeighbours n = BuildItemNeighbours(bought, kProducts, o);
  ASSERT_TRUE(n.Validate(kProducts).ok()) << n.Validate(kProducts);
  for (uint32_t i = 0; i < kProducts; ++i) {
    auto row = n.similar.RowIndices(i);
    EXPECT_LE(row.size(), o.k);
    for (size_t j = 0; j < row.size(); ++j) {
      EXPECT_NE(row[j], i);
      const float s = n.similar.values[n.similar.indptr[i] + j];
      EXPECT_GT(s, 0);
      EXPECT_LE(s, 1);
    }
  }
  for (uint32_t p = 0; p < kPairs; ++p) {
    for (auto [a, b] : {std::pair{2 * p, 2 * p + 1}, std::pair{2 * p + 1, 2 * p}}) {
      // The partner is the most similar product, well ahead of any other.
      const float partner = n.Similarity(a, b);
      auto row = n.similar.RowIndices(a);
      for (size_t j = 0; j < row.size(); ++j) {
        if (row[j] != b) {
          EXPECT_LT(n.similar.values[n.similar.indptr[a] + j], partner / 2) << a << " " << row[j];
        }
      }
    }
  }
  EXPECT_EQ(n.Similarity(0, 0), 0.0f);
  EXPECT_EQ(n.Similarity(0, kProducts + 5), 0.0f);  // out of range: not a neighbour
}

TEST(ItemNeighbours, AffinitySumsTheListsOfTheProductsBought) {
  const ItemNeighbours n = BuildItemNeighbours(PlantedPurchases(200, 2), kProducts, {});
  const std::vector<uint32_t> bought = {0, 3, 25};
  const std::vector<float> weights = {0.5f, 0.25f, 0.25f};
  std::vector<float> all(kProducts, 0);
  n.Accumulate(bought, weights, all.data());
  for (uint32_t t = 0; t < kProducts; ++t) {
    float expect = 0;
    for (size_t j = 0; j < bought.size(); ++j) expect += weights[j] * n.Similarity(bought[j], t);
    EXPECT_NEAR(all[t], expect, 1e-6) << t;
  }
  EXPECT_GT(all[1], all[2]);  // 0's partner, bought with half the weight, over a product none of them goes with
}

TEST(ItemNeighbours, BuyAgainAffinitiesAreTheSameDenseSparseOrForTargets) {
  NeighbourOptions o;
  o.k = 3;  // one product's 3 entries against 60 products: the map
  const ItemNeighbours n = BuildItemNeighbours(PlantedPurchases(200, 4), kProducts, o);
  const BuyAgain rule(CsrMatrix(), PurchaseHistory(), kProducts, BuyAgainParams(), &n);
  for (const std::vector<uint32_t>& products : {std::vector<uint32_t>{4}, std::vector<uint32_t>{0, 3, 25, 41, 58}}) {
    BoughtBefore b;
    b.products = products;
    for (size_t j = 0; j < products.size(); ++j) b.pairs.push_back({1, 0, 0, 1.0f + static_cast<float>(j)});
    b.Finish();
    rule.FindAffinities(&b);
    EXPECT_EQ(b.affinity_dense.empty(), products.size() == 1);  // which path ran
    std::vector<float> all(kProducts);
    rule.Affinities(b, all.data(), kProducts);
    float total = 0;
    for (uint32_t t = 0; t < kProducts; ++t) {
      EXPECT_EQ(BuyAgain::Affinity(b, t), all[t]) << t;
      total += all[t];
    }
    EXPECT_GT(total, 0);
    // Only the targets a request reads, joined with the lists: the same values.
    std::vector<uint32_t> targets;
    for (uint32_t t = 0; t < kProducts; t += 2) targets.push_back(t);
    BoughtBefore few = b;
    rule.FindAffinities(&few, targets);
    EXPECT_TRUE(few.affinity_dense.empty());
    for (uint32_t t : targets) EXPECT_EQ(BuyAgain::Affinity(few, t), all[t]) << t;
  }
}

TEST(ItemNeighbours, TargetAffinitiesAcrossManyWordsOfTheirBitset) {
  // 700 products (11 words of the targets' bitset): each target's sum lands
  // at its own position whatever word it is in, targets past the catalog
  // read 0.
  constexpr uint32_t kMany = 700;
  NeighbourOptions o;
  o.k = 40;
  const CsrMatrix bought = aisle::testing::PlantedPairs(900, kMany, 300, /*pairs_each=*/4, /*noise_each=*/12, 5);
  const ItemNeighbours n = BuildItemNeighbours(bought, kMany, o);
  const BuyAgain rule(CsrMatrix(), PurchaseHistory(), kMany, BuyAgainParams(), &n);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    BoughtBefore b;
    for (uint32_t p = rng() % 7; p < kMany; p += 1 + rng() % 40) {
      b.products.push_back(p);
      b.pairs.push_back({1 + static_cast<uint32_t>(rng() % 3), 0, 0, 1.0f + static_cast<float>(rng() % 5)});
    }
    b.Finish();
    std::vector<float> all(kMany);
    rule.Affinities(b, all.data(), kMany);
    std::vector<uint32_t> targets;
    for (uint32_t t = rng() % 5; t < kMany; t += 1 + rng() % 9) targets.push_back(t);
    targets.push_back(kMany + 3);  // not in the catalog
    BoughtBefore few = b;
    rule.FindAffinities(&few, targets);
    size_t nonzero = 0;
    for (uint32_t t : targets) {
      const float want = t < kMany ? all[t] : 0.0f;
      EXPECT_EQ(BuyAgain::Affinity(few, t), want) << "trial " << trial << " target " << t;
      nonzero += want != 0;
    }
    EXPECT_GT(nonzero, targets.size() / 4) << trial;  // the comparison saw sums
  }
}

TEST(ItemNeighbours, ValidateRefusesBrokenLists) {
  ItemNeighbours good;
  good.similar = BuildCsr(3, 3, {{0, 1, 0.5f}, {0, 2, 0.25f}, {1, 0, 0.5f}});
  ASSERT_TRUE(good.Validate(3).ok());
  EXPECT_TRUE(ItemNeighbours().Validate(3).ok());  // none: a model written before them
  EXPECT_FALSE(good.Validate(4).ok());
  auto broken = [&](auto change) {
    ItemNeighbours b = good;
    change(&b.similar);
    return !b.Validate(3).ok();
  };
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->indices[0] = 7; }));             // out of range
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->indices[0] = 0; }));             // itself
  EXPECT_TRUE(broken([](CsrMatrix* m) { std::swap(m->indices[0], m->indices[1]); }));  // unsorted
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->values[1] = NAN; }));
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->values[1] = -1; }));
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->values.pop_back(); }));
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->indptr[1] = 9; }));
  EXPECT_TRUE(broken([](CsrMatrix* m) { m->indptr.back() = 2; }));
}

// A small model with neighbours, valid.
Model ModelWithNeighbours() {
  Model m;
  const uint32_t nc = 400;
  for (uint32_t c = 0; c < nc; ++c) m.customers.Insert("c" + std::to_string(c));
  for (uint32_t p = 0; p < kProducts; ++p) m.products.Insert("p" + std::to_string(p));
  m.user_factors = FactorMatrix::Constant(nc, 2, 0.5f);
  m.item_factors = FactorMatrix::Constant(kProducts, 2, 0.25f);
  m.purchased = PlantedPurchases(nc, 3);
  m.item_popularity.assign(kProducts, 1.0f);
  m.neighbours = BuildItemNeighbours(m.purchased, kProducts, {});
  EXPECT_TRUE(m.SetMetadata(nlohmann::json({{"model_id", "nbrs"}})).ok());
  return m;
}

// Recomputes every checksum of a version 2 file after a test changed its
// bytes (each section one chunk: the files here are small).
void Reseal(std::string* f) {
  uint32_t sections;
  std::memcpy(&sections, f->data() + 36, 4);
  for (uint32_t i = 0; i < sections; ++i) {
    char* e = f->data() + 64 + 32 * i;
    uint64_t offset, length;
    std::memcpy(&offset, e + 8, 8);
    std::memcpy(&length, e + 16, 8);
    const uint32_t chunk = Crc32c(0, f->data() + offset, length);
    const uint32_t crc = Crc32c(0, &chunk, 4);
    std::memcpy(e + 24, &crc, 4);
  }
  const uint32_t table = Crc32c(0, f->data() + 64, 32 * sections);
  std::memcpy(f->data() + 48, &table, 4);
  const uint32_t header = Crc32c(0, f->data(), 60);
  std::memcpy(f->data() + 60, &header, 4);
}

// The offset of the NBRS section's body in a version 2 file.
uint64_t NeighboursOffset(const std::string& f) {
  uint32_t sections;
  std::memcpy(&sections, f.data() + 36, 4);
  for (uint32_t i = 0; i < sections; ++i) {
    if (std::memcmp(f.data() + 64 + 32 * i, "NBRS", 4) == 0) {
      uint64_t offset;
      std::memcpy(&offset, f.data() + 64 + 32 * i + 8, 8);
      return offset;
    }
  }
  return 0;
}

TEST(ItemNeighbours, ModelFileKeepsThemAndRefusesLies) {
  testing::TempDir dir;
  const Model m = ModelWithNeighbours();
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(m, path).ok());
  for (bool mapped : {false, true}) {
    auto back = mapped ? MapModel(path) : ReadModel(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->neighbours.similar.indptr, m.neighbours.similar.indptr);
    EXPECT_EQ(back->neighbours.similar.indices, m.neighbours.similar.indices);
    EXPECT_EQ(back->neighbours.similar.values, m.neighbours.similar.values);
  }
  const std::string good = testing::ReadAll(path);
  const uint64_t at = NeighboursOffset(good);
  ASSERT_GT(at, 0u);
  uint64_t entries;
  std::memcpy(&entries, good.data() + at + 8, 8);
  const uint64_t indices_at = at + 16 + (kProducts + 1) * 8;
  struct Lie {
    const char* what;
    uint64_t offset;
    std::vector<char> bytes;
  };
  auto u64 = [](uint64_t v) {
    std::vector<char> b(8);
    std::memcpy(b.data(), &v, 8);
    return b;
  };
  auto u32 = [](uint32_t v) {
    std::vector<char> b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
  };
  auto f32 = [](float v) {
    std::vector<char> b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
  };
  const std::vector<Lie> lies = {
      {"product count", at, u64(kProducts + 1)},
      {"entry count that wraps", at + 8, u64(uint64_t{1} << 62)},
      {"entry count", at + 8, u64(entries - 1)},
      {"neighbour out of range", indices_at, u32(kProducts + 3)},
      {"similarity not finite", indices_at + entries * 4, f32(NAN)},
      {"offsets past the entries", at + 16 + kProducts * 8, u64(entries + 1)},
  };
  for (const Lie& lie : lies) {
    std::string f = good;
    std::memcpy(f.data() + lie.offset, lie.bytes.data(), lie.bytes.size());
    Reseal(&f);
    auto r = ParseModel(f, "lying.model");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << lie.what << ": " << r.status();
  }
  // The reseal itself is right: the unchanged bytes resealed still load.
  std::string same = good;
  Reseal(&same);
  EXPECT_TRUE(ParseModel(same, "same.model").ok());
}

}  // namespace
}  // namespace aisle
