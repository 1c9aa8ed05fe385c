// The live loop on the real server over loopback: events in, the very next
// answer changed, consent, erasure, data access, metrics, restarts and new
// models; and the acceptance test of erasure through the nightly job.
#include "live/live_loop.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "server/exposure_log.h"
#include "server/http_server.h"
#include "tests/http_client.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Call;
using ::aisle::testing::HttpResponse;
using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;
using json = nlohmann::json;

constexpr char kAdmin[] = "admin-key-0123456789abcdef";

SyntheticData Data() {
  SyntheticOptions o;
  o.customers = 300;
  o.products = 90;
  o.categories = 5;
  o.purchases = 6000;
  o.seed = 11;
  return GenerateSynthetic(o);
}

Model TrainModel(const std::string& id, uint64_t through_segment = 0) {
  Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(Data()));
  EXPECT_TRUE(m.SetMetadata({{"model_id", id},
                             {"hyperparameters", {{"alpha", 1.0}, {"regularization", 0.5}}},
                             {"data", {{"last_event_unix", 1640000000}, {"events_through_segment", through_segment}}}})
                  .ok());
  return m;
}

json Body(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

std::vector<std::string> Products(const json& j) {
  std::vector<std::string> out;
  for (const auto& x : j["recommendations"]) out.push_back(x["product_id"]);
  return out;
}

class LiveLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pub_ = dir_.Path("pub");
    ASSERT_TRUE(PublishModel(TrainModel("v1"), pub_, 10).ok());
    dir_.Write("admin", std::string(kAdmin) + "\n");
    Start(true);
  }
  void TearDown() override { Stop(); }

  void Start(bool default_consent) {
    source_ = std::make_unique<ModelSource>(pub_, "", &metrics_, Recommender::Options{.top_list_length = 16});
    ASSERT_TRUE(source_->Reload(true).ok());
    LiveLoopOptions lo;
    lo.dir = dir_.Path("events");
    lo.default_consent = default_consent;
    auto live = LiveLoop::Open(lo, &source_->Current()->model(), &open_stats_);
    ASSERT_TRUE(live.ok()) << live.status();
    live_ = std::move(*live);
    LiveLoop* l = live_.get();
    source_->SetModelHooks([l](const Model& m) { l->ModelLoading(m); }, [l](const Model& m) { l->ModelServing(m); });
    metrics_.AddExtra([l] { return l->RenderMetrics(); });
    auto imp = ImpressionLog::Open(dir_.Path("impressions.log"));
    ASSERT_TRUE(imp.ok());
    impressions_ = std::move(*imp);
    ExposureLog::Options eo;
    eo.dir = dir_.Path("exposures");
    eo.flush_interval = std::chrono::milliseconds(10);
    auto ex = ExposureLog::Open(eo);
    ASSERT_TRUE(ex.ok()) << ex.status();
    exposures_ = std::move(*ex);
    access_log_ = std::fopen(dir_.Path("access.log").c_str(), "a");
    ASSERT_NE(access_log_, nullptr);
    HttpServerOptions o;
    o.port = 0;
    o.access_log = access_log_;
    o.exposures = exposures_.get();
    o.live = l;
    o.impressions = impressions_.get();
    o.admin_keys = *ApiKeys::Load(dir_.Path("admin"));
    server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
    metrics_.ClearExtras();
    live_.reset();
    impressions_.reset();
    exposures_.reset();
    if (access_log_ != nullptr) std::fclose(access_log_);
    access_log_ = nullptr;
    source_.reset();
  }
  HttpResponse Get(const std::string& path, const std::string& key = "") { return Call(port_, "GET", path, "", key); }
  HttpResponse Post(const std::string& path, const std::string& body) { return Call(port_, "POST", path, body); }
  json Recs(const std::string& customer, int count = 5) {
    HttpResponse r = Get(absl::StrCat("/v1/customers/", customer, "/recommendations?count=", count));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  HttpResponse PostEvents(const json& events) { return Post("/v1/events", events.dump()); }
  static json Event(const std::string& c, const std::string& p, const std::string& type = "purchase") {
    return {{"customer_id", c}, {"product_id", p}, {"event", type}};
  }

  TempDir dir_;
  std::string pub_;
  Metrics metrics_;
  std::unique_ptr<ModelSource> source_;
  std::unique_ptr<LiveLoop> live_;
  std::unique_ptr<ImpressionLog> impressions_;
  std::unique_ptr<ExposureLog> exposures_;
  FILE* access_log_ = nullptr;
  std::unique_ptr<HttpServer> server_;
  LiveLoop::OpenStats open_stats_;
  uint16_t port_ = 0;
};

