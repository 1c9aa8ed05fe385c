// The event journal: its line format (trainer-readable, checksummed), group
// commit, rotation, recovery of a torn or damaged tail, and no acknowledged
// event lost when the writing process is killed at a random moment.
#include "events/event_journal.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "events/event_loader.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

LiveEvent MakeEvent(const std::string& customer, const std::string& product, EventType type = EventType::kPurchase) {
  LiveEvent e;
  e.customer_id = customer;
  e.product_id = product;
  e.type = type;
  e.timestamp = 1764547200;
  e.quantity = 2;
  e.price = 3.5f;
  e.channel = Channel::kEmail;
  e.country = "United Kingdom";
  e.event_id = "id-" + customer + "-" + product;
  e.recommendation_id = "rec-1";
  e.received_ms = 1764547200123;
  return e;
}

// Appends and waits until durable.
absl::Status AppendSync(EventJournal& j, const std::vector<LiveEvent>& events) {
  std::string lines;
  for (const LiveEvent& e : events) AppendJournalLine(e, &lines);
  std::promise<absl::Status> done;
  j.Append(std::move(lines), events.size(), [&](absl::Status s, uint64_t) { done.set_value(s); });
  return done.get_future().get();
}

TEST(JournalLine, RoundTripsEveryFieldAndQuotesWhatNeedsIt) {
  LiveEvent e = MakeEvent("c,1", "p\"2");
  e.type = EventType::kReturn;
  std::string line;
  AppendJournalLine(e, &line);
  ASSERT_EQ(line.back(), '\n');
  auto back = ParseJournalLine(absl::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.status() << line;
  EXPECT_EQ(back->customer_id, "c,1");
  EXPECT_EQ(back->product_id, "p\"2");
  EXPECT_EQ(back->type, EventType::kReturn);
  EXPECT_EQ(back->timestamp, e.timestamp);
  EXPECT_EQ(back->quantity, 2);
  EXPECT_EQ(back->price, 3.5f);
  EXPECT_EQ(back->channel, Channel::kEmail);
  EXPECT_EQ(back->country, "United Kingdom");
  EXPECT_EQ(back->event_id, e.event_id);
  EXPECT_EQ(back->recommendation_id, "rec-1");
  EXPECT_EQ(back->received_ms, e.received_ms);
}

TEST(JournalLine, AnyChangedByteFailsTheChecksum) {
  std::string line;
  AppendJournalLine(MakeEvent("c1", "p1"), &line);
  line.pop_back();
  for (size_t i = 0; i < line.size(); ++i) {
    std::string bad = line;
    bad[i] = bad[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(ParseJournalLine(bad).ok()) << i;
  }
  EXPECT_FALSE(ParseJournalLine(line.substr(0, line.size() - 3)).ok());
}

TEST(EventJournal, SegmentsAreTrainerInputs) {
  TempDir dir;
  {
    auto j = EventJournal::Open(dir.path(), {});
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE(AppendSync(**j, {MakeEvent("c1", "p1"), MakeEvent("c,2", "p2", EventType::kView),
                                 MakeEvent("c1", "p3", EventType::kReturn)})
                    .ok());
  }  // a clean shutdown closes the segment
  auto segments = EventJournal::ListSegments(dir.path(), false);
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->size(), 1u);
  EventLog log;
  LoadStats stats;
  LoadOptions o;
  o.strict = true;
  ASSERT_TRUE(LoadEventsFile((*segments)[0].path, o, &log, &stats).ok());
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.customers.id(log.events[1].customer), "c,2");
  EXPECT_EQ(log.events[1].type, EventType::kView);
  EXPECT_EQ(log.events[2].type, EventType::kReturn);
  EXPECT_EQ(log.events[0].quantity, 2);
  EXPECT_EQ(log.events[0].channel, Channel::kEmail);
  EXPECT_EQ(log.events[0].timestamp, 1764547200);
}

