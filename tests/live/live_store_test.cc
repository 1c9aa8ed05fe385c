// The live store's conformance suite (live/live_store.h): what every back
// end must do, run against each one. A back end enters the list at the
// bottom with how to open it (twice on the same place: a restart) and, when
// it can, how to make its writes fail.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "live/file_live_store.h"
#include "live/redis_live_store.h"
#include "tests/redis_server.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

struct Backend {
  std::string name;
  // Opens the store at `place` (the same place again: a restart), events
  // after `live_after` read back to `on_live`.
  std::function<absl::StatusOr<std::unique_ptr<LiveStore>>(const std::string& place, LiveStore::Position live_after,
                                                           const LiveStore::EventFn& on_live)>
      open;
  // Makes the store's writes fail (true) or succeed again; null: the back
  // end cannot be made to fail from a test.
  std::function<void(bool)> fail_writes;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

// Shared by the file back end's writes: a test turns failures on and off.
std::atomic<bool> g_file_writes_fail{false};

Backend FileBackend() {
  Backend b;
  b.name = "file";
  b.open = [](const std::string& place, LiveStore::Position live_after,
              const LiveStore::EventFn& on_live) -> absl::StatusOr<std::unique_ptr<LiveStore>> {
    FileLiveStore::Options o;
    o.journal.sync = false;  // the journal's own tests cover fdatasync
    o.journal.before_write = [] {
      return g_file_writes_fail.load() ? absl::DataLossError("injected: disk full") : absl::OkStatus();
    };
    auto s = FileLiveStore::Open(place, o, live_after, on_live);
    if (!s.ok()) return s.status();
    return std::unique_ptr<LiveStore>(std::move(*s));
  };
  b.fail_writes = [](bool fail) { g_file_writes_fail = fail; };
  return b;
}

// One redis-server for the whole program; each test's store is under a
// key prefix of its own (its temporary directory's path), so a second Open
// on the same place is a restart of a server sharing that Redis.
testing::RedisServer& SharedRedis() {
  static testing::RedisServer redis;
  return redis;
}

Backend RedisBackend() {
  Backend b;
  b.name = "redis";
  b.open = [](const std::string& place, LiveStore::Position live_after,
              const LiveStore::EventFn& on_live) -> absl::StatusOr<std::unique_ptr<LiveStore>> {
    if (!SharedRedis().ok()) return absl::UnavailableError("redis-server did not start (scripts/setup.sh --tests)");
    RedisLiveStore::Options o;
    o.address = SharedRedis().address();
    o.prefix = place + ":";
    auto s = RedisLiveStore::Open(o, live_after, on_live);
    if (!s.ok()) return s.status();
    return std::unique_ptr<LiveStore>(std::move(*s));
  };
  // Out of memory, Redis refuses writes (maxmemory-policy noeviction).
  b.fail_writes = [](bool fail) {
    ASSERT_TRUE(SharedRedis().Run({"CONFIG", "SET", "maxmemory", fail ? "1" : "0"}).ok());
  };
  return b;
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

LiveEvent Event(const std::string& customer, const std::string& product, const std::string& id = "") {
  LiveEvent e;
  e.customer_id = customer;
  e.product_id = product;
  e.type = EventType::kPurchase;
  e.timestamp = 1'700'000'000;
  e.quantity = 2;
  e.price = 3.5f;
  e.country = "NL";
  e.event_id = id;
  e.recommendation_id = "r1";
  e.received_ms = NowMs();
  return e;
}

class LiveStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { g_file_writes_fail = false; }
  std::unique_ptr<LiveStore> Open(LiveStore::Position live_after = 0, const LiveStore::EventFn& on_live = {}) {
    auto s = GetParam().open(dir_.path(), live_after, on_live ? on_live : [](LiveEvent&&, LiveStore::Position) {});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Append, waiting for the answer.
  static absl::StatusOr<LiveStore::Appended> Append(LiveStore& s, std::vector<LiveEvent> events) {
    std::promise<absl::StatusOr<LiveStore::Appended>> p;
    auto f = p.get_future();
    s.Append(std::move(events), [&p](absl::StatusOr<LiveStore::Appended> a) { p.set_value(std::move(a)); });
    return f.get();
  }
  static std::vector<std::pair<LiveEvent, LiveStore::Position>> ReadAll(const LiveStore& s,
                                                                        LiveStore::Position after = 0) {
    std::vector<std::pair<LiveEvent, LiveStore::Position>> out;
    EXPECT_TRUE(s.ReadEvents(after, [&](LiveEvent&& e, LiveStore::Position at) { out.emplace_back(std::move(e), at); }).ok());
    return out;
  }
  static std::vector<std::string> Products(const std::vector<std::pair<LiveEvent, LiveStore::Position>>& v) {
    std::vector<std::string> out;
    for (const auto& [e, at] : v) out.push_back(e.product_id);
    return out;
  }
  testing::TempDir dir_;
};

TEST_P(LiveStoreTest, StoredEventsAreReadBackInOrderWithEveryField) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  std::vector<LiveEvent> sent = {Event("c1", "p1", "e1"), Event("c2", "p2"), Event("c1", "p3", "e3")};
  sent[1].type = EventType::kView;
  sent[1].price = NAN;
  sent[1].country.clear();
  auto a = Append(*s, sent);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->count(), 3u);
  EXPECT_GT(a->at, 0u);
  ASSERT_EQ(a->events.size(), 3u);  // handed back, in order
  EXPECT_EQ(a->events[2].product_id, "p3");
  const auto read = ReadAll(*s);
  ASSERT_EQ(read.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const LiveEvent& e = read[i].first;
    EXPECT_EQ(read[i].second, a->at);
    EXPECT_EQ(e.customer_id, sent[i].customer_id);
    EXPECT_EQ(e.product_id, sent[i].product_id);
    EXPECT_EQ(e.type, sent[i].type);
    EXPECT_EQ(e.timestamp, sent[i].timestamp);
    EXPECT_EQ(e.quantity, sent[i].quantity);
    EXPECT_EQ(std::isnan(e.price), std::isnan(sent[i].price));
    if (!std::isnan(sent[i].price)) {
      EXPECT_EQ(e.price, sent[i].price);
    }
    EXPECT_EQ(e.country, sent[i].country);
    EXPECT_EQ(e.event_id, sent[i].event_id);
    EXPECT_EQ(e.recommendation_id, sent[i].recommendation_id);
    EXPECT_EQ(e.received_ms, sent[i].received_ms);
  }
  // Nothing after the position they were stored at.
  EXPECT_TRUE(ReadAll(*s, a->at).empty());
}

