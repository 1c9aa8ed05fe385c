// Retries against the live loop, deterministically: the original's write is
// held (the journal's before_write hook) while the retry arrives; a retry is
// never acknowledged for an event that is not on disk, not when the
// original fails, not when the process is killed. Event ids belong to
// their customer. The id memory holds its bound and counts its bytes.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "events/event_ids.h"
#include "events/event_journal.h"
#include "live/live_loop.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::TempDir;
using Accepted = LiveLoop::Accepted;

LiveEvent Event(const std::string& customer, const std::string& product, const std::string& id, int64_t received_ms) {
  LiveEvent e;
  e.customer_id = customer;
  e.product_id = product;
  e.timestamp = received_ms / 1000;
  e.event_id = id;
  e.received_ms = received_ms;
  return e;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A gate the journal's writer waits at before each write, and what it then
// reports (OK, or a write error as a full disk would).
class WriteGate {
 public:
  std::function<absl::Status()> Hook() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      ++arrived_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      if (fail_next_ > 0) {
        --fail_next_;
        return absl::ResourceExhaustedError("No space left on device (injected)");
      }
      return absl::OkStatus();
    };
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open(int fail_next = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    fail_next_ = fail_next;
    cv_.notify_all();
  }
  // Waits until the writer has arrived at the gate `n` times in all.
  void AwaitArrivals(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int fail_next_ = 0;
  int arrived_ = 0;
};

struct Answer {
  std::promise<absl::StatusOr<Accepted>> promise;
  std::future<absl::StatusOr<Accepted>> future = promise.get_future();
  std::function<void(absl::StatusOr<Accepted>)> Done() {
    return [this](absl::StatusOr<Accepted> a) { promise.set_value(std::move(a)); };
  }
  bool Ready() { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
};

std::unique_ptr<LiveLoop> OpenLoop(const std::string& dir, WriteGate* gate, LiveLoopOptions o = {}) {
  o.dir = dir;
  if (gate != nullptr) o.journal.before_write = gate->Hook();
  auto l = LiveLoop::Open(o, nullptr);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? std::move(*l) : nullptr;
}

uint64_t EventsOnDisk(const std::string& dir, const std::string& event_id) {
  uint64_t n = 0;
  auto segs = EventJournal::ListSegments(dir, /*include_open=*/true);
  EXPECT_TRUE(segs.ok());
  for (const auto& s : *segs) {
    EXPECT_TRUE(EventJournal::ReadSegment(s.path, [&](LiveEvent&& e) { n += e.event_id == event_id; }).ok());
  }
  return n;
}

// The original request for (c1, e-1) is sent and its write held at the
// gate; then the test sends its retry.
class HeldOriginal : public ::testing::Test {
 protected:
  void SetUp() override {
    live_ = OpenLoop(dir_.Path("events"), &gate_);
    gate_.Close();
    live_->Accept({Event("c1", "p1", "e-1", now_)}, std::chrono::steady_clock::now(), original_.Done());
    gate_.AwaitArrivals(1);  // the original's write is held at the gate
  }
  void Send(std::vector<LiveEvent> events, Answer* answer) {
    live_->Accept(std::move(events), std::chrono::steady_clock::now(), answer->Done());
  }
  uint64_t OnDisk(const std::string& event_id) {
    live_->Flush();
    return EventsOnDisk(dir_.Path("events"), event_id);
  }

  TempDir dir_;
  WriteGate gate_;
  std::unique_ptr<LiveLoop> live_;
  const int64_t now_ = NowMs();
  Answer original_;
};

TEST_F(HeldOriginal, ARetryWaitsForTheOriginalAndIsThenADuplicate) {
  Answer retry;
  Send({Event("c1", "p1", "e-1", now_ + 5)}, &retry);
  // The retry cannot be answered while the original is not on disk: it
  // waits on the original, which waits at the gate.
  EXPECT_FALSE(retry.Ready());
  EXPECT_FALSE(original_.Ready());
  gate_.Open();
  auto a = original_.future.get();
  auto b = retry.future.get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->stored, 1u);
  EXPECT_EQ(b->stored, 0u);
  EXPECT_EQ(b->duplicates, 1u);
  EXPECT_EQ(OnDisk("e-1"), 1u);
}

TEST_F(HeldOriginal, WhenTheOriginalFailsTheRetryStoresTheEventItself) {
  Answer retry;
  Send({Event("c1", "p1", "e-1", now_ + 5), Event("c1", "p2", "e-2", now_ + 5)}, &retry);
  EXPECT_FALSE(retry.Ready());
  gate_.Open(/*fail_next=*/1);  // the disk is full for the original's write
  auto a = original_.future.get();
  auto b = retry.future.get();
  EXPECT_FALSE(a.ok());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->stored, 2u);  // not "duplicate" of an event that was never stored
  EXPECT_EQ(b->duplicates, 0u);
  EXPECT_EQ(OnDisk("e-1"), 1u);
  EXPECT_EQ(OnDisk("e-2"), 1u);
}

