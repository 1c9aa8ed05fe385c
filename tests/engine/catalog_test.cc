#include "engine/catalog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace aisle {
namespace {

// A catalog big enough to be split into pieces parsed on several threads
// (over 1 MB, no quote anywhere).
std::string BigCsv(int rows) {
  std::string csv = "\xEF\xBB\xBFproduct_id, name ,category,price,in_stock\r\n";
  for (int i = 0; i < rows; ++i) {
    absl::StrAppend(&csv, " p", i, " ,Product number ", i, ",cat", i % 37, ",", i % 100, ".5,",
                    i % 3 ? "true" : "no", "\r\n");
    if (i % 1000 == 0) csv += "\n";  // blank lines are skipped
  }
  return csv;
}

void ExpectBigCatalog(const Catalog& c, int rows) {
  ASSERT_EQ(c.size(), static_cast<size_t>(rows));
  for (int i = 0; i < rows; i += 997) {
    const CatalogEntry* e = c.Find(absl::StrCat("p", i));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->name, absl::StrCat("Product number ", i));
    EXPECT_EQ(e->category, absl::StrCat("cat", i % 37));
    EXPECT_EQ(e->category_id, i % 37);  // numbered in order of first appearance
    EXPECT_FLOAT_EQ(e->price, i % 100 + 0.5f);
    EXPECT_EQ(e->in_stock, i % 3 != 0);
  }
  EXPECT_EQ(c.Find("p-1"), nullptr);
  EXPECT_EQ(c.Find(absl::StrCat("p", rows)), nullptr);
  ASSERT_EQ(c.categories().size(), 37u);
  for (int k = 0; k < 37; ++k) EXPECT_EQ(c.categories()[k], absl::StrCat("cat", k));
  // The bulk join: every id of a model's table, known or not.
  IdMap products;
  for (int i = rows + 5; i >= -5; --i) products.Insert(absl::StrCat("p", i));
  const std::vector<const CatalogEntry*> found = c.FindAll(products);
  ASSERT_EQ(found.size(), products.size());
  for (uint32_t j = 0; j < products.size(); ++j) {
    EXPECT_EQ(found[j], c.Find(products.id_view(j))) << products.id_view(j);
  }
}

TEST(CatalogTest, LargeFileParsedInPiecesEqualsOnePiece) {
  const int rows = 60000;
  const std::string csv = BigCsv(rows);
  ASSERT_GT(csv.size(), 2u << 20);
  absl::StatusOr<Catalog> pieces = Catalog::ParseCsv(csv, "big.csv");
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  ExpectBigCatalog(*pieces, rows);
  // One quoted field anywhere: the whole file is read as one piece, with
  // the same result.
  std::string quoted = csv;
  quoted.replace(quoted.find("Product number 5,"), 16, "\"Product number 5\"");
  absl::StatusOr<Catalog> one = Catalog::ParseCsv(quoted, "big.csv");
  ASSERT_TRUE(one.ok()) << one.status();
  ExpectBigCatalog(*one, rows);
}

// The first bad row in the file is the one reported, with its line, wherever
// the pieces were cut.
TEST(CatalogTest, FirstErrorInFileOrderAcrossPieces) {
  const int rows = 60000;
  const std::string csv = BigCsv(rows);
  const auto line_of = [&](const std::string& text, size_t offset) {
    return 1 + std::count(text.begin(), text.begin() + offset, '\n');
  };
  {
    // A bad price late in the file.
    std::string bad = csv;
    const size_t at = bad.find(" p55555 ,");
    bad.replace(bad.find(",55.5,", at), 6, ",x,");
    absl::StatusOr<Catalog> c = Catalog::ParseCsv(bad, "bad.csv");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), absl::StrCat("bad.csv:", line_of(bad, at), ": bad price 'x'"));
  }
  {
    // A duplicate of an early id late in the file, and a bad row after it.
    std::string bad = csv;
    const size_t dup = bad.find(" p50000 ,");
    bad.replace(dup, 9, " p10 ,");
    const size_t later = bad.find(" p59000 ,");
    bad.replace(later, 9, "p59000");  // too few fields
    absl::StatusOr<Catalog> c = Catalog::ParseCsv(bad, "bad.csv");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), absl::StrCat("bad.csv:", line_of(bad, dup), ": duplicate product_id 'p10'"));
  }
  {
    // A bad row early, a duplicate after it: the bad row is reported.
    std::string bad = csv;
    const size_t early = bad.find(" p200 ,");
    bad.replace(bad.find(",true", early), 5, ",maybe");
    bad.replace(bad.find(" p50000 ,"), 9, " p10 ,");
    absl::StatusOr<Catalog> c = Catalog::ParseCsv(bad, "bad.csv");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), absl::StrCat("bad.csv:", line_of(bad, early), ": bad in_stock 'maybe'"));
  }
}