TEST_F(LiveLoopTest, APurchaseIsExcludedFromTheVeryNextAnswer) {
  const std::string c = SyntheticCustomerId(3);
  const json before = Recs(c);
  ASSERT_TRUE(before["fallback"].is_null());
  const std::string top = before["recommendations"][0]["product_id"];
  HttpResponse r = PostEvents(json::array({Event(c, top)}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["stored"], 1);
  const json after = Recs(c);
  EXPECT_TRUE(after["fallback"].is_null());
  EXPECT_EQ(after["live_events"], 1);
  for (const std::string& p : Products(after)) EXPECT_NE(p, top) << "a product bought a moment ago was recommended";
  // The explanation names the new purchase among the customer's products.
  HttpResponse ex = Get(absl::StrCat("/v1/customers/", c, "/recommendations?count=3&explain=true"));
  std::set<std::string> because;
  const json explained = Body(ex);
  for (const auto& x : explained["recommendations"]) {
    for (const auto& b : x["because"]) because.insert(b["product_id"]);
  }
  EXPECT_TRUE(because.count(top)) << "the new purchase explains some of the answer: " << ex.body;
  // Ranking uses the re-folded vector too: the bought product is still ranked (rank excludes nothing),
  // but the scores are those of the new vector.
  HttpResponse rank = Post(absl::StrCat("/v1/customers/", c, "/rank"), json({{"products", {top}}}).dump());
  ASSERT_EQ(rank.status, 200) << rank.body;
  EXPECT_TRUE(Body(rank)["fallback"].is_null());
}

TEST_F(LiveLoopTest, AnUnknownCustomerIsPersonalizedFromTheFirstEvent) {
  const SyntheticData d = Data();
  const json before = Recs("newcomer", 10);
  EXPECT_EQ(before["fallback"], "popularity");
  // Views of three products of one category: the planted structure says
  // the answer should now come mostly from that category.
  const uint32_t category = d.product_category[10];
  std::vector<uint32_t> same;
  for (uint32_t p = 0; p < d.product_category.size(); ++p) {
    if (d.product_category[p] == category) same.push_back(p);
  }
  ASSERT_GE(same.size(), 8u);
  json events = json::array();
  for (int i = 0; i < 3; ++i) events.push_back(Event("newcomer", SyntheticProductId(same[i]), "view"));
  ASSERT_EQ(PostEvents(events).status, 200);
  const json after = Recs("newcomer", 10);
  EXPECT_TRUE(after["fallback"].is_null()) << after;
  EXPECT_EQ(after["live_events"], 3);
  int in_category = 0;
  std::set<std::string> category_ids;
  for (uint32_t p : same) category_ids.insert(SyntheticProductId(p));
  for (const std::string& p : Products(after)) in_category += category_ids.count(p);
  EXPECT_GE(in_category, 7) << after;
  int before_in = 0;
  for (const std::string& p : Products(before)) before_in += category_ids.count(p);
  EXPECT_GT(in_category, before_in);
}

TEST_F(LiveLoopTest, OneBadEventRefusesTheWholeRequest) {
  const std::string journal_before = absl::StrCat(live_->RenderMetrics());
  struct Case {
    json event;
    const char* why;
  } cases[] = {
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "buy"}}, "'event'"},
      {{{"customer_id", "a"}, {"product_id", "p1"}}, "'event' is required"},
      {{{"customer_id", ""}, {"product_id", "p1"}, {"event", "view"}}, "'customer_id' is empty"},
      {{{"customer_id", std::string(300, 'x')}, {"product_id", "p1"}, {"event", "view"}}, "longer than"},
      {{{"customer_id", "a\nb"}, {"product_id", "p1"}, {"event", "view"}}, "control characters"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"timestamp", 4102444800}}, "future"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"timestamp", "yesterday"}}, "RFC 3339"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"quantity", -1}}, "'quantity'"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"quantity", 1e300}}, "'quantity'"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"price", "cheap"}}, "'price'"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"channel", "pigeon"}}, "'channel'"},
      {{{"customer_id", "a"}, {"product_id", "p1"}, {"event", "view"}, {"customerId", "a"}}, "unknown field"},
      {json::array(), "JSON object"},
  };
  for (const Case& k : cases) {
    json batch = json::array({Event("ok-customer", SyntheticProductId(1)), Event("ok-customer", SyntheticProductId(2)),
                              k.event});
    HttpResponse r = PostEvents(batch);
    ASSERT_EQ(r.status, 422) << k.why << " " << r.body;
    json j = Body(r);
    EXPECT_EQ(j["error"]["code"], "invalid_event");
    EXPECT_EQ(j["error"]["index"], 2) << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(k.why), std::string::npos) << r.body;
  }
  // Nothing of any of them was kept.
  EXPECT_EQ(Recs("ok-customer")["fallback"], "popularity");
  HttpResponse data = Get("/v1/customers/ok-customer/data", kAdmin);
  EXPECT_TRUE(Body(data)["live_events"].empty());
  EXPECT_EQ(PostEvents(json::array()).status, 400);
  EXPECT_EQ(Post("/v1/events", "{\"customer_id\": \"a\"}").status, 400);
  EXPECT_EQ(Post("/v1/events", "[1e999]").status, 400);
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(Event("a", "p"));
  EXPECT_EQ(PostEvents(many).status, 422);
  EXPECT_NE(metrics_.Render().find("aisle_event_requests_refused_total{reason=\"invalid_event\"} 13"), std::string::npos);
}

