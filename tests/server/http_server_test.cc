// The real server on a loopback port: every endpoint, errors, auth, hot
// reload under concurrent requests, and a corrupt model refused.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/synthetic.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "tests/http_client.h"
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
  Interactions in = BuildInteractions(log, WeightingOptions());
  IalsOptions io;
  io.factors = 8;
  io.iterations = 4;
  io.seed = seed;
  io.objective.regularization = 0.5f;
  IalsTrainer t(in.user_items, in.item_users, io);
  EXPECT_TRUE(t.Init().ok());
  for (int i = 0; i < io.iterations; ++i) t.Iterate(false);
  Model m = AssembleModel(log, std::move(in), t.TakeUserFactors(), t.TakeItemFactors());
  m.metadata = {{"model_id", id}, {"hyperparameters", {{"alpha", 1.0}, {"regularization", 0.5}}}};
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
  static void TearDownTestSuite() { delete dir_; }

  void Start(bool with_keys) {
    source_ = std::make_unique<ModelSource>(pub_, catalog_, &metrics_);
    ASSERT_TRUE(source_->Reload(true).ok());
    HttpServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.access_log = nullptr;
    o.max_body_bytes = 4096;
    if (with_keys) {
      o.api_keys = *ApiKeys::Load(dir_->Path("keys"));
      o.admin_keys = *ApiKeys::Load(dir_->Path("admin"));
    }
    server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    // Leave the publish directory as the suite found it.
    ASSERT_TRUE(PublishModel(TrainModel(1, "model-v1"), pub_, 10).ok());
  }
  HttpResponse Get(const std::string& path, const std::string& key = "") { return Call(port_, "GET", path, "", key); }
  HttpResponse Post(const std::string& path, const std::string& body, const std::string& key = "") {
    return Call(port_, "POST", path, body, key);
  }

  static TempDir* dir_;
  static std::string pub_, catalog_;
  Metrics metrics_;
  std::unique_ptr<ModelSource> source_;
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

}  // namespace
}  // namespace aisle