TEST(EventJournal, ConcurrentAppendsShareSyncs) {
  TempDir dir;
  auto j = EventJournal::Open(dir.path(), {});
  ASSERT_TRUE(j.ok());
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!AppendSync(**j, {MakeEvent(absl::StrCat("c", t), absl::StrCat("p", i))}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  const EventJournal::Stats st = (*j)->stats();
  EXPECT_EQ(st.lines, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(st.appends, static_cast<uint64_t>(kThreads * kEach));
  // Group commit: while one sync runs, the others queue and share the next.
  EXPECT_LT(st.syncs, st.appends) << "every append paid its own fdatasync";
}

TEST(EventJournal, RotatesBySizeAndOnRequest) {
  TempDir dir;
  EventJournal::Options o;
  o.segment_bytes = 1000;
  auto j = EventJournal::Open(dir.path(), o);
  ASSERT_TRUE(j.ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(AppendSync(**j, {MakeEvent("c", absl::StrCat("p", i))}).ok());
  ASSERT_TRUE((*j)->Rotate().ok());
  auto segments = EventJournal::ListSegments(dir.path(), true);
  ASSERT_TRUE(segments.ok());
  EXPECT_GE(segments->size(), 3u);  // about 3,000 bytes of lines in segments of 1,000
  size_t events = 0;
  for (const auto& s : *segments) {
    EXPECT_FALSE(s.open) << "Rotate closes the open segment";
    ASSERT_TRUE(EventJournal::ReadSegment(s.path, [&](LiveEvent&&) { ++events; }).ok());
  }
  EXPECT_EQ(events, 30u);
}

TEST(EventJournal, OneWriterPerDirectory) {
  TempDir dir;
  auto a = EventJournal::Open(dir.path(), {});
  ASSERT_TRUE(a.ok());
  auto b = EventJournal::Open(dir.path(), {});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition) << b.status();
}

TEST(EventJournal, ATornOrDamagedTailIsCutAtOpen) {
  TempDir dir;
  std::string good, bad;
  AppendJournalLine(MakeEvent("c1", "p1"), &good);
  AppendJournalLine(MakeEvent("c2", "p2"), &bad);
  std::string damaged = bad;
  damaged[3] = '#';
  // A complete good line, a damaged one, a good one after it (never
  // acknowledged: it was written in the same unsynced batch), a torn one.
  dir.Write("events-000003.csv.open", std::string(JournalHeader()) + good + damaged + good + bad.substr(0, 10));
  EventJournal::OpenStats st;
  auto j = EventJournal::Open(dir.path(), {}, &st);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(st.recovered_lines, 1u);
  EXPECT_EQ(st.torn_bytes, damaged.size() + good.size() + 10);
  EXPECT_FALSE(std::filesystem::exists(dir.Path("events-000003.csv.open")));
  EXPECT_EQ(ReadAll(dir.Path("events-000003.csv")), std::string(JournalHeader()) + good);
  // New appends go to a new segment.
  ASSERT_TRUE(AppendSync(**j, {MakeEvent("c3", "p3")}).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.Path("events-000004.csv.open")));
}

TEST(EventJournal, AHeaderOnlyLeftoverIsRemoved) {
  TempDir dir;
  dir.Write("events-000001.csv.open", std::string(JournalHeader()).substr(0, 7));
  EventJournal::OpenStats st;
  auto j = EventJournal::Open(dir.path(), {}, &st);
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.Path("events-000001.csv.open")));
  EXPECT_FALSE(std::filesystem::exists(dir.Path("events-000001.csv")));
}

// A child process appends from several threads and reports each
// acknowledged event on a pipe; it is killed with SIGKILL at a random
// moment. Every acknowledged event must be in the recovered journal, and
// every line there must be whole.
TEST(EventJournal, KillNineLosesNoAcknowledgedEvent) {
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    ::aisle::testing::CrashChild child([&](int fd) {
      auto j = EventJournal::Open(dir.path(), {});
      if (!j.ok()) ::_exit(3);
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0;; ++i) {
            LiveEvent e = MakeEvent(absl::StrCat("c", t), absl::StrCat("p", i));
            e.event_id = absl::StrCat(t, "-", i);
            std::string lines;
            AppendJournalLine(e, &lines);
            std::promise<absl::Status> done;
            (*j)->Append(std::move(lines), 1, [&](absl::Status s, uint64_t) { done.set_value(s); });
            if (done.get_future().get().ok()) {
              const std::string ack = e.event_id + "\n";
              if (::write(fd, ack.data(), ack.size()) < 0) ::_exit(4);
            }
          }
        });
      }
      for (auto& t : threads) t.join();
    });
    ASSERT_TRUE(child.ok());
    std::set<std::string> acked;
    std::string buf;
    const size_t target = 50 + rng() % 400;
    char chunk[4096];
    while (acked.size() < target) {
      const ssize_t n = ::read(child.fd(), chunk, sizeof(chunk));
      ASSERT_GT(n, 0) << "the writer died";
      buf.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        acked.insert(buf.substr(0, nl));
        buf.erase(0, nl + 1);
      }
    }
    child.Kill();
    // Acks written before the kill may still be in the pipe.
    ssize_t n;
    while ((n = ::read(child.fd(), chunk, sizeof(chunk))) > 0) buf.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) acked.insert(buf.substr(0, nl));

    EventJournal::OpenStats st;
    auto j = EventJournal::Open(dir.path(), {}, &st);
    ASSERT_TRUE(j.ok()) << j.status();
    j->reset();
    std::set<std::string> found;
    uint64_t damaged = 0;
    auto segments = EventJournal::ListSegments(dir.path(), true);
    ASSERT_TRUE(segments.ok());
    for (const auto& s : *segments) {
      ASSERT_FALSE(s.open);
      ASSERT_TRUE(EventJournal::ReadSegment(s.path, [&](LiveEvent&& e) { found.insert(e.event_id); }, &damaged).ok());
      const std::string text = ReadAll(s.path);
      EXPECT_EQ(text.back(), '\n') << "a half-written line survived recovery";
    }
    EXPECT_EQ(damaged, 0u);
    for (const std::string& id : acked) EXPECT_TRUE(found.count(id)) << "acknowledged event " << id << " lost";
  }
}

}  // namespace
}  // namespace aisle
