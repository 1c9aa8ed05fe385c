// The nightly archive of the shared live store (live/live_archive.h),
// against a real redis-server: the stream's events become a journal
// segment the trainer reads (erased customers' left out), consent and
// erasures the directory's ledger under the store's key, Redis learns where
// the segment ends (a model trained on it holds those events) and the
// stream is trimmed; a run interrupted after its segment is finished by the
// next one, never written twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"

#include "absl/time/clock.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "live/live_archive.h"
#include "live/live_loop.h"
#include "tests/redis_server.h"

namespace aisle {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

LiveEvent Event(const std::string& customer, const std::string& product, int64_t received_ms = NowMs()) {
  LiveEvent e;
  e.customer_id = customer;
  e.product_id = product;
  e.timestamp = received_ms / 1000;
  e.received_ms = received_ms;
  return e;
}

void Append(LiveStore& s, std::vector<LiveEvent> events) {
  std::promise<absl::StatusOr<LiveStore::Appended>> p;
  s.Append(std::move(events), [&p](absl::StatusOr<LiveStore::Appended> a) { p.set_value(std::move(a)); });
  ASSERT_TRUE(p.get_future().get().ok());
}

std::vector<std::string> SegmentProducts(const std::string& dir, uint64_t n) {
  std::vector<std::string> out;
  uint64_t damaged = 0;
  EXPECT_TRUE(EventJournal::ReadSegment(SegmentFormat::Events().ClosedPath(dir, n),
                                        [&](LiveEvent&& e) { out.push_back(e.customer_id + "/" + e.product_id); },
                                        &damaged)
                  .ok());
  EXPECT_EQ(damaged, 0u);
  return out;
}

class LiveArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.ok()) << "redis-server did not start (scripts/setup.sh --tests)";
    store_options_.address = redis_.address();
    auto s = RedisLiveStore::Open(store_options_, 0, [](LiveEvent&&, LiveStore::Position) {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    archive_.store = store_options_;
    archive_.dir = dir_.Path("archive");
    archive_.lag = absl::ZeroDuration();
  }
  uint64_t StreamLength() { return static_cast<uint64_t>(redis_.Run({"XLEN", "aisle:log"})->integer); }

  testing::RedisServer redis_;
  testing::TempDir dir_;
  RedisLiveStore::Options store_options_;
  std::unique_ptr<RedisLiveStore> store_;
  LiveArchiveOptions archive_;
};

