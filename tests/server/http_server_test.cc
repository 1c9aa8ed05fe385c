// The real server on a loopback port: every endpoint, errors, auth, hot
// reload under concurrent requests, and a corrupt model refused.
#include "server/http_server.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "engine/utf8.h"
#include "tests/http_client.h"
#include "tests/model_file_builder.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"
#include "training/ials_trainer.h"
#include "training/train_job.h"

namespace aisle {
namespace {

using ::aisle::testing::Call;
using ::aisle::testing::HttpResponse;
using ::aisle::testing::TempDir;
using json = nlohmann::json;

Model TrainModel(uint64_t seed, const std::string& id) {
  SyntheticOptions o;
  o.customers = 300;
  o.products = 90;
  o.categories = 5;
  o.purchases = 5000;
  o.seed = 5;
  EventLog log = ::aisle::testing::ToEventLog(GenerateSynthetic(o));
  IalsOptions io;
  io.factors = 8;
  io.iterations = 4;
  io.seed = seed;
  io.objective.regularization = 0.5f;
  Model m = ::aisle::testing::TrainModel(log, io);
  EXPECT_TRUE(m.SetMetadata(nlohmann::json({{"model_id", id}, {"hyperparameters", {{"alpha", 1.0}, {"regularization", 0.5}}}})).ok());
  return m;
}

json Body(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

void ExpectError(const HttpResponse& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  json j = Body(r);
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pub_ = dir_->Path("pub");
    ASSERT_TRUE(PublishModel(TrainModel(1, "model-v1"), pub_, 10).ok());
    std::string catalog = "product_id,name,category,price,in_stock\n";
    for (int p = 0; p < 90; ++p) {
      catalog += "p" + std::to_string(p) + ",Item " + std::to_string(p) + ",cat" + std::to_string(p % 3) + "," +
                 std::to_string(p) + ".5," + (p % 4 ? "true" : "false") + "\n";
    }
    catalog_ = dir_->Write("catalog.csv", catalog);
    dir_->Write("keys", "# clients\nclient-key-0123456789abcdef\n");
    dir_->Write("admin", "admin-key-0123456789abcdef\n");
  }
  // Offers over the catalog's three categories, one capped at 2 impressions,
  // one for the UK only.
  static std::string OffersJson(const std::string& suffix = "") {
    return R"({"offers": [
      {"id": "cat0-deal)" + suffix + R"(", "title": "Category 0: 10% off", "categories": ["cat0"], "discount": {"percent": 10}},
      {"id": "cat1-deal", "title": "Category 1: 2 off", "categories": ["cat1"], "discount": {"amount": 2, "currency": "GBP"},
       "max_impressions_per_customer": 2},
      {"id": "cat2-deal", "title": "Category 2: 5% off", "categories": ["cat2"], "discount": {"percent": 5},
       "valid_until": "2100-01-01"},
      {"id": "uk-only", "title": "UK: 20% off", "products": ["p1", "p2", "p3", "p4", "p5"], "discount": {"percent": 20},
       "eligibility": {"countries": ["UK"]}, "weight": 50}]})";
  }
  static void TearDownTestSuite() { delete dir_; }

  // With `offers`, the offer endpoints serve that file, impressions logged
  // to `impressions` (a path).
  void Start(bool with_keys, const std::string& offers = "", const std::string& impressions = "",
             bool default_in_stock = true, FILE* access_log = nullptr) {
    source_ = std::make_unique<ModelSource>(pub_, catalog_, &metrics_, recommender_options_);
    if (!offers.empty()) source_->SetOfferCatalog(offers);
    ASSERT_TRUE(source_->Reload(true).ok());
    HttpServerOptions o;
    if (!offers.empty()) {
      auto log = ImpressionLog::Open(impressions);
      ASSERT_TRUE(log.ok()) << log.status();
      impressions_ = std::move(*log);
      o.offers = true;
      o.impressions = impressions_.get();
    }
    o.port = 0;
    o.threads = 2;
    o.access_log = access_log;
    o.max_body_bytes = 4096;
    o.default_in_stock = default_in_stock;
    if (with_keys) {
      o.api_keys = *ApiKeys::Load(dir_->Path("keys"));
      o.admin_keys = *ApiKeys::Load(dir_->Path("admin"));
    }
    server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
    impressions_.reset();
  }
  void TearDown() override {
    Stop();
    // Leave the publish directory as the suite found it.
    ASSERT_TRUE(PublishModel(TrainModel(1, "model-v1"), pub_, 10).ok());
  }
  HttpResponse Get(const std::string& path, const std::string& key = "") { return Call(port_, "GET", path, "", key); }
  // aisle_customer_recommendations_answered_total{by=...} from /metrics.
  long Answered(const std::string& by) {
    const std::string metrics = Get("/metrics").body;
    const std::string key = "aisle_customer_recommendations_answered_total{by=\"" + by + "\"} ";
    const size_t at = metrics.find(key);
    EXPECT_NE(at, std::string::npos) << metrics;
    return at == std::string::npos ? -1 : std::stol(metrics.substr(at + key.size()));
  }
  HttpResponse Post(const std::string& path, const std::string& body, const std::string& key = "") {
    return Call(port_, "POST", path, body, key);
  }

  static TempDir* dir_;
  static std::string pub_, catalog_;
  // As aisle-server runs by default: top lists (here of 8 products), so
  // count <= 8 mostly comes from the lists and larger counts are scored.
  Recommender::Options recommender_options_ = [] {
    Recommender::Options o;
    o.top_list_length = 8;
    return o;
  }();
  Metrics metrics_;
  std::unique_ptr<ModelSource> source_;
  std::unique_ptr<ImpressionLog> impressions_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};
