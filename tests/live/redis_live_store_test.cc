// What RedisLiveStore does beyond the conformance suite (live_store_test):
// servers sharing one Redis see each other's events, consent and erasures;
// acknowledged events survive Redis killed and restarted; Redis down means
// writes refused as Unavailable while reads answer from memory; settings
// that could lose acknowledged events are refused. Against a real
// redis-server (tests/redis_server.h).
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "live/redis_live_store.h"
#include "tests/redis_server.h"

namespace aisle {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

LiveEvent Event(const std::string& customer, const std::string& product, const std::string& id = "") {
  LiveEvent e;
  e.customer_id = customer;
  e.product_id = product;
  e.timestamp = 1'700'000'000;
  e.event_id = id;
  e.received_ms = NowMs();
  return e;
}

absl::StatusOr<LiveStore::Appended> Append(LiveStore& s, std::vector<LiveEvent> events) {
  std::promise<absl::StatusOr<LiveStore::Appended>> p;
  auto f = p.get_future();
  s.Append(std::move(events), [&p](absl::StatusOr<LiveStore::Appended> a) { p.set_value(std::move(a)); });
  return f.get();
}

RedisLiveStore::Options OptionsFor(const testing::RedisServer& redis) {
  RedisLiveStore::Options o;
  o.address = redis.address();
  o.timeout = absl::Milliseconds(500);
  return o;
}

std::unique_ptr<RedisLiveStore> OpenOrDie(const RedisLiveStore::Options& o, std::vector<std::string>* live = nullptr) {
  auto s = RedisLiveStore::Open(o, 0, [&](LiveEvent&& e, LiveStore::Position) {
    if (live != nullptr) live->push_back(e.product_id);
  });
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(RedisAddressTest, ParsesTcpAndUnixUrlsAndRefusesTheRest) {
  auto a = RedisAddress::Parse("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  a = RedisAddress::Parse("redis://cache");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 6379);
  EXPECT_EQ(a->db, 0);
  a = RedisAddress::Parse("redis+unix:///run/redis/redis.sock?db=3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(a->db, 3);
  for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x", "redis://u:pw@h",
                          "redis+unix://relative.sock", "redis+unix:///s?db=-1"}) {
    EXPECT_FALSE(RedisAddress::Parse(bad).ok()) << bad;
  }
  // The password never appears in what is printed.
  a = RedisAddress::Parse("redis://h:1/0");
  a->password = "secret";
  EXPECT_FALSE(absl::StrContains(a->ToString(), "secret"));
}

TEST(RedisLiveStoreTest, PositionsAreStreamIdsInTheirOrder) {
  EXPECT_EQ(RedisLiveStore::StreamId(RedisLiveStore::PositionOf("1765000000000-7")), "1765000000000-7");
  EXPECT_LT(RedisLiveStore::PositionOf("1765000000000-9"), RedisLiveStore::PositionOf("1765000000000-10"));
  EXPECT_LT(RedisLiveStore::PositionOf("1765000000000-4000"), RedisLiveStore::PositionOf("1765000000001-0"));
  // Milliseconds until the year 2109 fit.
  EXPECT_EQ(RedisLiveStore::StreamId(RedisLiveStore::PositionOf("4398046511103-0")), "4398046511103-0");
}

TEST(RedisLiveStoreTest, ServersSharingARedisSeeEachOthersEventsConsentAndErasures) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok()) << "redis-server did not start (scripts/setup.sh --tests)";
  auto a = OpenOrDie(OptionsFor(redis));
  auto b = OpenOrDie(OptionsFor(redis));
  ASSERT_TRUE(a && b);
  std::mutex mu;
  std::vector<std::string> a_heard, b_events, b_erased;
  a->Follow({[&](LiveEvent&& e, LiveStore::Position) {
               std::lock_guard<std::mutex> lock(mu);
               a_heard.push_back(e.product_id);
             },
             [&](const std::string& c, int64_t) {
               std::lock_guard<std::mutex> lock(mu);
               a_heard.push_back("erased " + c);
             },
             nullptr});
  b->Follow({[&](LiveEvent&& e, LiveStore::Position) {
               std::lock_guard<std::mutex> lock(mu);
               b_events.push_back(e.customer_id + "/" + e.product_id);
             },
             [&](const std::string& c, int64_t) {
               std::lock_guard<std::mutex> lock(mu);
               b_erased.push_back(c);
             },
             nullptr});
  auto stored = Append(*a, {Event("c1", "p1", "x"), Event("c2", "p2")});
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(a->SetConsent("c3", false, NowMs()).ok());
  ASSERT_TRUE(a->Erase("c2", NowMs()).ok());
  ASSERT_TRUE(b->CatchUp().ok());
  ASSERT_TRUE(a->CatchUp().ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(b_events, (std::vector<std::string>{"c1/p1", "c2/p2"}));
    EXPECT_EQ(b_erased, std::vector<std::string>{"c2"});
    EXPECT_TRUE(a_heard.empty());  // a server is not told what it did itself
  }
  ASSERT_TRUE(b->Consent("c3").has_value());
  EXPECT_FALSE(b->Consent("c3")->personalization);
  EXPECT_TRUE(b->ErasedAt("c2").has_value());
  EXPECT_EQ(b->erasures(), 1u);
  // The id a stored is a duplicate on b (a retry reaching the other server).
  auto retry = Append(*b, {Event("c1", "p1", "x")});
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->count(), 0u);
  // b's events reach a; an event of c2 received before the erasure is not
  // delivered anywhere.
  LiveEvent late = Event("c2", "p8");
  late.received_ms -= 60'000;
  ASSERT_TRUE(Append(*b, {Event("c4", "p4"), late}).ok());
  ASSERT_TRUE(a->CatchUp().ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(a_heard, std::vector<std::string>{"p4"});
}

