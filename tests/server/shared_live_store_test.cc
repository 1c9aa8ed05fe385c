// Two aisle-server processes sharing one Redis (--live_store), as a store
// runs them behind a load balancer: an event acknowledged by one changes
// the other's next answers, consent withdrawn and an erasure through one
// hold on the other, a retry reaching the other server is a duplicate, and
// with Redis gone writes are refused 503 with Retry-After while answers
// keep coming from memory, marked X-Live-State: stale.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/model_registry.h"
#include "nlohmann/json.hpp"
#include "tests/http_client.h"
#include "tests/redis_server.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Call;
using ::aisle::testing::HttpResponse;
using ::aisle::testing::TempDir;
using json = nlohmann::json;

constexpr char kAdminKey[] = "admin-key-0123456789abcdef";

// aisle-server in a process of its own; its port read from what it prints.
class ServerProcess {
 public:
  ServerProcess(const std::string& args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string cmd = absl::StrCat("exec ", AISLE_BIN_DIR, "/aisle-server --port 0 --access_log '' ", args,
                                           " 2> ", log);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 1000 && port_ == 0; ++i) {
      const std::string out = ::aisle::testing::ReadAll(log);
      const size_t at = out.find("listening on 127.0.0.1:");
      if (at != std::string::npos) {
        const size_t from = at + std::strlen("listening on 127.0.0.1:");
        int port = 0;
        if (absl::SimpleAtoi(out.substr(from, out.find_first_not_of("0123456789", from) - from), &port)) port_ = port;
      }
      int status = 0;
      if (port_ == 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "aisle-server exited: " << out;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Polls `check` every 2 ms for up to 5 s; the milliseconds it took, or -1.
double WaitFor(const std::function<bool()>& check) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    if (check()) return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return -1;
}

json Recs(uint16_t port, const std::string& customer) {
  HttpResponse r = Call(port, "GET", "/v1/customers/" + customer + "/recommendations?count=5&in_stock=false");
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body, nullptr, false);
}

class SharedLiveStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.ok()) << "redis-server did not start (scripts/setup.sh --tests)";
    SyntheticOptions o;
    o.customers = 60;
    o.products = 40;
    o.purchases = 800;
    o.seed = 11;
    Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(o)));
    ASSERT_TRUE(m.SetMetadata({{"model_id", "m1"}}).ok());
    ASSERT_TRUE(PublishModel(m, dir_.Path("pub"), 2).ok());
    dir_.Write("admin_keys", std::string(kAdminKey) + "\n");
    // An offer on every product, shown at most twice to a customer.
    std::string products;
    for (int p = 0; p < 40; ++p) absl::StrAppend(&products, p ? "," : "", "\"p", p, "\"");
    dir_.Write("offers.json", absl::StrCat(R"({"offers": [{"id": "o1", "title": "t", "products": [)", products,
                                           R"(], "discount": {"percent": 10}, "max_impressions_per_customer": 2}]})"));
    const std::string args = absl::StrCat("--model ", dir_.Path("pub"), " --live_store ", redis_.url(),
                                          " --admin_keys ", dir_.Path("admin_keys"), " --redis_timeout_ms 300",
                                          " --offers ", dir_.Path("offers.json"));
    a_ = std::make_unique<ServerProcess>(args, dir_.Path("a.log"));
    b_ = std::make_unique<ServerProcess>(args, dir_.Path("b.log"));
    ASSERT_NE(a_->port(), 0);
    ASSERT_NE(b_->port(), 0);
  }
  // A product the model knows: the first of its popularity answer.
  std::string SomeProduct() {
    json r = Recs(a_->port(), "nobody-yet");
    return r["recommendations"][0]["product_id"].get<std::string>();
  }
  HttpResponse Event(uint16_t port, const std::string& customer, const std::string& product, const std::string& id) {
    return Call(port, "POST", "/v1/events",
                json::array({{{"customer_id", customer}, {"product_id", product}, {"event", "purchase"},
                              {"event_id", id}}})
                    .dump());
  }

  testing::RedisServer redis_;
  TempDir dir_;
  std::unique_ptr<ServerProcess> a_, b_;
};

TEST_F(SharedLiveStoreTest, AnEventThroughOneServerChangesTheOthersNextAnswer) {
  const std::string p = SomeProduct();
  EXPECT_EQ(Recs(b_->port(), "walk-in")["fallback"], "popularity");
  HttpResponse posted = Event(a_->port(), "walk-in", p, "ev-1");
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(json::parse(posted.body)["stored"], 1);
  const double ms = WaitFor([&] { return Recs(b_->port(), "walk-in")["fallback"].is_null(); });
  EXPECT_GE(ms, 0) << "server B never personalized for an event posted to A";
  EXPECT_LT(ms, 1000);
  // The client's retry lands on B: a duplicate, not a second purchase.
  HttpResponse retry = Event(b_->port(), "walk-in", p, "ev-1");
  ASSERT_EQ(retry.status, 200);
  EXPECT_EQ(json::parse(retry.body)["duplicates"], 1);
  // B's metrics count what it followed.
  HttpResponse metrics = Call(b_->port(), "GET", "/metrics");
  EXPECT_TRUE(absl::StrContains(metrics.body, "aisle_live_store_followed_total{kind=\"event\"} 1")) << metrics.body;
}