TempDir* ServerTest::dir_ = nullptr;
std::string ServerTest::pub_, ServerTest::catalog_;

TEST_F(ServerTest, HealthReadinessModelAndMetrics) {
  Start(false);
  EXPECT_EQ(Get("/healthz").status, 200);
  HttpResponse ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(Body(ready)["model_version"], "model-v1");
  HttpResponse model = Get("/v1/model");
  ASSERT_EQ(model.status, 200);
  json m = Body(model);
  EXPECT_EQ(m["model_version"], "model-v1");
  EXPECT_EQ(m["factors"], 8);
  EXPECT_EQ(m["catalog_products"], 90);
  EXPECT_EQ(model.headers.at("x-model-version"), "model-v1");
  HttpResponse metrics = Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers.at("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(metrics.body.find("aisle_requests_total{endpoint=\"model\",status=\"200\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("aisle_request_duration_seconds_bucket{endpoint=\"readyz\""), std::string::npos);
  EXPECT_NE(metrics.body.find("aisle_model_info{model_id=\"model-v1\"} 1"), std::string::npos);
}

TEST_F(ServerTest, CustomerRecommendations) {
  Start(false);
  HttpResponse r = Get("/v1/customers/c3/recommendations?count=5&explain=true");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["model_version"], "model-v1");
  EXPECT_TRUE(j["fallback"].is_null());
  ASSERT_EQ(j["recommendations"].size(), 5u);
  auto rec = Recommender::Create(std::make_shared<Model>(*ReadModel(*CurrentModelPath(pub_))), nullptr);
  const Model& m = (*rec)->model();
  std::set<std::string> bought;
  for (uint32_t p : m.purchased.RowIndices(*m.customers.Find("c3"))) bought.insert(m.products.id(p));
  for (const auto& x : j["recommendations"]) {
    EXPECT_FALSE(bought.count(x["product_id"])) << "a purchased product was recommended";
    EXPECT_TRUE(x.contains("name"));
    EXPECT_TRUE(x.contains("price"));
    ASSERT_FALSE(x["because"].empty());
    for (const auto& b : x["because"]) EXPECT_TRUE(bought.count(b["product_id"]));
  }
  // Filters.
  json f = Body(Get("/v1/customers/c3/recommendations?count=50&category=cat1&min_price=10&max_price=60&in_stock=true"));
  ASSERT_FALSE(f["recommendations"].empty());
  for (const auto& x : f["recommendations"]) {
    EXPECT_EQ(x["category"], "cat1");
    EXPECT_GE(x["price"].get<double>(), 10);
    EXPECT_LE(x["price"].get<double>(), 60);
    EXPECT_TRUE(x["in_stock"].get<bool>());
  }
  std::string first = Body(Get("/v1/customers/c3/recommendations?count=1"))["recommendations"][0]["product_id"];
  json ex = Body(Get("/v1/customers/c3/recommendations?count=1&exclude=" + first + "&exclude_category=cat9"));
  EXPECT_NE(ex["recommendations"][0]["product_id"], first);
  // Unknown customers get popularity, flagged.
  json unknown = Body(Get("/v1/customers/somebody-new/recommendations?count=3"));
  EXPECT_EQ(unknown["fallback"], "popularity");
  EXPECT_EQ(unknown["recommendations"].size(), 3u);
}

