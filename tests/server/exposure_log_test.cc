// The exposure log and recommendation ids: every personalized answer over
// HTTP carries a unique id and is recorded with what it showed; a clean
// shutdown loses nothing; a crash loses at most the last flush interval;
// recording never waits (past its buffer it drops and counts).
#include "server/exposure_log.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "server/http_server.h"
#include "server/recommendation_id.h"
#include "tests/http_client.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Call;
using ::aisle::testing::TempDir;
using json = nlohmann::json;

std::vector<json> ReadExposures(const std::string& dir) {
  std::vector<json> out;
  auto segments = EventJournal::ListSegments(dir, /*include_open=*/true, ExposureLog::Format());
  EXPECT_TRUE(segments.ok());
  for (const auto& s : *segments) {
    std::string text = ::aisle::testing::ReadAll(s.path);
    size_t pos = 0;
    for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      out.push_back(json::parse(text.substr(pos, nl - pos)));
    }
    EXPECT_EQ(pos, text.size()) << "a partial line in " << s.path;
  }
  return out;
}

TEST(RecommendationId, UniqueSortableAndShaped) {
  std::set<std::string> ids;
  std::string last;
  for (int i = 0; i < 20000; ++i) {
    std::string id = NewRecommendationId();
    ASSERT_EQ(id.size(), 26u);
    ASSERT_EQ(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos) << id;
    ASSERT_GE(id.substr(0, 10), last.substr(0, std::min<size_t>(10, last.size()))) << "time prefix sorts";
    last = id;
    ids.insert(std::move(id));
  }
  EXPECT_EQ(ids.size(), 20000u);
}

TEST(ExposureLog, EveryPersonalizedAnswerIsRecordedWithWhatItShowed) {
  TempDir dir;
  SyntheticOptions so;
  so.customers = 200;
  so.products = 60;
  so.purchases = 3000;
  Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(so)));
  ASSERT_TRUE(m.SetMetadata({{"model_id", "exposure-test"}}).ok());
  ASSERT_TRUE(WriteModel(m, dir.Path("m.model")).ok());
  Metrics metrics;
  ModelSource source(dir.Path("m.model"), "", &metrics);
  ASSERT_TRUE(source.Reload(true).ok());
  ExposureLog::Options eo;
  eo.dir = dir.Path("exposures");
  eo.flush_interval = std::chrono::milliseconds(50);
  auto log = ExposureLog::Open(eo);
  ASSERT_TRUE(log.ok()) << log.status();
  HttpServerOptions o;
  o.port = 0;
  o.access_log = nullptr;
  o.exposures = log->get();
  HttpServer server(&source, &metrics, o);
  ASSERT_TRUE(server.Start().ok());
  struct Asked {
    std::string endpoint, customer;
    json body;
  };
  std::vector<Asked> asked;
  for (int i = 0; i < 30; ++i) {
    const std::string c = SyntheticCustomerId(static_cast<uint32_t>(i));
    auto r = Call(server.port(), "GET", absl::StrCat("/v1/customers/", c, "/recommendations?count=4"));
    ASSERT_EQ(r.status, 200);
    asked.push_back({"customer_recommendations", c, json::parse(r.body)});
  }
  auto basket = Call(server.port(), "POST", "/v1/recommendations", R"({"products": ["p1", "p2"], "count": 3})");
  asked.push_back({"basket_recommendations", "", json::parse(basket.body)});
  auto similar = Call(server.port(), "GET", "/v1/products/p3/similar?count=5");
  asked.push_back({"similar_products", "", json::parse(similar.body)});
  auto rank = Call(server.port(), "POST", "/v1/customers/c1/rank", R"({"products": ["p5", "p1", "nope"]})");
  asked.push_back({"rank", "c1", json::parse(rank.body)});
  server.Shutdown();
  log->reset();  // a clean shutdown: everything written

  std::set<std::string> ids;
  for (const Asked& a : asked) {
    ASSERT_TRUE(a.body.contains("recommendation_id")) << a.body;
    ids.insert(a.body["recommendation_id"]);
  }
  EXPECT_EQ(ids.size(), asked.size()) << "ids are unique";
  const std::vector<json> lines = ReadExposures(dir.Path("exposures"));
  ASSERT_EQ(lines.size(), asked.size());
  for (const Asked& a : asked) {
    const json* found = nullptr;
    for (const json& l : lines) {
      if (l["recommendation_id"] == a.body["recommendation_id"]) found = &l;
    }
    ASSERT_NE(found, nullptr);
    EXPECT_EQ((*found)["endpoint"], a.endpoint);
    EXPECT_EQ((*found)["customer"], a.customer);
    EXPECT_EQ((*found)["model_version"], "exposure-test");
    EXPECT_TRUE((*found)["experiment"].is_null());
    std::vector<std::string> shown;
    const char* key = a.endpoint == "similar_products" ? "similar" : a.endpoint == "rank" ? "ranked" : "recommendations";
    for (const auto& x : a.body[key]) shown.push_back(x["product_id"]);
    EXPECT_EQ((*found)["items"].get<std::vector<std::string>>(), shown) << a.endpoint;
  }
}

// A child records a first batch, waits three flush intervals, says so, then
// records without pause until it is killed: the first batch must be whole
// in the recovered log, and no line torn.
TEST(ExposureLog, ACrashLosesAtMostTheLastFlushInterval) {
  TempDir dir;
  ::aisle::testing::CrashChild child([&](int fd) {
    ExposureLog::Options eo;
    eo.dir = dir.Path("x");
    eo.flush_interval = std::chrono::milliseconds(50);
    auto log = ExposureLog::Open(eo);
    if (!log.ok()) ::_exit(3);
    for (int i = 0; i < 1000; ++i) (*log)->Record({absl::StrCat("first-", i), i, "rank", "c", "m", "", "", {"p1"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::write(fd, "A", 1) != 1) ::_exit(4);
    for (int i = 0;; ++i) (*log)->Record({absl::StrCat("later-", i), i, "rank", "c", "m", "", "", {"p1"}});
  });
  ASSERT_TRUE(child.ok());
  char c = 0;
  ASSERT_EQ(::read(child.fd(), &c, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  child.Kill();
  {
    ExposureLog::Options eo;
    eo.dir = dir.Path("x");
    auto log = ExposureLog::Open(eo);  // recovery: the torn end cut, the segment closed
    ASSERT_TRUE(log.ok()) << log.status();
  }
  std::set<std::string> found;
  for (const json& l : ReadExposures(dir.Path("x"))) found.insert(l["recommendation_id"].get<std::string>());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(found.count(absl::StrCat("first-", i))) << i;
}

TEST(ExposureLog, PastItsBufferItDropsAndCounts) {
  TempDir dir;
  ExposureLog::Options eo;
  eo.dir = dir.path();
  eo.flush_interval = std::chrono::hours(1);
  eo.max_buffer_bytes = 10000;
  auto log = ExposureLog::Open(eo);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 1000; ++i) (*log)->Record({absl::StrCat("id-", i), i, "rank", "c", "m", "e", "v", {"p1", "p2"}});
  ExposureLog::Stats st = (*log)->stats();
  EXPECT_EQ(st.recorded, 1000u);
  EXPECT_GT(st.dropped, 0u);
  (*log)->Flush();
  st = (*log)->stats();
  EXPECT_EQ(st.written + st.dropped, 1000u);
  const std::vector<json> lines = ReadExposures(dir.path());
  EXPECT_EQ(lines.size(), st.written);
  EXPECT_EQ(lines[0]["experiment"], "e");
  EXPECT_EQ(lines[0]["variant"], "v");
}

}  // namespace
}  // namespace aisle