TEST(RedisLiveStoreTest, AcknowledgedEventsSurviveRedisKilledAndRestarted) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  {
    auto s = OpenOrDie(OptionsFor(redis));
    ASSERT_TRUE(s);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(Append(*s, {Event("c" + std::to_string(i), "p" + std::to_string(i), "id" + std::to_string(i))}).ok());
    }
    ASSERT_TRUE(s->SetConsent("c0", false, NowMs()).ok());
    redis.Restart(SIGKILL);
    ASSERT_TRUE(redis.ok());
  }
  std::vector<std::string> live;
  auto s = OpenOrDie(OptionsFor(redis), &live);
  ASSERT_TRUE(s);
  EXPECT_EQ(live.size(), 20u);
  ASSERT_TRUE(s->Consent("c0").has_value());
  EXPECT_FALSE(s->Consent("c0")->personalization);
  auto again = Append(*s, {Event("c3", "p3", "id3")});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->count(), 0u);  // the ids too
}

TEST(RedisLiveStoreTest, WithRedisDownWritesAreRefusedAndReadsAnswerFromMemory) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  auto s = OpenOrDie(OptionsFor(redis));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->SetConsent("c1", false, NowMs()).ok());
  ASSERT_TRUE(Append(*s, {Event("c2", "p1", "a")}).ok());
  redis.Stop(SIGKILL);
  auto a = Append(*s, {Event("c2", "p2", "b")});
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::IsUnavailable(a.status())) << a.status();
  EXPECT_TRUE(absl::IsUnavailable(s->SetConsent("c3", true, NowMs())));
  EXPECT_TRUE(absl::IsUnavailable(s->Erase("c1", NowMs()).status()));
  // Reads answer from memory.
  ASSERT_TRUE(s->Consent("c1").has_value());
  EXPECT_FALSE(s->Consent("c1")->personalization);
  EXPECT_FALSE(s->ErasedAt("c1").has_value());
  // The follower notices and says the state may be stale.
  for (int i = 0; i < 300 && !s->stale(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(s->stale());
  EXPECT_TRUE(absl::StrContains(s->RenderMetrics(), "aisle_live_store_stale 1"));
  // Back: writes go through again, the refused event was not kept and its
  // id is free; the follower reconnects.
  redis.Start();
  ASSERT_TRUE(redis.ok());
  auto b = Append(*s, {Event("c2", "p2", "b")});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->count(), 1u);
  for (int i = 0; i < 500 && s->stale(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(s->stale());
  std::vector<std::string> products;
  ASSERT_TRUE(s->ReadEvents(0, [&](LiveEvent&& e, LiveStore::Position) { products.push_back(e.product_id); }).ok());
  EXPECT_EQ(products, (std::vector<std::string>{"p1", "p2"}));
}

TEST(RedisLiveStoreTest, SettingsThatCouldLoseAcknowledgedEventsAreRefused) {
  testing::RedisServer redis({"--appendonly", "no", "--maxmemory-policy", "allkeys-lru"});
  ASSERT_TRUE(redis.ok());
  RedisLiveStore::Options o = OptionsFor(redis);
  auto s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "appendonly")) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "maxmemory-policy")) << s.status();
  ASSERT_TRUE(redis.Run({"CONFIG", "SET", "appendonly", "yes"}).ok());
  ASSERT_TRUE(redis.Run({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).ok());
  ASSERT_TRUE(redis.Run({"CONFIG", "SET", "appendfsync", "everysec"}).ok());
  s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  ASSERT_FALSE(s.ok());  // everysec loses the last second on a crash of the machine
  EXPECT_TRUE(absl::StrContains(s.status().message(), "appendfsync")) << s.status();
  o.allow_unsafe_config = true;
  s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  EXPECT_TRUE(s.ok()) << s.status();
  // Nothing listening: Unavailable, not a precondition.
  redis.Stop(SIGKILL);
  o.allow_unsafe_config = false;
  s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
}