// Each way of answering a customer (top list, scoring, popularity) gives
// the answer of a Recommender that scores everything, and /metrics counts
// them; without lists every known customer is scored.
TEST_F(ServerTest, TopListsScoringAndPopularityAnswerAlike) {
  for (size_t length : {8, 0}) {
    recommender_options_.top_list_length = length;
    Start(false);
    auto plain = *Recommender::Create(std::make_shared<Model>(*ReadModel(*CurrentModelPath(pub_))), nullptr);
    const Model& m = plain->model();
    json info = Body(Get("/v1/model"));
    // The lists fill in the background after the load: wait for all of them.
    for (int i = 0; i < 1000 && length > 0 && info["top_lists"]["products"] != m.products.size(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      info = Body(Get("/v1/model"));
    }
    if (length > 0) {
      EXPECT_EQ(info["top_lists"]["length"], 8);
      EXPECT_EQ(info["top_lists"]["customers"], m.customers.size());
      EXPECT_EQ(info["top_lists"]["products"], m.products.size());
    } else {
      EXPECT_TRUE(info["top_lists"].is_null());
    }
    for (uint32_t c = 0; c < 30; ++c) {
      for (size_t count : {3, 8, 20}) {
        json got = Body(
            Get(absl::StrCat("/v1/customers/", m.customers.id(c), "/recommendations?in_stock=false&count=", count)));
        RecommendOptions o;
        o.count = count;
        auto want = plain->ForCustomer(m.customers.id(c), o);
        ASSERT_EQ(got["recommendations"].size(), want->items.size());
        for (size_t i = 0; i < want->items.size(); ++i) {
          EXPECT_EQ(got["recommendations"][i]["product_id"], m.products.id(want->items[i].product));
        }
      }
    }
    EXPECT_EQ(Body(Get("/v1/customers/somebody-new/recommendations?count=3"))["fallback"], "popularity");
    // Counted since the start of this suite's metrics: the run with lists first.
    EXPECT_EQ(Answered("top_list"), 60);
    EXPECT_EQ(Answered("scoring"), length > 0 ? 30 : 30 + 90);
    EXPECT_EQ(Answered("popularity"), length > 0 ? 1 : 2);
    // Every scored request went through a batch (requests here come one at a time).
    const std::string metrics = Get("/metrics").body;
    EXPECT_NE(metrics.find(absl::StrCat("aisle_scoring_batched_requests_total ", length > 0 ? 30 : 120, "\n")),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find(absl::StrCat("aisle_scoring_batches_total ", length > 0 ? 30 : 120, "\n")),
              std::string::npos);
    Stop();
  }
}

// A changed catalog file is picked up without re-reading the model or
// rebuilding its top lists; a malformed one is refused and the old serves.
TEST_F(ServerTest, OutOfStockProductsAreLeftOutByDefault) {
  // The catalog marks every fourth product out of stock: no answer shows
  // one unless the request says in_stock=false, or the server was started
  // with --default_in_stock=false.
  auto out_of_stock = [](const json& answer) {
    int n = 0;
    for (const auto& x : answer["recommendations"]) n += x.contains("in_stock") && !x["in_stock"].get<bool>();
    return n;
  };
  const std::vector<std::string> asks = {"/v1/customers/somebody-new/recommendations?count=40",  // popularity
                                         "/v1/customers/c3/recommendations?count=40"};
  for (bool server_default : {true, false}) {
    SCOPED_TRACE(server_default);
    Start(false, "", "", server_default);
    for (const std::string& ask : asks) {
      const json plain = Body(Get(ask));
      ASSERT_EQ(plain["recommendations"].size(), 40u) << ask;
      EXPECT_EQ(out_of_stock(plain) == 0, server_default) << ask;
      EXPECT_GT(out_of_stock(Body(Get(ask + "&in_stock=false"))), 0) << ask;
      EXPECT_EQ(out_of_stock(Body(Get(ask + "&in_stock=true"))), 0) << ask;
    }
    const json basket = Body(Post("/v1/recommendations", R"({"products": ["p1", "p2"], "count": 40})"));
    ASSERT_FALSE(basket["recommendations"].empty());
    EXPECT_EQ(out_of_stock(basket) == 0, server_default);
    Stop();
  }
}

TEST_F(ServerTest, TheAccessLogHasALinePerRequestOnceTheServerStops) {
  // Written off the request path; every answered request's line is in the
  // file once Shutdown returns, as JSON, with the route instead of ids.
  const std::string path = dir_->Path("access.log");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  Start(false, "", "", true, f);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Get("/v1/customers/c" + std::to_string(i % 7) + "/recommendations").status, 200);
  EXPECT_EQ(Get("/v1/customers/c3/recommendations?count=0").status, 400);
  EXPECT_NE(Get("/metrics").body.find("\naisle_access_log_dropped_lines_total 0\n"), std::string::npos);
  Stop();
  std::fclose(f);
  std::vector<json> lines;
  for (absl::string_view l : absl::StrSplit(::aisle::testing::ReadAll(path), '\n', absl::SkipEmpty())) {
    lines.push_back(json::parse(l));
  }
  ASSERT_EQ(lines.size(), 52u);
  ASSERT_EQ(lines.back()["endpoint"], "metrics");
  lines.pop_back();
  for (const json& l : lines) {
    EXPECT_EQ(l["endpoint"], "customer_recommendations");
    EXPECT_EQ(l["method"], "GET");
    EXPECT_EQ(l["path"], "/v1/customers/:id/recommendations");  // no customer id
    EXPECT_TRUE(l["ms"].is_number());
    EXPECT_FALSE(l["ts"].get<std::string>().empty());
  }
  EXPECT_EQ(lines.back()["status"], 400);
  EXPECT_EQ(lines.front()["model_version"], "model-v1");
}

