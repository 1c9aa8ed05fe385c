// The hand-written recommendations body is the same JSON as the nlohmann
// one it replaced (floats read back to the same float), with hostile
// catalog strings: quotes, backslashes, control characters, UTF-8, invalid
// bytes.
#include "server/recommendation_json.h"

#include <gtest/gtest.h>

#include "training/train_job.h"

#include "tests/synthetic_log.h"

namespace aisle {
namespace {

using json = nlohmann::json;

// Numbers compare as floats (the reference prints the double of a float).
void ExpectSameJson(const json& a, const json& b, const std::string& path = "$") {
  if (a.is_number() && b.is_number()) {
    EXPECT_EQ(a.get<float>(), b.get<float>()) << path;
    return;
  }
  ASSERT_EQ(a.type(), b.type()) << path << ": " << a.dump() << " vs " << b.dump();
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << path << ": " << a.dump() << " vs " << b.dump();
    for (const auto& [k, v] : a.items()) {
      ASSERT_TRUE(b.contains(k)) << path << "." << k;
      ExpectSameJson(v, b[k], path + "." + k);
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << path;
    for (size_t i = 0; i < a.size(); ++i) ExpectSameJson(a[i], b[i], path + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(a, b) << path;
  }
}

TEST(RecommendationJsonTest, SameJsonAsTheReferenceForHostileStrings) {
  SyntheticOptions so;
  so.customers = 100;
  so.products = 30;
  so.categories = 3;
  so.purchases = 1500;
  // Trained by the training job, so that it learns buy-again too.
  TrainJobOptions to;
  to.ials.factors = 16;
  to.ials.iterations = 8;
  to.log = nullptr;
  auto trained = TrainOnLog(::aisle::testing::ToEventLog(GenerateSynthetic(so)), LoadStats{}, to);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(trained->model.buy_again.learnt());
  auto model = std::make_shared<Model>(std::move(trained->model));
  nlohmann::json meta = model->metadata;
  meta["model_id"] = "m\"1\\";
  EXPECT_TRUE(model->SetMetadata(meta).ok());
  const char* names[] = {"plain", "say \"hi\"", "back\\slash", "new\nline\ttab", "ctl\x01\x1f",
                         "Caf\xC3\xA9 \xE2\x98\x95 \xF0\x9F\x8E\x81", "bad \xFF byte", "cut \xE2\x98", "surrogate \xED\xA0\x80"};
  // CSV keeps the bytes as written, invalid UTF-8 included.
  auto quote = [](const std::string& v) {
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string csv = "product_id,name,category,price,in_stock\n";
  for (int p = 0; p < 30; ++p) {
    csv += SyntheticProductId(p) + "," + quote(names[p % 9]) + "," + quote(p % 2 ? "c\"at" : "cat") + "," +
           (p % 5 != 4 ? std::to_string(0.1 * p + 2.95) : "") + "," + (p % 3 == 0 ? "false" : "true") + "\n";
  }
  auto catalog = Catalog::ParseCsv(csv, "c.csv");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ASSERT_NE(catalog->Find("p6"), nullptr);
  EXPECT_EQ(catalog->Find("p6")->name, "bad \xFF byte");
  auto r = Recommender::Create(model, std::make_shared<const Catalog>(std::move(*catalog)));
  ASSERT_TRUE(r.ok()) << r.status();
  size_t bought_before = 0;
  for (const std::string id : {"c1", "c7", "nobody"}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool explain = variant % 2 == 1;
      RecommendOptions o;
      o.count = 25;
      o.explain = explain;
      // Buy-again's answers too (products bought before, with why), a year on.
      if (variant >= 2) o.purchased = PurchasedProducts::kOnly;
      o.now = model->last_event_unix + 365 * 86400;
      auto res = (*r)->ForCustomer(id, o);
      ASSERT_TRUE(res.ok());
      for (const Recommendation& x : res->items) bought_before += x.repurchase.has_value();
      for (const std::string* cid : {&id, static_cast<const std::string*>(nullptr)}) {
        const std::string fast = RecommendationsBody(**r, cid, *res, explain);
        const std::string ref = RecommendationsBodyReference(**r, cid, *res, explain);
        json a = json::parse(fast, nullptr, false), b = json::parse(ref, nullptr, false);
        ASSERT_FALSE(a.is_discarded()) << fast;
        ExpectSameJson(a, b);
      }
    }
  }
  EXPECT_GT(bought_before, 0u);  // the model learnt buy-again: the field was written
}

TEST(RecommendationJsonTest, StringsAndFloats) {
  std::string s;
  AppendJsonString(&s, std::string("a\"b\\c\n\x01\xC3\xA9\xFF", 10));
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\xEF\xBF\xBD\"");
  s.clear();
  AppendJsonFloat(&s, 2.95f);
  s += ' ';
  AppendJsonFloat(&s, NAN);
  s += ' ';
  AppendJsonFloat(&s, -1e-20f);
  EXPECT_EQ(s, "2.95 null -1e-20");
}

}  // namespace
}  // namespace aisle