TEST(RedisAddressTest, ParsesSentinelUrls) {
  auto a = RedisAddress::Parse("redis-sentinel://10.0.0.1:26379,10.0.0.2/live/3");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->sentinels.size(), 2u);
  EXPECT_EQ(a->sentinels[0], (std::pair<std::string, int>{"10.0.0.1", 26379}));
  EXPECT_EQ(a->sentinels[1], (std::pair<std::string, int>{"10.0.0.2", 26379}));
  EXPECT_EQ(a->primary_name, "live");
  EXPECT_EQ(a->db, 3);
  for (const char* bad : {"redis-sentinel://h:1", "redis-sentinel://h:1/", "redis-sentinel://h:x/m", "redis-sentinel:///m"}) {
    EXPECT_FALSE(RedisAddress::Parse(bad).ok()) << bad;
  }
}

// Primary, two replicas and Sentinel; the primary killed under writes:
// the sentinel promotes a replica, writes are refused (Unavailable) for the
// failover's moment and then go to the new primary, and every event ever
// acknowledged is there (--redis_wait_replicas 1: a replica had it).
TEST(RedisLiveStoreTest, APrimaryKilledUnderWritesFailsOverWithoutLosingAcknowledgedEvents) {
  const int primary_port = testing::FreePort();
  auto primary = std::make_unique<testing::RedisServer>(std::vector<std::string>{}, primary_port);
  ASSERT_TRUE(primary->ok());
  const std::vector<std::string> replica_of = {"--replicaof", "127.0.0.1", std::to_string(primary_port)};
  testing::RedisServer replica1(replica_of, testing::FreePort()), replica2(replica_of, testing::FreePort());
  ASSERT_TRUE(replica1.ok() && replica2.ok());
  testing::RedisSentinel sentinel("live", primary_port);
  RedisLiveStore::Options o;
  auto address = RedisAddress::Parse(absl::StrCat("redis-sentinel://127.0.0.1:", sentinel.port(), "/live"));
  ASSERT_TRUE(address.ok());
  o.address = *address;
  o.wait_replicas = 1;
  o.timeout = absl::Milliseconds(300);
  // The replicas in sync first (WAIT needs one), and known to the sentinel.
  for (testing::RedisServer* r : {&replica1, &replica2}) {
    for (int i = 0; i < 500; ++i) {
      auto role = r->Run({"ROLE"});
      if (role.ok() && role->elements.size() > 3 && role->elements[3].str == "connected") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (int i = 0; i < 500 && !absl::StrContains(sentinel.log(), "+slave") ; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto s = OpenOrDie(o);
  ASSERT_TRUE(s);
  std::set<std::string> acknowledged;
  int refused = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  bool killed = false, recovered = false;
  for (int i = 0; std::chrono::steady_clock::now() < deadline && !recovered; ++i) {
    const std::string id = "e" + std::to_string(i);
    auto a = Append(*s, {Event("c1", "p" + std::to_string(i), id)});
    if (a.ok()) {
      acknowledged.insert(id);
      if (killed) recovered = acknowledged.size() > 60;
    } else {
      EXPECT_TRUE(absl::IsUnavailable(a.status())) << a.status();
      ++refused;
    }
    if (!killed && acknowledged.size() == 50) {
      primary->Stop(SIGKILL);
      killed = true;
    }
  }
  ASSERT_TRUE(recovered) << "no write went through after the failover; sentinel log:\n" << sentinel.log();
  EXPECT_GT(refused, 0);
  // Every acknowledged event is on the new primary.
  std::set<std::string> stored;
  ASSERT_TRUE(s->ReadEvents(0, [&](LiveEvent&& e, LiveStore::Position) { stored.insert(e.event_id); }).ok());
  for (const std::string& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id << " was acknowledged and lost";
  auto role1 = replica1.Run({"ROLE"}), role2 = replica2.Run({"ROLE"});
  ASSERT_TRUE(role1.ok() && role2.ok());
  EXPECT_TRUE(role1->elements[0].str == "master" || role2->elements[0].str == "master");
}

TEST(RedisLiveStoreTest, APasswordIsSentAndAWrongOneRefused) {
  testing::RedisServer redis({"--requirepass", "s3cret"});
  ASSERT_TRUE(redis.ok());
  RedisLiveStore::Options o = OptionsFor(redis);
  o.address.password = "wrong";
  auto s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  EXPECT_FALSE(s.ok());
  o.address.password = "s3cret";
  s = RedisLiveStore::Open(o, 0, [](LiveEvent&&, LiveStore::Position) {});
  EXPECT_TRUE(s.ok()) << s.status();
}

}  // namespace
}  // namespace aisle