TEST_F(ServerTest, CatalogChangeKeepsTheModelAndItsTopLists) {
  absl::Cleanup restore = [original = ::aisle::testing::ReadAll(catalog_)] { dir_->Write("catalog.csv", original); };
  Start(false);
  auto before = source_->Current();
  ASSERT_NE(before->customer_cache(), nullptr);
  json r = Body(Get("/v1/customers/c3/recommendations?count=3"));
  const std::string product = r["recommendations"][0]["product_id"];
  EXPECT_EQ(r["recommendations"][0]["name"], "Item " + product.substr(1));
  // Renamed products, and the top product now out of stock.
  std::string renamed = "product_id,name,category,price,in_stock\n";
  for (int p = 0; p < 90; ++p) {
    const std::string id = "p" + std::to_string(p);
    renamed += id + ",Renamed " + std::to_string(p) + ",cat" + std::to_string(p % 3) + ",1.5," +
               (id == product ? "false" : "true") + "\n";
  }
  dir_->Write("catalog.csv", renamed);
  bool changed = false;
  ASSERT_TRUE(source_->Reload(false, &changed).ok());
  EXPECT_TRUE(changed);
  auto after = source_->Current();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->customer_cache(), before->customer_cache()) << "the cached lists were dropped";
  EXPECT_EQ(&after->model(), &before->model()) << "the model was read again";
  r = Body(Get("/v1/customers/c3/recommendations?count=3&in_stock=false"));
  EXPECT_EQ(r["model_version"], "model-v1");
  EXPECT_EQ(r["recommendations"][0]["product_id"], product);
  EXPECT_EQ(r["recommendations"][0]["name"], "Renamed " + product.substr(1));
  r = Body(Get("/v1/customers/c3/recommendations?count=3&in_stock=true"));
  EXPECT_NE(r["recommendations"][0]["product_id"], product);
  // In stock only is the default with a catalog that says so.
  r = Body(Get("/v1/customers/c3/recommendations?count=3"));
  EXPECT_NE(r["recommendations"][0]["product_id"], product);
  // Malformed: refused, the renamed catalog keeps serving.
  dir_->Write("catalog.csv", renamed + "p1,Duplicate,cat1,1,true\n");
  EXPECT_FALSE(source_->Reload(false).ok());
  EXPECT_EQ(source_->Current(), after);
  EXPECT_EQ(Body(Get("/v1/customers/c3/recommendations?count=1&in_stock=false"))["recommendations"][0]["name"],
            "Renamed " + product.substr(1));
}

TEST_F(ServerTest, SimilarBasketAndRank) {
  Start(false);
  json s = Body(Get("/v1/products/p5/similar?count=4"));
  ASSERT_EQ(s["similar"].size(), 4u);
  for (const auto& x : s["similar"]) EXPECT_NE(x["product_id"], "p5");
  ExpectError(Get("/v1/products/no-such/similar"), 404, "not_found");

  HttpResponse b = Post("/v1/recommendations", R"({"products": ["p1", "p2", "zzz"], "count": 3, "explain": true})");
  ASSERT_EQ(b.status, 200) << b.body;
  json bj = Body(b);
  EXPECT_TRUE(bj["fallback"].is_null());
  ASSERT_EQ(bj["recommendations"].size(), 3u);
  for (const auto& x : bj["recommendations"]) {
    EXPECT_NE(x["product_id"], "p1");
    EXPECT_NE(x["product_id"], "p2");
  }
  EXPECT_EQ(Body(Post("/v1/recommendations", R"({"products": ["zzz"]})"))["fallback"], "popularity");

  json rank = Body(Post("/v1/customers/c3/rank", R"({"products": ["p1", "nope", "p2", "p3"]})"));
  ASSERT_EQ(rank["ranked"].size(), 4u);
  EXPECT_GE(rank["ranked"][0]["score"].get<double>(), rank["ranked"][1]["score"].get<double>());
  EXPECT_EQ(rank["ranked"][3]["product_id"], "nope");
  EXPECT_TRUE(rank["ranked"][3]["score"].is_null());
}