TEST_F(LiveLoopTest, ARetryWithTheSameEventIdIsAcceptedOnce) {
  json e = Event("retrier", SyntheticProductId(5));
  e["event_id"] = "order-77-line-1";
  e["recommendation_id"] = "rec-abc";
  e["timestamp"] = "2026-11-30T10:00:00Z";
  e["channel"] = "store";
  e["price"] = 9.5;
  e["quantity"] = 2;
  HttpResponse first = PostEvents(json::array({e}));
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(Body(first)["stored"], 1);
  HttpResponse again = PostEvents(json::array({e, e}));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(Body(again)["stored"], 0);
  EXPECT_EQ(Body(again)["duplicates"], 2);
  // After a restart too (ids are read back from the journal).
  Stop();
  Start(true);
  EXPECT_EQ(Body(PostEvents(json::array({e})))["duplicates"], 1);
  json events = Body(Get("/v1/customers/retrier/data", kAdmin))["live_events"];
  ASSERT_EQ(events.size(), 1u) << "the live event was replayed from the journal at start";
  EXPECT_EQ(events[0]["recommendation_id"], "rec-abc");
  EXPECT_EQ(events[0]["channel"], "store");
  EXPECT_EQ(events[0]["timestamp"], "2026-11-30T10:00:00.000Z");
}

TEST_F(LiveLoopTest, EventsAreOnDiskBeforeTheAnswer) {
  ASSERT_EQ(PostEvents(json::array({Event("durable", SyntheticProductId(7))})).status, 200);
  auto segments = EventJournal::ListSegments(dir_.Path("events"), true);
  ASSERT_TRUE(segments.ok());
  std::string all;
  for (const auto& s : *segments) all += ReadAll(s.path);
  EXPECT_NE(all.find("durable," + SyntheticProductId(7)), std::string::npos);
}

TEST_F(LiveLoopTest, WithoutConsentNothingIsPersonalizedOrStored) {
  const std::string c = SyntheticCustomerId(4);
  EXPECT_EQ(Body(Get(absl::StrCat("/v1/customers/", c, "/consent")))["source"], "default");
  HttpResponse put = Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": false})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(put)["personalization"], false);
  EXPECT_EQ(Body(put)["source"], "customer");
  const json recs = Recs(c);
  EXPECT_EQ(recs["fallback"], "no_consent");
  EXPECT_EQ(Products(recs), Products(Recs("someone-unknown")));
  HttpResponse rank = Post(absl::StrCat("/v1/customers/", c, "/rank"), json({{"products", {"p1", "p2"}}}).dump());
  EXPECT_EQ(Body(rank)["fallback"], "no_consent");
  HttpResponse ev = PostEvents(json::array({Event(c, SyntheticProductId(1))}));
  EXPECT_EQ(Body(ev)["stored"], 0);
  EXPECT_EQ(Body(ev)["not_stored_no_consent"], 1);
  EXPECT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": "no"})").status, 400);
  // The choice is durable.
  Stop();
  Start(true);
  EXPECT_EQ(Recs(c)["fallback"], "no_consent");
}