TEST_F(HeldOriginal, WhenEveryWriteFailsTheRetryIsRefusedToo) {
  Answer retry;
  Send({Event("c1", "p1", "e-1", now_ + 5)}, &retry);
  gate_.Open(/*fail_next=*/2);
  EXPECT_FALSE(original_.future.get().ok());
  EXPECT_FALSE(retry.future.get().ok());
  EXPECT_EQ(OnDisk("e-1"), 0u);
  // And a later retry stores it.
  Answer later;
  Send({Event("c1", "p1", "e-1", now_ + 10)}, &later);
  auto c = later.future.get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->stored, 1u);
}

// The process is killed (SIGKILL) while the original's write is held: the
// retry must not have been acknowledged, and every acknowledged id is on
// disk after a restart.
TEST(EventRetry, KillNineWhileTheOriginalIsHeldLosesNoAcknowledgedEvent) {
  for (int trial = 0; trial < 3; ++trial) {
    TempDir dir;
    ::aisle::testing::CrashChild child([&](int fd) {
      WriteGate gate;
      LiveLoopOptions o;
      o.dir = dir.Path("events");
      o.journal.before_write = gate.Hook();
      auto live = LiveLoop::Open(o, nullptr);
      if (!live.ok()) ::_exit(3);
      gate.Close();
      const int64_t now = NowMs();
      auto ack = [fd](const char* what) {
        return [fd, what](absl::StatusOr<Accepted> a) {
          if (a.ok() && (a->stored > 0 || a->duplicates > 0)) {
            if (::write(fd, what, 1) < 0) ::_exit(4);
          }
        };
      };
      (*live)->Accept({Event("c1", "p1", "e-1", now)}, std::chrono::steady_clock::now(), ack("o"));
      gate.AwaitArrivals(1);
      (*live)->Accept({Event("c1", "p1", "e-1", now + 1)}, std::chrono::steady_clock::now(), ack("r"));
      if (::write(fd, ".", 1) < 0) ::_exit(4);  // both requests are in
      ::pause();
    });
    ASSERT_TRUE(child.ok());
    char c = 0;
    std::string acks;
    while (::read(child.fd(), &c, 1) == 1 && c != '.') acks.push_back(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * trial));
    child.Kill();
    while (::read(child.fd(), &c, 1) == 1) acks.push_back(c);
    EXPECT_EQ(acks, "") << "acknowledged while the original was not on disk";
    auto live = OpenLoop(dir.Path("events"), nullptr);
    EXPECT_EQ(EventsOnDisk(dir.Path("events"), "e-1"), 0u);
  }
}

TEST(EventRetry, EventIdsBelongToTheirCustomer) {
  TempDir dir;
  auto live = OpenLoop(dir.Path("events"), nullptr);
  const int64_t now = NowMs();
  Answer a, b, c;
  live->Accept({Event("c1", "p1", "order-1", now)}, std::chrono::steady_clock::now(), a.Done());
  live->Accept({Event("c2", "p2", "order-1", now)}, std::chrono::steady_clock::now(), b.Done());
  live->Accept({Event("c2", "p2", "order-1", now)}, std::chrono::steady_clock::now(), c.Done());
  EXPECT_EQ(a.future.get()->stored, 1u);
  auto rb = b.future.get();
  EXPECT_EQ(rb->stored, 1u) << "another customer's event with the same id was dropped";
  auto rc = c.future.get();
  EXPECT_EQ(rc->duplicates, 1u);
  live->Flush();
  EXPECT_EQ(EventsOnDisk(dir.Path("events"), "order-1"), 2u);
  // After a restart, the ids are still per customer.
  live.reset();
  live = OpenLoop(dir.Path("events"), nullptr);
  Answer d, e;
  live->Accept({Event("c1", "p1", "order-1", now + 1)}, std::chrono::steady_clock::now(), d.Done());
  live->Accept({Event("c3", "p1", "order-1", now + 1)}, std::chrono::steady_clock::now(), e.Done());
  EXPECT_EQ(d.future.get()->duplicates, 1u);
  EXPECT_EQ(e.future.get()->stored, 1u);
}

