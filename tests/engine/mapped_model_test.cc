// The served form of model files: format version 2 read by MapModel (factors
// left in the mapped file) and by ReadModel (copied), old version 1 files,
// hostile files whose checksums are valid, and files changed under the map.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "engine/checksum.h"
#include "engine/cluster_index.h"
#include "engine/mapped_file.h"
#include "engine/model_io.h"
#include "engine/recommender.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

Model MakeModel(uint32_t customers, uint32_t products, int k, bool clusters = true) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  Model m;
  for (uint32_t c = 0; c < customers; ++c) m.customers.Insert("customer-" + std::to_string(c));
  for (uint32_t p = 0; p < products; ++p) m.products.Insert("p" + std::to_string(p));
  m.user_factors = FactorMatrix::NullaryExpr(customers, k, [&] { return nd(rng); });
  m.item_factors = FactorMatrix::NullaryExpr(products, k, [&] { return nd(rng); });
  std::vector<Triplet> t;
  for (uint32_t c = 0; c < customers; ++c) t.push_back({c, static_cast<uint32_t>(rng() % products), 1.0f});
  m.purchased = BuildCsr(customers, products, t);
  m.purchased.values.clear();
  m.item_popularity.assign(products, 1.0f);
  EXPECT_TRUE(m.SetMetadata(nlohmann::json({{"model_id", "mapped"}})).ok());
  if (clusters) {
    m.item_clusters = ClusterIndex::Build(m.item_factors, {})->ToClusters();
    m.similar_clusters = ClusterIndex::Build(UnitRows(m.item_factors), {})->ToClusters();
  }
  return m;
}

// The section table of a version 2 file: (tag, offset, length) per section.
struct Section {
  std::string tag;
  uint64_t offset, length;
};
std::vector<Section> Sections(const std::string& f) {
  uint32_t n;
  std::memcpy(&n, f.data() + 36, 4);
  std::vector<Section> out;
  for (uint32_t i = 0; i < n; ++i) {
    const char* e = f.data() + 64 + 32 * i;
    Section s{std::string(e, 4), 0, 0};
    std::memcpy(&s.offset, e + 8, 8);
    std::memcpy(&s.length, e + 16, 8);
    out.push_back(s);
  }
  return out;
}
const Section& Find(const std::vector<Section>& s, const std::string& tag) {
  for (const Section& x : s) {
    if (x.tag == tag) return x;
  }
  ADD_FAILURE() << "no section " << tag;
  return s[0];
}

// Recomputes every checksum (sections, table, header), as a hostile writer
// would after changing the contents.
void Reseal(std::string* f) {
  uint32_t n;
  std::memcpy(&n, f->data() + 36, 4);
  for (uint32_t i = 0; i < n; ++i) {
    char* e = f->data() + 64 + 32 * i;
    uint64_t off, len;
    std::memcpy(&off, e + 8, 8);
    std::memcpy(&len, e + 16, 8);
    uint32_t crc = 0;
    for (uint64_t b = 0; b < len || b == 0; b += uint64_t{64} << 20) {
      const uint32_t c = Crc32c(0, f->data() + off + b, std::min<uint64_t>(len - b, uint64_t{64} << 20));
      crc = Crc32c(crc, &c, 4);
      if (len == 0) break;
    }
    std::memcpy(e + 24, &crc, 4);
  }
  const uint32_t table = Crc32c(0, f->data() + 64, 32 * n);
  std::memcpy(f->data() + 48, &table, 4);
  const uint32_t header = Crc32c(0, f->data(), 60);
  std::memcpy(f->data() + 60, &header, 4);
}