TEST_F(LiveLoopTest, OptInStoresPersonalizeOnlyWhoSaidYes) {
  Stop();
  Start(/*default_consent=*/false);
  const std::string c = SyntheticCustomerId(5);
  EXPECT_EQ(Recs(c)["fallback"], "no_consent");
  ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": true})").status, 200);
  EXPECT_TRUE(Recs(c)["fallback"].is_null());
}

TEST_F(LiveLoopTest, ErasureTakesEffectAtOnce) {
  const std::string c = SyntheticCustomerId(6);
  ASSERT_EQ(PostEvents(json::array({Event(c, SyntheticProductId(1)), Event(c, SyntheticProductId(2), "view")})).status, 200);
  ASSERT_TRUE(impressions_->Record(c, {"offer-1"}, absl::Now()).ok());
  ASSERT_TRUE(impressions_->Record("bystander", {"offer-1"}, absl::Now()).ok());
  ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": true})").status, 200);
  EXPECT_EQ(Call(port_, "DELETE", absl::StrCat("/v1/customers/", c)).status, 401) << "erasure needs the admin key";
  HttpResponse r = Call(port_, "DELETE", absl::StrCat("/v1/customers/", c), "", kAdmin);
  ASSERT_EQ(r.status, 200) << r.body;
  json receipt = Body(r);
  EXPECT_EQ(receipt["removed"]["live_events"], 2);
  EXPECT_EQ(receipt["removed"]["impression_records"], 1);
  EXPECT_EQ(receipt["removed"]["consent_record"], true);
  EXPECT_EQ(receipt["removed"]["model_row"], true);
  // The very next answer uses nothing of theirs: not the model row either.
  EXPECT_EQ(Recs(c)["fallback"], "popularity");
  json data = Body(Get(absl::StrCat("/v1/customers/", c, "/data"), kAdmin));
  EXPECT_TRUE(data["live_events"].empty());
  EXPECT_TRUE(data["offer_impressions"].empty());
  EXPECT_EQ(data["model"]["knows_customer"], false);
  EXPECT_EQ(data["consent"]["source"], "default");
  for (const char* f : {"events/customers.log", "impressions.log"}) {
    // As a JSON string: "c6" alone may well occur in a checksum's hex digits.
    EXPECT_EQ(ReadAll(dir_.Path(f)).find("\"" + c + "\""), std::string::npos) << f;
  }
  EXPECT_NE(ReadAll(dir_.Path("impressions.log")).find("bystander"), std::string::npos);
  // Still forgotten after a restart (the ledger's pseudonym, against the model's ids).
  Stop();
  Start(true);
  EXPECT_EQ(Recs(c)["fallback"], "popularity");
  EXPECT_TRUE(Recs(SyntheticCustomerId(7))["fallback"].is_null());
}

// Erasure holds in the data endpoint whatever the consent: with consent
// denied by default, and when the customer withdraws consent after it; also
// after a restart.
TEST_F(LiveLoopTest, AnErasedCustomerIsWithheldWhateverTheConsent) {
  for (bool default_consent : {false, true}) {
    Stop();
    Start(default_consent);
    const std::string c = SyntheticCustomerId(default_consent ? 12 : 13);
    json before = Body(Get(absl::StrCat("/v1/customers/", c, "/data"), kAdmin));
    ASSERT_EQ(before["model"]["knows_customer"], true);
    ASSERT_EQ(Call(port_, "DELETE", absl::StrCat("/v1/customers/", c), "", kAdmin).status, 200);
    if (default_consent) {
      ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": false})").status,
                200);
    }
    for (int restart = 0; restart < 2; ++restart) {
      json data = Body(Get(absl::StrCat("/v1/customers/", c, "/data"), kAdmin));
      EXPECT_EQ(data["model"]["knows_customer"], false) << "default consent " << default_consent << ", restart " << restart;
      EXPECT_TRUE(data["model"]["purchased"].empty());
      EXPECT_EQ(data["model"]["holds"], "nothing");
      Stop();
      Start(default_consent);
    }
  }
}

// A rewrite of a file of customer data keeps its mode.
TEST_F(LiveLoopTest, ErasureRewritesKeepTheFilesModes) {
  const std::string c = SyntheticCustomerId(14);
  ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": true})").status, 200);
  ASSERT_TRUE(impressions_->Record(c, {"offer-1"}, absl::Now()).ok());
  auto mode = [&](const std::string& f) {
    struct stat sb;
    EXPECT_EQ(::stat(dir_.Path(f).c_str(), &sb), 0) << f;
    return sb.st_mode & 0777;
  };
  EXPECT_EQ(mode("events/customers.log"), 0600u);
  ASSERT_EQ(::chmod(dir_.Path("impressions.log").c_str(), 0640), 0);
  ASSERT_EQ(Call(port_, "DELETE", absl::StrCat("/v1/customers/", c), "", kAdmin).status, 200);
  EXPECT_EQ(mode("events/customers.log"), 0600u);
  EXPECT_EQ(mode("impressions.log"), 0640u);
}