// An id twice in one request is stored once, in short requests and long ones.
TEST(EventRetry, AnIdTwiceInOneRequestIsStoredOnce) {
  TempDir dir;
  auto live = OpenLoop(dir.Path("events"), nullptr);
  const int64_t now = NowMs();
  for (int n : {2, 40}) {
    std::vector<LiveEvent> events;
    for (int i = 0; i + 1 < n; ++i) events.push_back(Event("c1", "p1", absl::StrCat("n", n, "-", i), now));
    events.push_back(Event("c1", "p1", absl::StrCat("n", n, "-0"), now));  // the first one's id again
    Answer a;
    live->Accept(std::move(events), std::chrono::steady_clock::now(), a.Done());
    auto r = a.future.get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->stored, static_cast<size_t>(n - 1)) << n;
    EXPECT_EQ(r->duplicates, 1u) << n;
  }
}

// The rows withheld for erased customers are cached per model object, by
// its identity: a model loaded where a freed one was (the same address)
// gets its own rows, not the freed model's (three models in turn).
TEST(ErasedRows, AModelLoadedWhereAFreedOneWasGetsItsOwnRows) {
  TempDir dir;
  auto live = OpenLoop(dir.Path("events"), nullptr);
  std::optional<Model> slot;  // each model is built where the previous one was
  auto load = [&](std::vector<std::string> ids) -> const Model& {
    slot.emplace();
    for (const std::string& id : ids) slot->customers.Insert(id);
    EXPECT_TRUE(slot->SetMetadata({{"data", {{"last_event_unix", 100}}}}).ok());
    live->ModelLoading(*slot);
    return *slot;
  };
  const Model& first = load({"x", "erased", "y"});
  const Model* address = &first;
  ASSERT_TRUE(live->Erase("erased", &first, nullptr).ok());
  EXPECT_TRUE(live->ModelRowWithheld(first, "erased"));
  EXPECT_FALSE(live->ModelRowWithheld(first, "y"));
  for (const std::vector<std::string>& ids : {std::vector<std::string>{"x", "y", "erased"},
                                              std::vector<std::string>{"y", "q", "x", "erased"},
                                              std::vector<std::string>{"erased", "y"}}) {
    const Model& m = load(ids);
    ASSERT_EQ(&m, address);
    EXPECT_TRUE(live->ModelRowWithheld(m, "erased"));
    // "y" sits where the erased customer's row was in an earlier model.
    EXPECT_FALSE(live->ModelRowWithheld(m, "y")) << "another model's erased rows were used";
    EXPECT_FALSE(live->ModelRowWithheld(m, "x"));
  }
}

TEST(EventIds, TheBoundHoldsAfterEveryRequest) {
  EventIds::Options o;
  o.max_ids = 100;
  EventIds ids(o);
  const int64_t now = NowMs();
  for (int r = 0; r < 20; ++r) {
    std::vector<EventIds::Key> keys;
    std::vector<int64_t> ms;
    for (int i = 0; i < 37; ++i) {
      keys.push_back(ids.KeyOf("c", absl::StrCat(r, "-", i)));
      ms.push_back(now + r);
    }
    std::vector<bool> dup;
    auto claim = ids.TryClaim(keys, ms, &dup, [] {});
    ASSERT_NE(claim, nullptr);
    ids.Settle(claim, true);
    EXPECT_LE(ids.size(), 100u);
  }
  EXPECT_EQ(ids.size(), 100u);
  // The newest are the ones remembered.
  std::vector<bool> dup;
  auto claim = ids.TryClaim({ids.KeyOf("c", "19-36"), ids.KeyOf("c", "0-0")}, {now, now}, &dup, [] {});
  ASSERT_NE(claim, nullptr);
  EXPECT_TRUE(dup[0]);
  EXPECT_FALSE(dup[1]);
  ids.Settle(claim, false);
}

// What the metrics say the ids hold is what is allocated (mallinfo2), and
// an id costs the same whatever its length.
TEST(EventIds, BytesFollowTheAllocation) {
  if (::aisle::testing::kSanitizerBuild) GTEST_SKIP() << "the sanitizer's allocator";
  const int64_t now = NowMs();
  const size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
  EventIds ids({});
  for (int i = 0; i < 100000; ++i) {
    ids.Remember(ids.KeyOf("customer-with-a-long-id-0123456789", absl::StrCat("an-event-id-that-is-long-", i)), now);
  }
  ids.Finish(now);
  const size_t allocated = mallinfo2().uordblks + mallinfo2().hblkhd - before;
  const double ratio = static_cast<double>(ids.bytes()) / static_cast<double>(allocated);
  EXPECT_GT(ratio, 0.9) << ids.bytes() << " counted, " << allocated << " allocated";
  EXPECT_LT(ratio, 1.1) << ids.bytes() << " counted, " << allocated << " allocated";
  const double per_id = static_cast<double>(ids.bytes()) / 100000;
  EXPECT_LT(per_id, 100) << "a 16-byte digest and its time, in a table and an age queue";
  std::printf("event ids: %.1f bytes each\n", per_id);
}

}  // namespace
}  // namespace aisle