TEST_F(ServerTest, BadRequestsGetJsonErrors) {
  Start(false);
  ExpectError(Get("/v1/customers/c3/recommendations?count=0"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/recommendations?count=5000"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/recommendations?count=ten"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/recommendations?min_price=9&max_price=1"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/recommendations?explain=maybe"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/" + std::string(300, 'x') + "/recommendations"), 400, "invalid_argument");
  ExpectError(Post("/v1/recommendations", "{not json"), 400, "invalid_json");
  ExpectError(Post("/v1/recommendations", "[1, 2]"), 400, "invalid_json");
  ExpectError(Post("/v1/recommendations", R"({"products": [1, 2]})"), 400, "invalid_argument");
  ExpectError(Post("/v1/recommendations", R"({"products": ["p1"], "weights": [1, 2]})"), 400, "invalid_argument");
  ExpectError(Post("/v1/customers/c3/rank", R"({"products": []})"), 400, "invalid_argument");
  ExpectError(Post("/v1/recommendations", R"({"products": [")" + std::string(5000, 'a') + R"("]})"), 413,
              "payload_too_large");
  ExpectError(Get("/v1/nothing/here"), 404, "not_found");
  ExpectError(Call(port_, "DELETE", "/v1/model"), 405, "method_not_allowed");
  ExpectError(Get("/v1/recommendations"), 405, "method_not_allowed");
  // Garbage on the socket: an error or a closed connection, and the server lives on.
  HttpResponse junk = ::aisle::testing::SendRaw(port_, "HELLO\r\n\r\n");
  EXPECT_TRUE(junk.status == -1 || (junk.status >= 400 && junk.status < 500)) << junk.status;
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(ServerTest, HttpAsStorefrontClientsSpeakIt) {
  Start(true);
  const std::string key = "client-key-0123456789abcdef";
  // One persistent connection, no Connection header, every kind of request.
  ::aisle::testing::Connection c(port_);
  const std::string head = "Host: shop\r\nX-API-Key: " + key + " \r\n";  // a trailing space is not part of the key
  for (const std::string path : {"/v1/customers/c1/recommendations?count=3", "/v1/customers/c2/recommendations?count=20",
                                  "/v1/customers/nobody/recommendations", "/v1/products/p1/similar?count=2"}) {
    ASSERT_TRUE(c.Send("GET " + path + " HTTP/1.1\r\n" + head + "\r\n"));
    HttpResponse r = c.Read();
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_EQ(r.headers["x-model-version"], "model-v1");
  }
  const std::string body = R"({"products": ["p1", "p2"], "count": 2})";
  ASSERT_TRUE(c.Send("POST /v1/recommendations HTTP/1.1\r\n" + head + "Content-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body));
  EXPECT_EQ(c.Read().status, 200);
  // HEAD and OPTIONS.
  ASSERT_TRUE(c.Send("HEAD /v1/customers/c1/recommendations HTTP/1.1\r\n" + head + "\r\n"));
  HttpResponse h = c.Read(/*head=*/true);
  EXPECT_EQ(h.status, 200);
  EXPECT_GT(std::stoul(h.headers["content-length"]), 0u);
  EXPECT_EQ(h.body, "");
  ASSERT_TRUE(c.Send("OPTIONS /v1/recommendations HTTP/1.1\r\nHost: shop\r\n\r\n"));
  HttpResponse o = c.Read();
  EXPECT_EQ(o.status, 204);
  EXPECT_EQ(o.headers["allow"], "POST, OPTIONS");
  // Bad bytes in ids: 400 with a valid UTF-8 JSON body, never echoed raw.
  for (const std::string path : {"/v1/customers/%ff/recommendations", "/v1/customers/%zz/recommendations",
                                  "/v1/products/%c3%28/similar", "/v1/customers/a%0d%0aX-Evil:%201/offers",
                                  "/v1/customers/c1/recommendations?category=%ff", "/v1/customers/c1/recommendations?max_price=1e39"}) {
    ASSERT_TRUE(c.Send("GET " + path + " HTTP/1.1\r\n" + head + "\r\n"));
    HttpResponse r = c.Read();
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " " << r.status;
    EXPECT_TRUE(IsValidUtf8(r.body)) << path;
    EXPECT_EQ(r.headers.count("x-evil"), 0u);
    EXPECT_FALSE(json::parse(r.body, nullptr, false).is_discarded()) << r.body;
  }
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(ServerTest, BatchedAndDirectPathsGiveTheSameErrors) {
  Start(false);
  // Filtered and scored (count above the list length): the batcher's path.
  ExpectError(Get("/v1/customers/c3/recommendations?count=20&min_price=9&max_price=1"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/recommendations?min_price=9&max_price=1"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/unknown/recommendations?min_price=9&max_price=1"), 400, "invalid_argument");
}

TEST_F(ServerTest, ApiKeysAndAdminKey) {
  Start(true);
  const std::string client = "client-key-0123456789abcdef", admin = "admin-key-0123456789abcdef";
  EXPECT_EQ(Get("/healthz").status, 200);  // probes stay open
  ExpectError(Get("/v1/model"), 401, "unauthenticated");
  ExpectError(Get("/v1/model", "client-key-0123456789abcdeX"), 403, "forbidden");
  ExpectError(Get("/v1/model", "short"), 403, "forbidden");
  EXPECT_EQ(Get("/v1/model", client).status, 200);
  EXPECT_EQ(Get("/v1/customers/c1/recommendations", client).status, 200);
  ExpectError(Post("/v1/admin/reload", "", client), 403, "forbidden");
  ExpectError(Post("/v1/admin/reload", ""), 401, "unauthenticated");
  HttpResponse ok = Post("/v1/admin/reload", "", admin);
  EXPECT_EQ(ok.status, 200) << ok.body;
  // The key is checked when the head arrives: a client without one is
  // answered before its body, which is never read.
  for (const std::string& key : {std::string(), std::string("client-key-0123456789abcdeX")}) {
    ::aisle::testing::Connection c(port_);
    ASSERT_TRUE(c.Send("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\n" +
                       (key.empty() ? "" : "X-API-Key: " + key + "\r\n") +
                       "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"products\": ["));
    HttpResponse r = c.Read();
    ExpectError(r, key.empty() ? 401 : 403, key.empty() ? "unauthenticated" : "forbidden");
    EXPECT_TRUE(c.Closed());
  }
  EXPECT_NE(Get("/metrics").body.find("aisle_http_refused_at_head_total 2"), std::string::npos);
}

TEST_F(ServerTest, AdminEndpointDisabledWithoutAdminKeys) {
  Start(false);
  ExpectError(Post("/v1/admin/reload", ""), 403, "forbidden");
}

TEST_F(ServerTest, HotReloadUnderConcurrentRequestsFailsNothing) {
  Start(true);
  source_->StartWatching(20);
  const std::string client = "client-key-0123456789abcdef", admin = "admin-key-0123456789abcdef";
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::set<std::string> versions;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      int i = 0;
      while (!stop) {
        HttpResponse r = Get("/v1/customers/c" + std::to_string((t * 31 + i++) % 300) + "/recommendations?count=5", client);
        if (r.status == 200 && Body(r)["recommendations"].size() == 5) {
          ++ok;
          std::lock_guard<std::mutex> lock(mu);
          versions.insert(r.headers["x-model-version"]);
        } else {
          ++failed;
        }
      }
    });
  }
  // Publish new versions while the clients run: the watcher picks up some,
  // the admin endpoint forces others.
  for (int v = 2; v <= 5; ++v) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_TRUE(PublishModel(TrainModel(v, "model-v" + std::to_string(v)), pub_, 10).ok());
    if (v % 2 == 0) {
      EXPECT_EQ(Post("/v1/admin/reload", "", admin).status, 200);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 50);
  EXPECT_GE(versions.size(), 3u);
  EXPECT_TRUE(versions.count("model-v5"));
  EXPECT_EQ(Body(Get("/v1/model", client))["model_version"], "model-v5");
  source_->StopWatching();
}

TEST_F(ServerTest, CorruptModelIsRefusedAndTheOldOneServes) {
  Start(true);
  const std::string admin = "admin-key-0123456789abcdef", client = "client-key-0123456789abcdef";
  // A new version that is corrupt: point `current` at a damaged copy.
  const std::string good = *CurrentModelPath(pub_);
  std::string bytes = ::aisle::testing::ReadAll(good);
  bytes[bytes.size() / 2] ^= 0x5A;
  const std::string bad = pub_ + "/models/model-999999.model";
  dir_->Write("pub/models/model-999999.model", bytes);
  ASSERT_EQ(::aisle::testing::Exec("ln -sfn models/model-999999.model " + pub_ + "/current").status, 0);
  HttpResponse r = Post("/v1/admin/reload", "", admin);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("checksum"), std::string::npos) << r.body;
  EXPECT_EQ(Body(Get("/v1/model", client))["model_version"], "model-v1");
  EXPECT_EQ(Get("/v1/customers/c1/recommendations", client).status, 200);
  EXPECT_NE(Get("/metrics").body.find("aisle_model_reloads_total{result=\"failed\"} 1"), std::string::npos);
  // A truncated file is refused the same way.
  dir_->Write("pub/models/model-999999.model", bytes.substr(0, 100));
  EXPECT_EQ(Post("/v1/admin/reload", "", admin).status, 422);
  std::filesystem::remove(bad);
}

TEST_F(ServerTest, HostileModelsAreRefusedWithValidJsonAndTheOldOneServes) {
  Start(true);
  const std::string admin = "admin-key-0123456789abcdef", client = "client-key-0123456789abcdef";
  const std::string bad = pub_ + "/models/model-999998.model";
  std::vector<std::string> metas = {
      std::string(R"({"model_id": "evil\r\nX-Injected: 1"})"), std::string(R"({"model_id": 7})"),
      "{\"deep\": " + std::string(100000, '[') + std::string(100000, ']') + "}",
      std::string("{\"model_id\": \"\xff\xfe\"}")};
  for (const std::string& meta : metas) {
    dir_->Write("pub/models/model-999998.model",
                ::aisle::testing::BuildModelFile(2, 2, 1, ::aisle::testing::SmallModelSections(meta)));
    ASSERT_EQ(::aisle::testing::Exec("ln -sfn models/model-999998.model " + pub_ + "/current").status, 0);
    HttpResponse r = Post("/v1/admin/reload", "", admin);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_TRUE(IsValidUtf8(r.body));
    EXPECT_EQ(Body(r)["error"]["code"], "reload_refused");
    EXPECT_EQ(r.headers.count("x-injected"), 0u);
    EXPECT_EQ(Body(Get("/v1/model", client))["model_version"], "model-v1");
  }
  std::filesystem::remove(bad);
}

TEST_F(ServerTest, AModelOverwrittenInPlaceWhileServingNeverCrashes) {
  // The server follows a plain file that is rewritten in place (as `cp new
  // served` does: truncate, then write), while clients ask and reloads run.
  const std::string served = dir_->Path("served.model");
  const std::string v1 = ::aisle::testing::ReadAll(*CurrentModelPath(pub_));
  ASSERT_TRUE(WriteModel(TrainModel(2, "model-v2"), dir_->Path("v2.model")).ok());
  const std::string v2 = ::aisle::testing::ReadAll(dir_->Path("v2.model"));
  dir_->Write("served.model", v1);
  source_ = std::make_unique<ModelSource>(served, catalog_, &metrics_, recommender_options_);
  ASSERT_TRUE(source_->Reload(true).ok());
  HttpServerOptions o;
  o.port = 0;
  o.access_log = nullptr;
  o.admin_keys = *ApiKeys::Load(dir_->Path("admin"));
  server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
  ASSERT_TRUE(server_->Start().ok());
  port_ = server_->port();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread client([&] {
    while (!stop) {
      // 503 while a half-written file is refused and the damaged model withdrawn.
      const int status = Get("/v1/customers/c1/recommendations?count=3").status;
      if (status != 200 && status != 503) failures++;
    }
  });
  for (int i = 0; i < 20; ++i) {
    const std::string& next = i % 2 ? v1 : v2;
    {
      FILE* f = std::fopen(served.c_str(), "wb");  // truncates in place, same inode
      ASSERT_NE(f, nullptr);
      std::fwrite(next.data(), 1, next.size() / 2, f);
      std::fflush(f);
      const int status = Post("/v1/admin/reload", "", "admin-key-0123456789abcdef").status;  // half a file
      EXPECT_TRUE(status == 200 || status == 422) << status;
      std::fwrite(next.data() + next.size() / 2, 1, next.size() - next.size() / 2, f);
      std::fclose(f);
    }
    const HttpResponse r = Post("/v1/admin/reload", "", "admin-key-0123456789abcdef");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Get("/readyz").status, 200);
  }
  stop = true;
  client.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Get("/healthz").status, 200);
}