TEST_F(LiveLoopTest, DataAccessShowsEverythingHeld) {
  const std::string c = SyntheticCustomerId(8);
  ASSERT_EQ(PostEvents(json::array({Event(c, SyntheticProductId(9), "cart")})).status, 200);
  ASSERT_TRUE(impressions_->Record(c, {"offer-x", "offer-x"}, absl::Now()).ok());
  EXPECT_EQ(Get(absl::StrCat("/v1/customers/", c, "/data")).status, 401);
  HttpResponse r = Get(absl::StrCat("/v1/customers/", c, "/data"), kAdmin);
  ASSERT_EQ(r.status, 200) << r.body;
  json d = Body(r);
  EXPECT_EQ(d["consent"]["personalization"], true);
  ASSERT_EQ(d["live_events"].size(), 1u);
  EXPECT_EQ(d["live_events"][0]["event"], "cart");
  EXPECT_EQ(d["offer_impressions"]["offer-x"], 2);
  EXPECT_EQ(d["model"]["knows_customer"], true);
  EXPECT_FALSE(d["model"]["purchased"].empty());
  ASSERT_FALSE(d["recommendations"]["recommendations"].empty());
  EXPECT_TRUE(d["recommendations"]["recommendations"][0].contains("because"));
  EXPECT_EQ(d["recommendations"]["live_events"], 1);
}

TEST_F(LiveLoopTest, MetricsTellHowLongEventsWaitedForAnAnswer) {
  ASSERT_EQ(PostEvents(json::array({Event("m1", SyntheticProductId(3), "view")})).status, 200);
  Recs("m1");
  const std::string text = metrics_.Render();
  for (const char* m : {"aisle_events_total{outcome=\"accepted\"} 1", "aisle_event_to_answer_seconds_count 1",
                        "aisle_live_customers 1", "aisle_fold_ins_total 1",
                        "aisle_customer_recommendations_answered_total{by=\"live\"} 1"}) {
    EXPECT_NE(text.find(m), std::string::npos) << m << "\n" << text;
  }
}

TEST_F(LiveLoopTest, ANewModelTakesOverTheEventsItSawAndARollBackGetsThemBack) {
  const std::string c = "late-shopper";
  ASSERT_EQ(PostEvents(json::array({Event(c, SyntheticProductId(1), "view")})).status, 200);
  EXPECT_EQ(Recs(c)["live_events"], 1);
  // A model trained on the journal through segment 1: the event is in it.
  // The erasure rotation closes segment 1 here.
  ASSERT_EQ(Call(port_, "DELETE", "/v1/customers/someone-else", "", kAdmin).status, 200);
  ASSERT_TRUE(PublishModel(TrainModel("v2", /*through_segment=*/1), pub_, 10).ok());
  ASSERT_TRUE(source_->Reload(false).ok());
  EXPECT_EQ(source_->Current()->model_id(), "v2");
  EXPECT_NE(metrics_.Render().find("aisle_live_customers 0"), std::string::npos) << "seen events kept in memory";
  EXPECT_EQ(Recs(c)["fallback"], "popularity") << "the v2 stand-in does not know them, but claims to";
  // Events after it still apply; a roll-back to v1 brings back everything since v1.
  ASSERT_EQ(PostEvents(json::array({Event(c, SyntheticProductId(2), "view")})).status, 200);
  EXPECT_EQ(Recs(c)["live_events"], 1);
  ASSERT_TRUE(PublishModel(TrainModel("v1-again"), pub_, 10).ok());
  ASSERT_TRUE(source_->Reload(false).ok());
  EXPECT_EQ(Recs(c)["live_events"], 2);
}