TEST_P(LiveStoreTest, AnEventIdIsStoredOncePerCustomer) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Append(*s, {Event("c1", "p1", "a")}).ok());
  // The same id again (a retry), twice in one request, another customer's
  // "a", and events without ids (never duplicates).
  auto a = Append(*s, {Event("c1", "p1", "a"), Event("c1", "p2", "b"), Event("c1", "p2", "b"), Event("c2", "p1", "a"),
                       Event("c1", "p4"), Event("c1", "p4")});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->stored, (std::vector<bool>{false, true, false, true, true, true}));
  EXPECT_EQ(Products(ReadAll(*s)), (std::vector<std::string>{"p1", "p2", "p1", "p4", "p4"}));
  // A request of duplicates only is answered too, storing nothing.
  auto d = Append(*s, {Event("c1", "p1", "a")});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->count(), 0u);
  EXPECT_EQ(ReadAll(*s).size(), 5u);
}

TEST_P(LiveStoreTest, ARestartKeepsEventsIdsConsentAndErasures) {
  LiveStore::Position first = 0;
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    auto a = Append(*s, {Event("c1", "p1", "a"), Event("c2", "p2", "b")});
    ASSERT_TRUE(a.ok());
    first = a->at;
    ASSERT_TRUE(s->SetConsent("c3", false, NowMs()).ok());
    ASSERT_TRUE(s->Erase("c2", NowMs()).ok());
    s->Flush();
  }
  std::vector<std::string> live;
  auto s = Open(0, [&](LiveEvent&& e, LiveStore::Position) { live.push_back(e.product_id); });
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(live, std::vector<std::string>{"p1"});  // c2 was erased
  auto again = Append(*s, {Event("c1", "p1", "a")});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->count(), 0u);  // the id is remembered across the restart
  ASSERT_TRUE(s->Consent("c3").has_value());
  EXPECT_FALSE(s->Consent("c3")->personalization);
  EXPECT_TRUE(s->ErasedAt("c2").has_value());
  EXPECT_EQ(s->erasures(), 1u);
  // Opened with a watermark past the first events: none of them is live.
  s.reset();
  live.clear();
  s = Open(first, [&](LiveEvent&& e, LiveStore::Position) { live.push_back(e.product_id); });
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(live.empty());
}

