// aisle-server as an operator starts it: every directory or file it cannot
// use (a regular file where a directory belongs, a directory another server
// holds, a FIFO, a device) stops it at start with exit status 1 and a
// message naming the path, never a crash or a hang.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/model_registry.h"
#include "events/event_journal.h"
#include "server/exposure_log.h"
#include "live/impression_log.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Exec;
using ::aisle::testing::ExecResult;
using ::aisle::testing::TempDir;

class ServerMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SyntheticOptions o;
    o.customers = 50;
    o.products = 30;
    o.purchases = 600;
    o.seed = 5;
    Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(o)));
    ASSERT_TRUE(m.SetMetadata({{"model_id", "m1"}}).ok());
    pub_ = dir_.Path("pub");
    ASSERT_TRUE(PublishModel(m, pub_, 2).ok());
  }
  // Starts the server with `flags`; it must stop by itself (timeout 60: a
  // hang exits 124).
  ExecResult Run(const std::string& flags) {
    return Exec(absl::StrCat("timeout 60 ", AISLE_BIN_DIR, "/aisle-server --model ", pub_,
                             " --port 0 --access_log '' ", flags));
  }
  void ExpectRefused(const std::string& flags, const std::string& names) {
    const ExecResult r = Run(flags);
    EXPECT_EQ(r.status, 1) << flags << "\n" << r.output;
    EXPECT_NE(r.output.find(names), std::string::npos) << flags << "\n" << r.output;
  }

  TempDir dir_;
  std::string pub_;
};

TEST_F(ServerMainTest, AnExposuresDirItCannotOpenStopsItWithAMessage) {
  const std::string file = dir_.Write("a-file", "x\n");
  ExpectRefused("--exposures_dir " + file, file);
  ExpectRefused("--exposures_dir /proc/self/no/such/dir", "/proc/self/no/such/dir");
  // Held by another server.
  ExposureLog::Options eo;
  eo.dir = dir_.Path("exposures");
  auto held = ExposureLog::Open(eo);
  ASSERT_TRUE(held.ok()) << held.status();
  ExpectRefused("--exposures_dir " + eo.dir, "in use by another process");
  // As --events_dir says in the same cases.
  ExpectRefused("--events_dir " + file, file);
}

TEST_F(ServerMainTest, AnImpressionLogHeldByAnotherServerStopsIt) {
  const std::string offers = dir_.Write("offers.json", R"({"offers": [{"id": "o1", "title": "t", "products": ["p1"], "discount": {"percent": 10}}]})");
  auto held = ImpressionLog::Open(dir_.Path("impressions.log"));
  ASSERT_TRUE(held.ok()) << held.status();
  ExpectRefused("--offers " + offers + " --impressions_log " + dir_.Path("impressions.log"), "in use by another process");
}

TEST_F(ServerMainTest, SpecialFilesAreRefusedWithoutBlocking) {
  const std::string fifo = dir_.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ExpectRefused("--experiments " + fifo, "not a regular file");
  ExpectRefused("--experiments /dev/zero", "not a regular file");
  ExpectRefused("--catalog " + fifo, "not a regular file");
  ExpectRefused("--api_keys " + fifo, "not a regular file");
}

}  // namespace
}  // namespace aisle