TEST(MappedModelTest, MapsTheFactorsAndReadsTheSameModel) {
  TempDir dir;
  Model m = MakeModel(300, 200, 16);
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(m, path).ok());
  auto mapped = MapModel(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_NE(mapped->mapping, nullptr);
  EXPECT_NE(mapped->mapped_users, nullptr);
  EXPECT_EQ(mapped->user_factors.size(), 0) << "the factors were copied";
  EXPECT_EQ(FactorMatrix(mapped->users()), m.user_factors);
  EXPECT_EQ(FactorMatrix(mapped->items()), m.item_factors);
  // Aligned for vector loads.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mapped->mapped_users) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mapped->mapped_items) % 64, 0u);
  EXPECT_EQ(mapped->customers.ids(), m.customers.ids());
  EXPECT_EQ(*mapped->customers.Find("customer-77"), 77u);
  EXPECT_FALSE(mapped->customers.Find("customer-300").has_value());
  EXPECT_EQ(mapped->purchased.indices, m.purchased.indices);
  EXPECT_EQ(mapped->item_clusters.order, m.item_clusters.order);
  EXPECT_EQ(mapped->similar_clusters.offsets, m.similar_clusters.offsets);
  // A recommender over the mapped model answers as one over the original.
  Recommender::Options ro;
  ro.index_min_products = 1;
  ro.exact_search = true;
  auto a = *Recommender::Create(std::make_shared<const Model>(*std::move(mapped)), nullptr, ro);
  auto b = *Recommender::Create(std::make_shared<const Model>(m), nullptr);
  for (uint32_t c = 0; c < 300; c += 13) {
    RecommendOptions o;
    auto x = a->ForCustomer(m.customers.id(c), o), y = b->ForCustomer(m.customers.id(c), o);
    ASSERT_TRUE(x.ok() && y.ok());
    ASSERT_EQ(x->items.size(), y->items.size());
    for (size_t i = 0; i < x->items.size(); ++i) EXPECT_EQ(x->items[i].product, y->items[i].product);
  }
  // The copying reader gives the same model with owned factors.
  auto copied = ReadModel(path);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(copied->mapping, nullptr);
  EXPECT_EQ(copied->user_factors, m.user_factors);
}

TEST(MappedModelTest, TruncatedOrModifiedFilesAreRefused) {
  TempDir dir;
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(MakeModel(40, 30, 4), path).ok());
  const std::string bytes = ReadAll(path);
  for (size_t len : {size_t{0}, size_t{10}, size_t{64}, size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string cut = dir.Write("cut.model", bytes.substr(0, len));
    auto r = MapModel(cut);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << len << ": " << r.status();
    EXPECT_NE(r.status().message().find("cut.model"), std::string::npos);
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    std::string bad = bytes;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = MapModel(dir.Write("bad.model", bad));
    ASSERT_FALSE(r.ok()) << "a changed byte went unnoticed";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  }
  auto cancelled = [&] {
    std::atomic<bool> cancel{true};
    return MapModel(path, &cancel).status().code();
  }();
  EXPECT_EQ(cancelled, absl::StatusCode::kCancelled);
}

TEST(MappedModelTest, VersionOneFilesStillLoad) {
  TempDir dir;
  Model m = MakeModel(20, 15, 4, /*clusters=*/false);
  const std::string path = dir.Path("old.model");
  ASSERT_TRUE(WriteModelV1(m, path).ok());
  uint32_t version;
  std::memcpy(&version, ReadAll(path).data() + 8, 4);
  EXPECT_EQ(version, 1u);
  for (auto r : {ReadModel(path), MapModel(path)}) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->mapping, nullptr) << "version 1 is copied, never mapped";
    EXPECT_EQ(r->user_factors, m.user_factors);
    EXPECT_EQ(r->customers.ids(), m.customers.ids());
  }
}