TEST_P(LiveStoreTest, ConsentIsTheLastChoice) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->Consent("c1").has_value());
  ASSERT_TRUE(s->SetConsent("c1", false, 1000).ok());
  ASSERT_TRUE(s->SetConsent("c1", true, 2000).ok());
  ASSERT_TRUE(s->Consent("c1").has_value());
  EXPECT_TRUE(s->Consent("c1")->personalization);
  EXPECT_EQ(s->Consent("c1")->at_ms, 2000);
  EXPECT_EQ(s->Snapshot().consent.size(), 1u);
}

TEST_P(LiveStoreTest, AnErasureRemovesConsentAndEverythingReceivedBefore) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Append(*s, {Event("c1", "p1"), Event("c2", "p2"), Event("c1", "p3")}).ok());
  ASSERT_TRUE(s->SetConsent("c1", true, NowMs()).ok());
  const int64_t at = NowMs();
  auto e = s->Erase("c1", at);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->consent_record);
  EXPECT_FALSE(s->Consent("c1").has_value());
  ASSERT_TRUE(s->ErasedAt("c1").has_value());
  EXPECT_EQ(*s->ErasedAt("c1"), at);
  EXPECT_EQ(Products(ReadAll(*s)), std::vector<std::string>{"p2"});
  // The erasure is a pseudonym, never the id.
  const CustomerLedger::State st = s->Snapshot();
  EXPECT_EQ(st.erased.size(), 1u);
  EXPECT_FALSE(st.erased.contains("c1"));
  EXPECT_TRUE(st.ErasedAt("c1").has_value());
  // What they do after the erasure is theirs again.
  LiveEvent later = Event("c1", "p9");
  later.received_ms = at + 1;
  ASSERT_TRUE(Append(*s, {later}).ok());
  EXPECT_EQ(Products(ReadAll(*s)), (std::vector<std::string>{"p2", "p9"}));
  auto none = s->Erase("nobody", NowMs());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->consent_record);
}

TEST_P(LiveStoreTest, RetriesRacingTheirOriginalsStoreEachIdOnce) {
  // Eight clients send the same 50 ids at once; every answer of
  // "duplicate" comes after the original is durable (it is read back by
  // then), and each id is stored exactly once.
  auto s = Open();
  ASSERT_NE(s, nullptr);
  constexpr int kIds = 50, kClients = 8;
  std::atomic<int> early{0}, stored{0}, answered{0};
  std::mutex mu;
  std::set<std::string> durable;  // ids whose original was answered stored
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kIds; ++i) {
        const std::string id = "e" + std::to_string((i + t * 7) % kIds);
        std::promise<void> p;
        s->Append({Event("c1", "p" + id, id)}, [&, id](absl::StatusOr<LiveStore::Appended> a) {
          if (a.ok() && a->count() == 1) {
            std::lock_guard<std::mutex> lock(mu);
            durable.insert(id);
            ++stored;
          } else if (a.ok()) {
            // A duplicate: its original's answer went first.
            std::lock_guard<std::mutex> lock(mu);
            early += !durable.contains(id);
          }
          ++answered;
          p.set_value();
        });
        p.get_future().wait();
      }
    });
  }
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(answered.load(), kIds * kClients);
  EXPECT_EQ(stored.load(), kIds);
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(ReadAll(*s).size(), static_cast<size_t>(kIds));
}

TEST_P(LiveStoreTest, AFailedWriteAcknowledgesNothingAndForgetsItsIds) {
  if (!GetParam().fail_writes) GTEST_SKIP() << "no fault injection for " << GetParam().name;
  auto s = Open();
  ASSERT_NE(s, nullptr);
  GetParam().fail_writes(true);
  auto a = Append(*s, {Event("c1", "p1", "a"), Event("c1", "p2")});
  EXPECT_FALSE(a.ok());
  GetParam().fail_writes(false);
  EXPECT_TRUE(ReadAll(*s).empty());
  // The retry stores the event itself: its id was not remembered.
  auto retry = Append(*s, {Event("c1", "p1", "a")});
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->count(), 1u);
  EXPECT_EQ(Products(ReadAll(*s)), std::vector<std::string>{"p1"});
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveStoreTest, ::testing::Values(FileBackend(), RedisBackend()),
                         [](const ::testing::TestParamInfo<Backend>& i) { return i.param.name; });

}  // namespace
}  // namespace aisle
