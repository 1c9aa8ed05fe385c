// ImpressionLog: counts survive reopening, a torn last record is cut off, a
// malformed record in the middle refuses the file, concurrent records all count.
#include "live/impression_log.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

const absl::Time kAt = absl::FromUnixSeconds(1795392000);

TEST(ImpressionLogTest, CountsSurviveReopening) {
  TempDir dir;
  const std::string path = dir.Path("impressions.log");
  {
    auto log = ImpressionLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->Count("c1", "o1"), 0u);
    ASSERT_TRUE((*log)->Record("c1", {"o1", "o2"}, kAt).ok());
    ASSERT_TRUE((*log)->Record("c1", {"o1"}, kAt).ok());
    ASSERT_TRUE((*log)->Record("c2", {"o2"}, kAt).ok());
    EXPECT_EQ((*log)->Count("c1", "o1"), 2u);
  }
  EXPECT_EQ(ReadAll(path).find(R"({"customer":"c1","offers":["o1","o2"],"ts":"2026-11-23T00:00:00.000Z"})"), 0u)
      << ReadAll(path);
  ImpressionLog::OpenStats st;
  auto log = ImpressionLog::Open(path, ImpressionLog::Options(), &st);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(st.records, 3u);
  EXPECT_EQ(st.torn_bytes, 0u);
  EXPECT_EQ((*log)->Count("c1", "o1"), 2u);
  EXPECT_EQ((*log)->Count("c1", "o2"), 1u);
  EXPECT_EQ((*log)->Count("c2", "o2"), 1u);
  EXPECT_EQ((*log)->Count("c2", "o1"), 0u);
  auto counts = (*log)->CountsFor("c1");
  EXPECT_EQ(counts.size(), 2u);
}

TEST(ImpressionLogTest, ATornLastRecordIsCutOffAndTheLogGoesOn) {
  TempDir dir;
  const std::string good = "{\"customer\":\"c1\",\"offers\":[\"o1\"]}\n";
  const std::string path = dir.Write("impressions.log", good + "{\"customer\":\"c1\",\"off");
  ImpressionLog::OpenStats st;
  auto log = ImpressionLog::Open(path, ImpressionLog::Options(), &st);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(st.records, 1u);
  EXPECT_EQ(st.torn_bytes, 21u);
  EXPECT_EQ(ReadAll(path), good);
  ASSERT_TRUE((*log)->Record("c1", {"o1"}, kAt).ok());
  log->reset();
  auto again = ImpressionLog::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->Count("c1", "o1"), 2u);
}

TEST(ImpressionLogTest, AMalformedRecordRefusesTheFileNamingTheLine) {
  TempDir dir;
  for (const std::string bad : {"not json", "{\"customer\": 5, \"offers\": []}", "{\"customer\": \"c\", \"offers\": [1]}",
                                "{\"offers\": [\"o\"]}"}) {
    const std::string path = dir.Write("bad.log", "{\"customer\":\"c1\",\"offers\":[\"o1\"]}\n" + bad + "\n");
    auto log = ImpressionLog::Open(path);
    ASSERT_FALSE(log.ok()) << bad;
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(log.status().message().find(path + ":2:"), std::string::npos) << log.status();
  }
  EXPECT_FALSE(ImpressionLog::Open(dir.Path("no/such/dir/x.log")).ok());
}

TEST(ImpressionLogTest, ConcurrentRecordsAllCountAndAllReplay) {
  TempDir dir;
  const std::string path = dir.Path("impressions.log");
  ImpressionLog::Options o;
  o.sync = false;
  {
    auto log = ImpressionLog::Open(path, o);
    ASSERT_TRUE(log.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 250; ++i) {
          ASSERT_TRUE((*log)->Record("c" + std::to_string(i % 10), {"o" + std::to_string(t)}, kAt).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ((*log)->records(), 1000u);
    EXPECT_EQ((*log)->Count("c3", "o2"), 25u);
  }
  auto log = ImpressionLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->records(), 1000u);
  EXPECT_EQ((*log)->Count("c3", "o2"), 25u);
}

// Two servers on one file: the second is refused (an erasure on one would
// rewrite the file from its memory, dropping the other's records).
TEST(ImpressionLogTest, OneProcessPerFile) {
  TempDir dir;
  const std::string path = dir.Path("impressions.log");
  auto first = ImpressionLog::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Record("c1", {"o1"}, kAt).ok());
  // flock(2) locks belong to the open file description: a second open in
  // this process conflicts as another process's would.
  auto second = ImpressionLog::Open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("in use by another process"), absl::string_view::npos);
  // Still refused after an erasure replaced the file.
  ASSERT_TRUE((*first)->Erase("c1").ok());
  EXPECT_FALSE(ImpressionLog::Open(path).ok());
  first->reset();
  EXPECT_TRUE(ImpressionLog::Open(path).ok());
}

TEST(ImpressionLogTest, InMemoryCounts) {
  auto log = ImpressionLog::InMemory();
  ASSERT_TRUE(log->Record("c", {"o", "o"}, kAt).ok());
  EXPECT_EQ(log->Count("c", "o"), 2u);
  EXPECT_TRUE(log->path().empty());
}

}  // namespace
}  // namespace aisle