// A served model file changed in place (not replaced by a rename) is noticed
// by the next watcher tick: loaded again when it is a valid model (never a
// mix of two files), withdrawn when it is not (not ready, 503, never scores
// of zeros), and served again once a valid file is there.
TEST_F(ServerTest, AModelChangedInPlaceIsReloadedOrWithdrawn) {
  const std::string served = dir_->Path("served-in-place.model");
  const std::string v1 = ::aisle::testing::ReadAll(*CurrentModelPath(pub_));
  ASSERT_TRUE(WriteModel(TrainModel(2, "model-v2"), dir_->Path("v2.model")).ok());
  const std::string v2 = ::aisle::testing::ReadAll(dir_->Path("v2.model"));
  dir_->Write("served-in-place.model", v1);
  source_ = std::make_unique<ModelSource>(served, catalog_, &metrics_, recommender_options_);
  ASSERT_TRUE(source_->Reload(true).ok());
  HttpServerOptions o;
  o.port = 0;
  o.access_log = nullptr;
  server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
  ASSERT_TRUE(server_->Start().ok());
  port_ = server_->port();
  auto answer = [&] {
    json j = json::parse(Get("/v1/customers/c1/recommendations?count=3").body);
    j.erase("recommendation_id");
    return j;
  };
  const json before = answer();
  auto rewrite = [&](const std::string& contents) {
    // In place: same inode, as `cp` or `truncate` do.
    FILE* f = std::fopen(served.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fwrite(contents.data(), 1, contents.size(), f);
    std::fflush(f);
    ASSERT_EQ(::ftruncate(::fileno(f), static_cast<off_t>(contents.size())), 0);
    std::fclose(f);
  };
  // Truncated in place to half: the watcher's reload fails, and the model
  // whose pages are gone stops serving.
  rewrite(v1.substr(0, v1.size() / 2));
  EXPECT_FALSE(source_->Reload(false).ok());
  EXPECT_EQ(source_->Current(), nullptr);
  EXPECT_EQ(Get("/readyz").status, 503);
  EXPECT_EQ(Get("/v1/customers/c1/recommendations?count=3").status, 503);
  EXPECT_TRUE(source_->Reload(false).ok()) << "not retried until the file changes again";
  EXPECT_EQ(Get("/readyz").status, 503);
  // The whole file again: served again, as before.
  rewrite(v1);
  ASSERT_TRUE(source_->Reload(false).ok());
  EXPECT_EQ(Get("/readyz").status, 200);
  EXPECT_EQ(answer(), before);
  // Another model written over it in place: the next tick serves it, whole.
  rewrite(v2);
  ASSERT_TRUE(source_->Reload(false).ok());
  ASSERT_NE(source_->Current(), nullptr);
  EXPECT_EQ(source_->Current()->model_id(), "model-v2");
  EXPECT_TRUE(source_->Current()->model().mapping->CheckUnchanged().ok());
}

std::vector<std::string> OfferIds(const json& j) {
  std::vector<std::string> ids;
  for (const auto& o : j["offers"]) ids.push_back(o["offer_id"]);
  return ids;
}

TEST_F(ServerTest, CustomerOffers) {
  const std::string offers = dir_->Write("offers.json", OffersJson());
  Start(false, offers, dir_->Path("impressions-a.log"));
  HttpResponse r = Get("/v1/customers/c3/offers?count=3");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("x-model-version"), "model-v1");
  json j = Body(r);
  EXPECT_EQ(j["model_version"], "model-v1");
  EXPECT_TRUE(j["fallback"].is_null());
  // No country given: the UK offer is not eligible; the three category offers are.
  std::vector<std::string> ids = OfferIds(j);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
            (std::set<std::string>{"cat0-deal", "cat1-deal", "cat2-deal"}));
  auto rec = Recommender::Create(std::make_shared<Model>(*ReadModel(*CurrentModelPath(pub_))), nullptr);
  const Model& m = (*rec)->model();
  std::set<std::string> bought;
  for (uint32_t p : m.purchased.RowIndices(*m.customers.Find("c3"))) bought.insert(m.products.id(p));
  double last = 1e30;
  for (const auto& o : j["offers"]) {
    EXPECT_LE(o["score"].get<double>(), last);
    last = o["score"].get<double>();
    ASSERT_FALSE(o["because"].empty());
    for (const auto& b : o["because"]) {
      EXPECT_FALSE(bought.count(b["product_id"])) << "a bought product drives an offer";
      // Each category offer is explained by products of its category.
      EXPECT_EQ(b["category"].get<std::string>() + "-deal", o["offer_id"].get<std::string>());
      EXPECT_TRUE(b.contains("name"));
    }
  }
  json cat1 = j["offers"][std::find(ids.begin(), ids.end(), "cat1-deal") - ids.begin()];
  EXPECT_EQ(cat1["discount"]["amount"], 2);
  EXPECT_EQ(cat1["discount"]["currency"], "GBP");
  EXPECT_EQ(cat1["impressions_left"], 2);
  // The UK sees the UK offer (weighted to the top).
  EXPECT_EQ(OfferIds(Body(Get("/v1/customers/c3/offers?count=4&country=UK")))[0], "uk-only");
  EXPECT_EQ(Body(Get("/v1/customers/c3/offers?count=1"))["offers"].size(), 1u);
  // Validity: at a time after cat2-deal ends, it is gone.
  ids = OfferIds(Body(Get("/v1/customers/c3/offers?count=4&at=2100-01-02")));
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "cat2-deal"), ids.end());
  // Unknown customers: popularity, flagged.
  json unknown = Body(Get("/v1/customers/new-person/offers"));
  EXPECT_EQ(unknown["fallback"], "popularity");
  EXPECT_FALSE(unknown["offers"].empty());
  // Errors.
  ExpectError(Get("/v1/customers/c3/offers?count=0"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/offers?at=yesterday"), 400, "invalid_argument");
  ExpectError(Post("/v1/customers/c3/offers/impressions", "{oops"), 400, "invalid_json");
  ExpectError(Post("/v1/customers/c3/offers/impressions", R"({"offers": []})"), 400, "invalid_argument");
  ExpectError(Post("/v1/customers/c3/offers/impressions", R"({"offers": [7]})"), 400, "invalid_argument");
  ExpectError(Get("/v1/customers/c3/offers/impressions"), 405, "method_not_allowed");
}

TEST_F(ServerTest, ImpressionCapsHoldAcrossARestart) {
  const std::string offers = dir_->Write("offers.json", OffersJson());
  const std::string log = dir_->Path("impressions-b.log");
  Start(false, offers, log);
  auto shown = [&] {
    std::vector<std::string> ids = OfferIds(Body(Get("/v1/customers/c7/offers?count=5")));
    return std::set<std::string>(ids.begin(), ids.end());
  };
  ASSERT_TRUE(shown().count("cat1-deal"));
  HttpResponse r = Post("/v1/customers/c7/offers/impressions", R"({"offers": ["cat1-deal", "cat0-deal", "gone"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["recorded"], 2);
  EXPECT_EQ(Body(r)["ignored"], json::array({"gone"}));
  EXPECT_TRUE(shown().count("cat1-deal"));  // 1 of 2
  ASSERT_EQ(Post("/v1/customers/c7/offers/impressions", R"({"offers": ["cat1-deal"]})").status, 200);
  EXPECT_FALSE(shown().count("cat1-deal"));  // cap reached
  EXPECT_TRUE(shown().count("cat0-deal"));   // uncapped
  // Another customer is not affected.
  std::vector<std::string> other = OfferIds(Body(Get("/v1/customers/c8/offers?count=5")));
  EXPECT_NE(std::find(other.begin(), other.end(), "cat1-deal"), other.end());
  EXPECT_NE(Get("/metrics").body.find("aisle_offer_impressions_total 3"), std::string::npos);
  // Restart: the log is replayed and the cap still holds.
  Stop();
  Start(false, offers, log);
  EXPECT_EQ(impressions_->records(), 2u);
  EXPECT_FALSE(shown().count("cat1-deal"));
  EXPECT_EQ(impressions_->Count("c7", "cat1-deal"), 2u);
}

TEST_F(ServerTest, MalformedOfferCatalogIsRefusedAndThePreviousOneServes) {
  const std::string offers = dir_->Write("offers.json", OffersJson());
  Start(false, offers, dir_->Path("impressions-c.log"));
  ASSERT_EQ(Get("/v1/customers/c3/offers").status, 200);
  // An offer with a percent over 100: refused, with the file and the offer named.
  std::string bad = OffersJson();
  bad.replace(bad.find("\"percent\": 10"), 13, "\"percent\": 110");
  dir_->Write("offers.json", bad);
  absl::Status s = source_->Reload(false);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("offers.json: offers[0] (id 'cat0-deal')"), std::string::npos) << s;
  std::vector<std::string> ids = OfferIds(Body(Get("/v1/customers/c3/offers?count=5")));
  EXPECT_NE(std::find(ids.begin(), ids.end(), "cat0-deal"), ids.end());
  EXPECT_NE(Get("/metrics").body.find("aisle_offer_catalog_reloads_total{result=\"failed\"} 1"), std::string::npos);
  EXPECT_EQ(Body(Get("/v1/model"))["model_version"], "model-v1");  // the model is untouched
  // A good new version is picked up.
  dir_->Write("offers.json", OffersJson("-v2"));
  EXPECT_TRUE(source_->Reload(false).ok());
  ids = OfferIds(Body(Get("/v1/customers/c3/offers?count=5")));
  EXPECT_NE(std::find(ids.begin(), ids.end(), "cat0-deal-v2"), ids.end());
}

TEST_F(ServerTest, OffersAreNotFoundWithoutAnOfferCatalog) {
  Start(false);
  ExpectError(Get("/v1/customers/c3/offers"), 404, "not_found");
  ExpectError(Post("/v1/customers/c3/offers/impressions", R"({"offers": ["x"]})"), 404, "not_found");
}

}  // namespace
}  // namespace aisle
