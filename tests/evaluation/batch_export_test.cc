// Batch recommendations: the export answers every customer as the server
// does (checked against the real server on loopback), honours consent,
// live events and erasures, writes CSV as well, and the CLI writes its file
// atomically.
#include "evaluation/batch_export.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "engine/offer_catalog.h"
#include "engine/offer_ranker.h"
#include "server/http_server.h"
#include "tests/http_client.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::TempDir;
using json = nlohmann::json;

std::shared_ptr<const Model> TestModel() {
  static std::shared_ptr<const Model> model = [] {
    SyntheticOptions o;
    o.customers = 400;
    o.products = 150;
    o.categories = 5;
    o.purchases = 6000;
    o.seed = 23;
    auto m = std::make_shared<Model>(::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(o))));
    EXPECT_TRUE(m->SetMetadata({{"model_id", "batch-test"}}).ok());
    return m;
  }();
  return model;
}

std::vector<json> Lines(const std::string& text) {
  std::vector<json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) out.push_back(json::parse(line));
  return out;
}

std::vector<std::string> Products(const json& recs) {
  std::vector<std::string> out;
  for (const auto& x : recs) out.push_back(x["product_id"]);
  return out;
}

TEST(BatchExport, EveryCustomerAnsweredAsTheServerAnswers) {
  TempDir dir;
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(*TestModel(), path).ok());
  Metrics metrics;
  ModelSource source(path, "", &metrics);  // the server's defaults: bf16 scoring, top lists
  ASSERT_TRUE(source.Reload(true).ok());
  HttpServerOptions so;
  so.port = 0;
  so.access_log = nullptr;
  HttpServer server(&source, &metrics, so);
  ASSERT_TRUE(server.Start().ok());

  auto r = Recommender::Create(TestModel(), nullptr, {.scoring = Recommender::Scoring::kBf16});
  ASSERT_TRUE(r.ok());
  std::vector<std::string> ids = TestModel()->customers.ids();
  ids.push_back("someone-new");
  BatchExportOptions o;
  o.recommend.count = 7;
  o.chunk = 64;  // several chunks
  std::string out;
  size_t progress_calls = 0;
  o.progress = [&](size_t done, size_t total) {
    ++progress_calls;
    EXPECT_LE(done, total);
  };
  auto st = ExportBatch(**r, nullptr, ids, {}, o, [&](absl::string_view t) {
    out.append(t.data(), t.size());
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->customers, ids.size());
  EXPECT_EQ(st->popularity, 1u);
  EXPECT_EQ(st->bytes, out.size());
  EXPECT_GE(progress_calls, ids.size() / 64);
  const std::vector<json> lines = Lines(out);
  ASSERT_EQ(lines.size(), ids.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i]["customer_id"], ids[i]) << "output in input order";
    ASSERT_EQ(lines[i]["recommendations"].size(), 7u);
    if (i % 20 != 0 && i + 1 != lines.size()) continue;
    auto http = ::aisle::testing::Call(server.port(), "GET",
                                       absl::StrCat("/v1/customers/", ids[i], "/recommendations?count=7"));
    ASSERT_EQ(http.status, 200);
    const json answer = json::parse(http.body);
    EXPECT_EQ(Products(lines[i]["recommendations"]), Products(answer["recommendations"])) << ids[i];
    EXPECT_EQ(lines[i]["fallback"], answer["fallback"]);
  }
  server.Shutdown();
}

TEST(BatchExport, ConsentLiveEventsAndErasures) {
  auto r = Recommender::Create(TestModel(), nullptr);
  ASSERT_TRUE(r.ok());
  const Model& m = *TestModel();
  std::vector<std::string> ids = {m.customers.id(0), m.customers.id(1), m.customers.id(2), "newcomer"};
  auto live = std::make_shared<LiveProfile>();
  live->products = {3, 4};
  live->weights = {1, 1};
  live->purchased = {3};
  live->events = 2;
  BatchCustomerState state;
  state.consent = [&](absl::string_view id) { return id != ids[1]; };
  state.skip = [&](absl::string_view id) { return id == ids[2]; };
  state.live = [&](absl::string_view id) { return id == "newcomer" ? live : nullptr; };
  BatchExportOptions o;
  o.recommend.count = 5;
  std::string out;
  auto st = ExportBatch(**r, nullptr, ids, state, o, [&](absl::string_view t) {
    out.append(t.data(), t.size());
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->customers, 3u);
  EXPECT_EQ(st->skipped, 1u);
  EXPECT_EQ(st->no_consent, 1u);
  EXPECT_EQ(st->live, 1u);
  const std::vector<json> lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0]["fallback"].is_null());
  EXPECT_EQ(lines[1]["fallback"], "no_consent");
  EXPECT_EQ(lines[2]["customer_id"], "newcomer");
  EXPECT_TRUE(lines[2]["fallback"].is_null());
  EXPECT_EQ(lines[2]["live_events"], 2);
  for (const auto& x : lines[2]["recommendations"]) EXPECT_NE(x["product_id"], m.products.id(3)) << "bought live";
}