TEST_F(LiveArchiveTest, TheStreamBecomesASegmentAndALedgerAndIsTrimmed) {
  Append(*store_, {Event("c1", "p1"), Event("c2", "p2")});
  ASSERT_TRUE(store_->SetConsent("c3", false, NowMs()).ok());
  Append(*store_, {Event("c1", "p3")});
  ASSERT_TRUE(store_->Erase("c2", NowMs()).ok());
  auto r = ArchiveLiveStore(archive_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entries, 4u);
  EXPECT_EQ(r->events, 2u);
  EXPECT_EQ(r->events_of_erased, 1u);
  EXPECT_EQ(r->consent_changes, 1u);
  EXPECT_EQ(r->erasures, 1u);
  EXPECT_EQ(r->segment, 1u);
  EXPECT_EQ(r->trimmed, 4u);
  EXPECT_EQ(StreamLength(), 0u);
  EXPECT_EQ(SegmentProducts(archive_.dir, 1), (std::vector<std::string>{"c1/p1", "c1/p3"}));
  // The ledger, under the store's key: consent and the erasure as servers hold them.
  auto ledger = CustomerLedger::Read(archive_.dir);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ(ledger->key, store_->Snapshot().key);
  ASSERT_TRUE(ledger->consent.contains("c3"));
  EXPECT_FALSE(ledger->consent.at("c3").personalization);
  EXPECT_TRUE(ledger->ErasedAt("c2").has_value());
  // Where segment 1 ends, in the stream: a model trained on it holds those
  // events, so a server opened with it reads none of them back.
  auto through = RedisLiveStore::ArchivedThrough(store_options_, 1);
  ASSERT_TRUE(through.ok());
  EXPECT_EQ(*through, RedisLiveStore::PositionOf(r->through));
  EXPECT_EQ(store_->PositionOfSegment(1), *through);
  EXPECT_EQ(store_->PositionOfSegment(7), 0u);  // not this store's archive
  Append(*store_, {Event("c4", "p4")});
  std::vector<std::string> live;
  auto reopened = RedisLiveStore::Open(store_options_, *through, [&](LiveEvent&& e, LiveStore::Position) {
    live.push_back(e.product_id);
  });
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(live, std::vector<std::string>{"p4"});
  // The next run takes only what came since.
  r = ArchiveLiveStore(archive_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segment, 2u);
  EXPECT_EQ(SegmentProducts(archive_.dir, 2), std::vector<std::string>{"c4/p4"});
  r = ArchiveLiveStore(archive_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(r->segment, 0u);
}

TEST_F(LiveArchiveTest, EntriesYoungerThanTheLagStay) {
  Append(*store_, {Event("c1", "p1")});
  archive_.lag = absl::Hours(1);
  auto r = ArchiveLiveStore(archive_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(StreamLength(), 1u);
}

TEST_F(LiveArchiveTest, ARunInterruptedAfterItsSegmentIsFinishedByTheNextWithoutWritingItTwice) {
  Append(*store_, {Event("c1", "p1"), Event("c2", "p2")});
  archive_.before_finish = [&] { redis_.Stop(SIGKILL); };
  auto r = ArchiveLiveStore(archive_);
  EXPECT_FALSE(r.ok());
  redis_.Start();
  ASSERT_TRUE(redis_.ok());
  archive_.before_finish = nullptr;
  r = ArchiveLiveStore(archive_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->finished_earlier_run);
  EXPECT_EQ(r->entries, 0u);  // the stream was trimmed to what segment 1 holds
  EXPECT_EQ(r->segment, 0u);
  auto segments = EventJournal::ListSegments(archive_.dir, true);
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->size(), 1u);
  EXPECT_EQ(SegmentProducts(archive_.dir, 1), (std::vector<std::string>{"c1/p1", "c2/p2"}));
  EXPECT_EQ(StreamLength(), 0u);
}

TEST(LiveArchiveGapTest, AServerCutOffWhileTheArchiveTrimsStillLearnsTheErasuresAndConsentItMissed) {
  // This server reaches Redis over TCP, the other server and the archive
  // over its Unix socket: closing the TCP port cuts this one off alone.
  testing::RedisServer redis({}, testing::FreePort());
  ASSERT_TRUE(redis.ok()) << "redis-server did not start (scripts/setup.sh --tests)";
  testing::TempDir dir;
  RedisLiveStore::Options shared;
  shared.address = redis.address();
  RedisLiveStore::Options mine = shared;
  mine.address = *RedisAddress::Parse(absl::StrCat("redis://127.0.0.1:", redis.tcp_port()));
  LiveLoopOptions loop_options;
  loop_options.redis = mine;
  auto loop = LiveLoop::Open(loop_options, nullptr);
  ASSERT_TRUE(loop.ok()) << loop.status();
  auto& store = static_cast<RedisLiveStore&>((*loop)->store());
  // What this server holds before it is cut off: c3's live event,
  // impressions and consent, c4's consent.
  std::promise<absl::StatusOr<LiveLoop::Accepted>> accepted;
  (*loop)->Accept({Event("c3", "p1")}, std::chrono::steady_clock::now(),
                  [&](absl::StatusOr<LiveLoop::Accepted> a) { accepted.set_value(std::move(a)); });
  ASSERT_TRUE(accepted.get_future().get().ok());
  ASSERT_EQ((*loop)->Events("c3").size(), 1u);
  const std::vector<std::string> offers = {"o1"};
  ASSERT_TRUE(store.RecordImpressions("c3", offers).ok());
  ASSERT_TRUE(store.SetConsent("c3", true, NowMs()).ok());
  ASSERT_TRUE(store.SetConsent("c4", true, NowMs()).ok());
  ASSERT_TRUE(store.CatchUp().ok());
  ASSERT_FALSE(store.Impressions("c3").empty());
  ASSERT_TRUE(redis.Run({"CONFIG", "SET", "port", "0"}).ok());
  ASSERT_TRUE(redis.Run({"CLIENT", "KILL", "TYPE", "normal"}).ok());
  for (int i = 0; i < 500 && !store.stale(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(store.stale());
  // Meanwhile another server erases c3 and c4 withdraws consent; the
  // archive trims those records before this server could read them.
  const int64_t erased_at = NowMs() + 1;
  {
    auto other = RedisLiveStore::Open(shared, 0, [](LiveEvent&&, LiveStore::Position) {});
    ASSERT_TRUE(other.ok()) << other.status();
    ASSERT_TRUE((*other)->Erase("c3", erased_at).ok());
    ASSERT_TRUE((*other)->SetConsent("c4", false, erased_at).ok());
  }
  LiveArchiveOptions archive;
  archive.store = shared;
  archive.dir = dir.Path("archive");
  archive.lag = absl::ZeroDuration();
  auto r = ArchiveLiveStore(archive);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GT(r->trimmed, 0u);
  ASSERT_TRUE(redis.Run({"CONFIG", "SET", "port", absl::StrCat(redis.tcp_port())}).ok());
  // Back: the erasure holds here although its record never reached this
  // server (it was read again from the erasures Redis keeps).
  bool learnt = false;
  for (int i = 0; i < 800 && !learnt; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    learnt = (*loop)->Events("c3").empty();
  }
  EXPECT_TRUE(learnt) << store.RenderMetrics();
  EXPECT_EQ(store.ErasedAt("c3"), erased_at);
  EXPECT_TRUE(store.Impressions("c3").empty());
  EXPECT_FALSE(store.Consent("c3").has_value());
  ASSERT_TRUE(store.Consent("c4").has_value());
  EXPECT_FALSE(store.Consent("c4")->personalization);
  EXPECT_TRUE(absl::StrContains(store.RenderMetrics(), "aisle_live_store_gaps_total 1")) << store.RenderMetrics();
}

TEST_F(LiveArchiveTest, AnotherStoresArchiveDirectoryIsRefused) {
  std::filesystem::create_directories(archive_.dir);
  dir_.Write("archive/erasure.key", std::string(64, 'a') + "\n");
  Append(*store_, {Event("c1", "p1")});
  auto r = ArchiveLiveStore(archive_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ(StreamLength(), 1u);
}

}  // namespace
}  // namespace aisle