// Names and categories are views into the catalog's own storage: they stay
// valid in copies after the original and the parsed text are gone.
TEST(CatalogTest, EntriesOutliveTheTextAndTheOriginal) {
  std::optional<Catalog> copy;
  {
    std::string csv = "product_id,name,category\np1,\"Mug, \"\"large\"\"\",kitchen\np2,Plate,\"home & garden\"\n";
    absl::StatusOr<Catalog> c = Catalog::ParseCsv(csv, "c.csv");
    ASSERT_TRUE(c.ok()) << c.status();
    copy = *c;
    csv.assign(csv.size(), 'x');
  }
  ASSERT_EQ(copy->size(), 2u);
  EXPECT_EQ(copy->Find("p1")->name, "Mug, \"large\"");
  EXPECT_EQ(copy->Find("p1")->category, "kitchen");
  EXPECT_EQ(copy->Find("p2")->category, "home & garden");
  EXPECT_TRUE(std::isnan(copy->Find("p2")->price));

  std::optional<Catalog> json;
  {
    absl::StatusOr<Catalog> c = Catalog::ParseJsonLines(
        "{\"product_id\": \"a\", \"name\": \"A short\", \"category\": \"x\", \"price\": 2, \"in_stock\": false}\n"
        "{\"product_id\": 7, \"name\": \"a name well beyond the small-string buffer\"}\n",
        "c.jsonl");
    ASSERT_TRUE(c.ok()) << c.status();
    json = *c;
  }
  EXPECT_EQ(json->Find("a")->name, "A short");
  EXPECT_EQ(json->Find("a")->price, 2.0f);
  EXPECT_FALSE(json->Find("a")->in_stock);
  EXPECT_EQ(json->Find("7")->name, "a name well beyond the small-string buffer");
  EXPECT_TRUE(json->Find("7")->category.empty());
  EXPECT_EQ(json->Find("7")->category_id, -1);
  ASSERT_EQ(json->categories().size(), 1u);
  EXPECT_EQ(json->categories()[0], "x");
  EXPECT_EQ(json->Find("a")->category_id, 0);
  EXPECT_FALSE(Catalog::ParseJsonLines("{\"product_id\": \"a\"}\n{\"product_id\": \"a\"}\n", "d.jsonl").ok());
}

TEST(CatalogTest, LoadsFilesByExtension) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "aisle_catalog_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.csv") << "product_id,category\nq1,toys\n";
  std::ofstream(dir / "c.jsonl") << "{\"product_id\": \"q2\", \"category\": \"games\"}\n";
  absl::StatusOr<Catalog> csv = Catalog::Load((dir / "c.csv").string());
  absl::StatusOr<Catalog> jsonl = Catalog::Load((dir / "c.jsonl").string());
  ASSERT_TRUE(csv.ok() && jsonl.ok());
  EXPECT_EQ(csv->Find("q1")->category, "toys");
  EXPECT_EQ(jsonl->Find("q2")->category, "games");
  EXPECT_EQ(Catalog::Load((dir / "missing.csv").string()).status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(CatalogTest, KnowsWhetherItSaysWhatIsInStock) {
  // What the server's in-stock default reads: an in_stock column or field.
  auto csv = [](const std::string& text) { return Catalog::ParseCsv(text, "c.csv"); };
  auto jsonl = [](const std::string& text) { return Catalog::ParseJsonLines(text, "c.jsonl"); };
  EXPECT_TRUE(csv("product_id,in_stock\np1,true\n")->has_stock());
  EXPECT_TRUE(csv("product_id,in_stock\n")->has_stock());
  EXPECT_FALSE(csv("product_id,name,price\np1,Mug,2\n")->has_stock());
  EXPECT_TRUE(jsonl("{\"product_id\": \"a\"}\n{\"product_id\": \"b\", \"in_stock\": true}\n")->has_stock());
  EXPECT_FALSE(jsonl("{\"product_id\": \"a\", \"in_stock\": null}\n{\"product_id\": \"b\"}\n")->has_stock());
}

}  // namespace
}  // namespace aisle