TEST(BatchExport, CsvAndWriteErrors) {
  auto r = Recommender::Create(TestModel(), nullptr);
  std::vector<std::string> ids = {TestModel()->customers.id(5), TestModel()->customers.id(6)};
  BatchExportOptions o;
  o.recommend.count = 4;
  o.format = BatchFormat::kCsv;
  std::string out;
  ASSERT_TRUE(ExportBatch(**r, nullptr, ids, {}, o, [&](absl::string_view t) {
                out.append(t.data(), t.size());
                return absl::OkStatus();
              }).ok());
  std::vector<std::string> rows = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 1u + 2 * 4);
  EXPECT_EQ(rows[0] + "\n", std::string(BatchCsvHeader()));
  EXPECT_TRUE(absl::StartsWith(rows[1], absl::StrCat(ids[0], ",product,1,")));
  auto failed = ExportBatch(**r, nullptr, ids, {}, o, [](absl::string_view) { return absl::DataLossError("disk full"); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss);
  o.recommend.count = 0;
  EXPECT_EQ(ExportBatch(**r, nullptr, ids, {}, o, [](absl::string_view) { return absl::OkStatus(); }).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchExport, OffersAsTheRankerRanksThem) {
  auto r = Recommender::Create(TestModel(), nullptr);
  ASSERT_TRUE(r.ok());
  auto catalog = OfferCatalog::Parse(R"({"offers": [
      {"id": "o1", "title": "t", "products": ["p1", "p2", "p3"], "discount": {"percent": 10}},
      {"id": "o2", "title": "t", "products": ["p4", "p5", "p6"], "discount": {"percent": 10}},
      {"id": "o3", "title": "t", "products": ["p7", "p8", "p9"], "discount": {"percent": 10}}]})",
                                     "offers.json");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto ranker = OfferRanker::Create(*r, std::make_shared<const OfferCatalog>(std::move(*catalog)));
  ASSERT_TRUE(ranker.ok());
  std::vector<std::string> ids = {TestModel()->customers.id(1), TestModel()->customers.id(2), "stranger"};
  BatchExportOptions o;
  o.recommend.count = 3;
  o.offer_count = 2;
  o.offers.now = absl::Now();
  std::string out;
  ASSERT_TRUE(ExportBatch(**r, ranker->get(), ids, {}, o, [&](absl::string_view t) {
                out.append(t.data(), t.size());
                return absl::OkStatus();
              }).ok());
  const std::vector<json> lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) {
    OfferOptions oo = o.offers;
    oo.count = 2;
    auto want = (*ranker)->ForCustomer(ids[i], oo);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(lines[i]["offers"].size(), want->offers.size()) << lines[i];
    for (size_t k = 0; k < want->offers.size(); ++k) {
      EXPECT_EQ(lines[i]["offers"][k]["offer_id"], (*ranker)->catalog().offers()[want->offers[k].offer].id);
    }
  }
  o.offer_count = 2;
  EXPECT_EQ(ExportBatch(**r, nullptr, ids, {}, o, [](absl::string_view) { return absl::OkStatus(); }).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "offers without a catalog";
}

TEST(BatchExport, TheCommandWritesItsFileAtomically) {
  TempDir dir;
  const std::string model = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(*TestModel(), model).ok());
  const std::string out = dir.Path("campaign.jsonl");
  auto r = ::aisle::testing::Exec(absl::StrCat(AISLE_BIN_DIR, "/aisle-eval batch --model ", model, " --count 3 --output ", out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("400 customers"), std::string::npos) << r.output;
  EXPECT_EQ(Lines(::aisle::testing::ReadAll(out)).size(), 400u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 2u) << "a temp file was left behind";
  r = ::aisle::testing::Exec(absl::StrCat(AISLE_BIN_DIR, "/aisle-eval batch --model ", model, " --output ", dir.Path("x.csv"),
                                          " --count 0"));
  EXPECT_EQ(r.status, 2) << r.output;
  r = ::aisle::testing::Exec(absl::StrCat(AISLE_BIN_DIR, "/aisle-eval batch --model ", dir.Path("missing.model"),
                                          " --output ", dir.Path("y.jsonl")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.Path("y.jsonl")));
}

}  // namespace
}  // namespace aisle