// The acceptance test: erase a customer, run the nightly job (train with
// the events directory, publish, compact), then search every file under
// the events, impressions and publish directories for the customer id.
TEST_F(LiveLoopTest, AfterErasureAndTheNightlyJobNoFileHoldsTheCustomer) {
  const std::string c = "customer-erase-me-4711";
  // History on file names the customer; the server has a model from it.
  std::string history = "customer_id,product_id,timestamp\n";
  const SyntheticData d = Data();
  for (const SyntheticEvent& e : d.events) {
    if (e.type == 0) absl::StrAppend(&history, SyntheticCustomerId(e.customer), ",", SyntheticProductId(e.product), ",", e.timestamp, "\n");
  }
  for (int p = 0; p < 6; ++p) absl::StrAppend(&history, c, ",", SyntheticProductId(p), ",1640000000\n");
  const std::string input = dir_.Write("history.csv", history);
  const std::string train = absl::StrCat(AISLE_BIN_DIR, "/aisle-train --input ", input, " --publish_dir ", pub_,
                                         " --factors 8 --iterations 3 --quiet");
  auto r = ::aisle::testing::Exec(train);
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(source_->Reload(false).ok());
  ASSERT_TRUE(Recs(c)["fallback"].is_null()) << "the model knows the customer";
  ASSERT_EQ(Get(absl::StrCat("/v1/products/", SyntheticProductId(3), "/similar?visitor_id=", c)).status, 200);
  ASSERT_EQ(Get(absl::StrCat("/v1/products/", SyntheticProductId(3), "/similar?visitor_id=bystander")).status, 200);
  exposures_->Flush();
  ASSERT_NE(ReadAll(dir_.Path("exposures/exposures-000001.jsonl.open")).find(c), std::string::npos)
      << "the exposure log holds what was shown to the customer";
  ASSERT_EQ(PostEvents(json::array({Event(c, SyntheticProductId(20)), Event("bystander", SyntheticProductId(20))})).status, 200);
  ASSERT_TRUE(impressions_->Record(c, {"offer-1"}, absl::Now()).ok());
  ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", c, "/consent"), R"({"personalization": true})").status, 200);
  ASSERT_EQ(Call(port_, "DELETE", absl::StrCat("/v1/customers/", c), "", kAdmin).status, 200);
  // And a customer who withdrew consent: the nightly model leaves them out.
  const std::string withdrawn = SyntheticCustomerId(1);
  ASSERT_EQ(Call(port_, "PUT", absl::StrCat("/v1/customers/", withdrawn, "/consent"), R"({"personalization": false})").status,
            200);
  // More traffic after the erasure, the server still running.
  ASSERT_EQ(PostEvents(json::array({Event("bystander", SyntheticProductId(21))})).status, 200);

  const std::string events = dir_.Path("events");
  r = ::aisle::testing::Exec(absl::StrCat(train, " --events_dir ", events));
  ASSERT_EQ(r.status, 0) << r.output;
  r = ::aisle::testing::Exec(absl::StrCat(AISLE_BIN_DIR, "/aisle-train compact-events --events_dir ", events,
                                          " --publish_dir ", pub_, " --exposures_dir ", dir_.Path("exposures")));
  ASSERT_EQ(r.status, 0) << r.output;
  // Before any new request names the customer (one who comes back starts afresh).
  exposures_->Flush();
  std::fflush(access_log_);
  size_t files = 0;
  for (const std::string& root :
       {events, dir_.Path("impressions.log"), pub_, dir_.Path("exposures"), dir_.Path("access.log")}) {
    std::vector<std::string> paths;
    if (std::filesystem::is_directory(root)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        if (e.is_regular_file()) paths.push_back(e.path().string());
      }
    } else {
      paths.push_back(root);
    }
    for (const std::string& p : paths) {
      ++files;
      EXPECT_EQ(ReadAll(p).find(c), std::string::npos) << p << " still holds the erased customer's id";
    }
  }
  EXPECT_GE(files, 7u);
  EXPECT_NE(ReadAll(dir_.Path("access.log")).find("/v1/customers/:id/recommendations"), std::string::npos);
  // Records of other customers stay.
  std::string shown;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Path("exposures"))) shown += ReadAll(e.path().string());
  EXPECT_NE(shown.find("bystander"), std::string::npos);
  ASSERT_TRUE(source_->Reload(false).ok());
  EXPECT_EQ(Recs(c)["fallback"], "popularity");
  EXPECT_TRUE(Recs("bystander")["fallback"].is_null()) << "other customers' live events are kept";

  const Model& published = source_->Current()->model();
  EXPECT_FALSE(published.customers.Find(withdrawn).has_value()) << "trained on a customer without consent";
  EXPECT_TRUE(published.customers.Find(SyntheticCustomerId(2)).has_value());
  EXPECT_GT(published.events_through_segment, 0u);
}

}  // namespace
}  // namespace aisle