// Files whose every checksum is valid but whose contents lie.
TEST(MappedModelTest, HostileContentsWithValidChecksumsAreRefused) {
  TempDir dir;
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(MakeModel(40, 30, 4), path).ok());
  const std::string good = ReadAll(path);
  const std::vector<Section> s = Sections(good);
  struct Case {
    const char* what;
    std::function<void(std::string*)> change;
  };
  auto u32 = [](std::string* f, uint64_t at, uint32_t v) { std::memcpy(f->data() + at, &v, 4); };
  auto u64 = [](std::string* f, uint64_t at, uint64_t v) { std::memcpy(f->data() + at, &v, 8); };
  const Section& cids = Find(s, "CIDS");
  const uint64_t count = 40, slots_at = cids.offset + 24 + (count + 1) * 8;
  const std::vector<Case> cases = {
      {"an id table slot pointing at another id",
       [&](std::string* f) {
         for (uint64_t i = 0;; ++i) {
           uint32_t v;
           std::memcpy(&v, f->data() + slots_at + 4 * i, 4);
           if (v != 0) {
             u32(f, slots_at + 4 * i, v == 1 ? 2 : 1);
             return;
           }
         }
       }},
      {"a duplicated id (customer-1 spelled customer-0)",
       [&](std::string* f) {
         uint64_t slots;
         std::memcpy(&slots, f->data() + cids.offset + 16, 8);
         const uint64_t bytes_at = slots_at + 4 * slots;
         uint64_t off1;
         std::memcpy(&off1, f->data() + cids.offset + 24 + 8, 8);
         (*f)[bytes_at + off1 + std::string("customer-").size()] = '0';
       }},
      {"id offsets running past the ids", [&](std::string* f) { u64(f, cids.offset + 24 + 8 * 5, uint64_t{1} << 40); }},
      {"an id table of the wrong size", [&](std::string* f) { u64(f, cids.offset + 16, 3); }},
      {"a purchase of a product that does not exist",
       [&](std::string* f) { u32(f, Find(s, "PURC").offset + 8 + 41 * 8, 1000000); }},
      {"cluster order that is not a permutation",
       [&](std::string* f) {
         const uint64_t at = Find(s, "ICLU").offset + 16;
         uint32_t first;
         std::memcpy(&first, f->data() + at, 4);
         u32(f, at + 4, first);
       }},
      {"cluster offsets past the products",
       [&](std::string* f) { u32(f, Find(s, "SCLU").offset + 16 + 30 * 4 + 4, 1000); }},
      {"a factor that is NaN", [&](std::string* f) { u32(f, Find(s, "IFAC").offset + 8, 0x7FC00000u); }},
      {"a section offset that is not aligned", [&](std::string* f) { u64(f, 64 + 32 * 3 + 8, s[3].offset + 4); }},
      {"sections that overlap", [&](std::string* f) { u64(f, 64 + 32 * 4 + 8, s[3].offset); }},
      {"more customers in the header than in the file", [&](std::string* f) { u64(f, 16, 41); }},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    c.change(&bad);
    Reseal(&bad);
    for (auto r : {ParseModel(bad, "hostile.model"), MapModel(dir.Write("hostile.model", bad))}) {
      ASSERT_FALSE(r.ok()) << c.what;
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << c.what << ": " << r.status();
      EXPECT_NE(r.status().message().find("hostile.model"), std::string::npos) << r.status();
    }
  }
  // The untouched file, resealed, still loads: the cases fail for their change.
  std::string same = good;
  Reseal(&same);
  EXPECT_TRUE(ParseModel(same, "same").ok());
}

// A mapped file truncated under a running server: the vanished pages read
// as zeros (counted), never SIGBUS.
TEST(MappedModelTest, AFileTruncatedUnderTheMapReadsZerosInsteadOfCrashing) {
  TempDir dir;
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(MakeModel(4000, 50, 32), path).ok());
  auto m = MapModel(path);
  ASSERT_TRUE(m.ok());
  const float before = m->users()(3999, 31);
  EXPECT_NE(before, 0.0f);
  const uint64_t faults = MappedFile::GuardedFaults();
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  EXPECT_EQ(m->users()(3999, 31), 0.0f);
  EXPECT_GT(MappedFile::GuardedFaults(), faults);
  EXPECT_EQ(m->users()(3998, 0), 0.0f);
}

}  // namespace
}  // namespace aisle