TEST_F(SharedLiveStoreTest, ConsentAndErasureThroughOneServerHoldOnTheOther) {
  const std::string p = SomeProduct();
  ASSERT_EQ(Event(a_->port(), "shopper", p, "e1").status, 200);
  ASSERT_EQ(Event(a_->port(), "leaver", p, "e2").status, 200);
  ASSERT_GE(WaitFor([&] {
              return Recs(b_->port(), "shopper")["fallback"].is_null() && Recs(b_->port(), "leaver")["fallback"].is_null();
            }),
            0);
  // Consent withdrawn through A: B stops personalizing.
  HttpResponse put = Call(a_->port(), "PUT", "/v1/customers/shopper/consent", R"({"personalization": false})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_GE(WaitFor([&] { return Recs(b_->port(), "shopper")["fallback"] == "no_consent"; }), 0);
  HttpResponse consent = Call(b_->port(), "GET", "/v1/customers/shopper/consent");
  EXPECT_FALSE(json::parse(consent.body)["personalization"].get<bool>()) << consent.body;
  // An erasure through A: B forgets their live events at once.
  HttpResponse erased = Call(a_->port(), "DELETE", "/v1/customers/leaver", "", kAdminKey);
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_GE(WaitFor([&] { return Recs(b_->port(), "leaver")["fallback"] == "popularity"; }), 0);
  HttpResponse data = Call(b_->port(), "GET", "/v1/customers/leaver/data", "", kAdminKey);
  ASSERT_EQ(data.status, 200) << data.body;
  EXPECT_TRUE(json::parse(data.body)["live_events"].empty()) << data.body;
}

TEST_F(SharedLiveStoreTest, AnImpressionCapHoldsAcrossServers) {
  auto offers = [&](uint16_t port) {
    HttpResponse r = Call(port, "GET", "/v1/customers/c1/offers?count=3");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  };
  json first = offers(b_->port());
  ASSERT_EQ(first["offers"].size(), 1u) << first.dump();
  EXPECT_EQ(first["offers"][0]["impressions_left"], 2);
  // Shown once through A, once through B: B knows both, at once.
  const std::string shown = R"({"offers": ["o1"]})";
  ASSERT_EQ(Call(a_->port(), "POST", "/v1/customers/c1/offers/impressions", shown).status, 200);
  EXPECT_GE(WaitFor([&] { return offers(b_->port())["offers"][0]["impressions_left"] == 1; }), 0);
  ASSERT_EQ(Call(b_->port(), "POST", "/v1/customers/c1/offers/impressions", shown).status, 200);
  EXPECT_GE(WaitFor([&] { return offers(a_->port())["offers"].empty(); }), 0) << offers(a_->port()).dump();
  EXPECT_TRUE(offers(b_->port())["offers"].empty());
  // A server started now reads the counts from Redis.
  ServerProcess c(absl::StrCat("--model ", dir_.Path("pub"), " --live_store ", redis_.url(), " --offers ",
                               dir_.Path("offers.json")),
                  dir_.Path("c.log"));
  ASSERT_NE(c.port(), 0);
  EXPECT_TRUE(offers(c.port())["offers"].empty());
  // An erasure through A forgets them everywhere.
  ASSERT_EQ(Call(a_->port(), "DELETE", "/v1/customers/c1", "", kAdminKey).status, 200);
  EXPECT_GE(WaitFor([&] { return offers(c.port())["offers"].size() == 1; }), 0);
  HttpResponse data = Call(b_->port(), "GET", "/v1/customers/c1/data", "", kAdminKey);
  EXPECT_TRUE(json::parse(data.body)["offer_impressions"].empty()) << data.body;
}

TEST_F(SharedLiveStoreTest, WithRedisGoneWritesAre503AndAnswersComeFromMemoryMarkedStale) {
  const std::string p = SomeProduct();
  ASSERT_EQ(Event(a_->port(), "regular", p, "e1").status, 200);
  ASSERT_GE(WaitFor([&] { return Recs(b_->port(), "regular")["fallback"].is_null(); }), 0);
  redis_.Stop(SIGKILL);
  HttpResponse refused = Event(b_->port(), "regular", p, "e2");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "1");
  EXPECT_EQ(Call(a_->port(), "PUT", "/v1/customers/regular/consent", R"({"personalization": false})").status, 503);
  // Reads: still personalized from memory, and said to be possibly stale.
  ASSERT_GE(WaitFor([&] {
              HttpResponse r = Call(b_->port(), "GET", "/v1/customers/regular/recommendations?count=5");
              return r.status == 200 && r.headers["x-live-state"] == "stale";
            }),
            0);
  EXPECT_TRUE(Recs(b_->port(), "regular")["fallback"].is_null());
  // Back: the refused event goes through (its id was never stored), and
  // the mark goes.
  redis_.Start();
  ASSERT_TRUE(redis_.ok());
  HttpResponse again;
  ASSERT_GE(WaitFor([&] {
              again = Event(b_->port(), "regular", p, "e2");
              return again.status == 200;
            }),
            0);
  EXPECT_EQ(json::parse(again.body)["stored"], 1) << again.body;
  EXPECT_GE(WaitFor([&] {
              HttpResponse r = Call(a_->port(), "GET", "/v1/customers/regular/recommendations?count=5");
              return r.status == 200 && !r.headers.contains("x-live-state");
            }),
            0);
}

}  // namespace
}  // namespace aisle
