// Customers' live events: resolved against a model with its weighting,
// what the model already saw skipped, erasure, and the memory bound.
#include "events/live_events.h"

#include <malloc.h>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

Model SmallModel(uint64_t through_segment) {
  Model m;
  for (int p = 0; p < 4; ++p) m.products.Insert(absl::StrCat("p", p));
  EXPECT_TRUE(m.SetMetadata({{"data", {{"last_event_unix", 100}, {"events_through_segment", through_segment}}},
                             {"weighting", {{"view_weight", 0.5}, {"quantity_scaling", "none"}}}})
                  .ok());
  return m;
}

LiveEvent Ev(const std::string& c, const std::string& p, EventType t, float q = 1) {
  LiveEvent e;
  e.customer_id = c;
  e.product_id = p;
  e.type = t;
  e.quantity = q;
  e.received_ms = 200000;
  return e;
}

TEST(LiveEvents, ProfileWeightsEventsAsTheModelsTrainerDid) {
  LiveEvents live;
  const auto now = std::chrono::steady_clock::now();
  live.Add(Ev("c", "p2", EventType::kView), 5, now);
  live.Add(Ev("c", "p1", EventType::kPurchase, 3), 5, now);
  live.Add(Ev("c", "p2", EventType::kView), 5, now);
  live.Add(Ev("c", "unknown", EventType::kPurchase), 5, now);
  live.Add(Ev("c", "p3", EventType::kPurchase, 2), 5, now);
  live.Add(Ev("c", "p3", EventType::kReturn, 2), 5, now);
  const Model m = SmallModel(4);
  std::optional<double> waited;
  auto p = live.Profile("c", m, &waited);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(waited.has_value());
  EXPECT_EQ(p->events, 5u);  // the unknown product does not count
  ASSERT_EQ(p->products, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_FLOAT_EQ(p->weights[0], 1.0f);  // quantity scaling none
  EXPECT_FLOAT_EQ(p->weights[1], 1.0f);  // two views of 0.5
  EXPECT_FLOAT_EQ(p->weights[2], 0.0f);  // bought and returned
  EXPECT_EQ(p->purchased, (std::vector<uint32_t>{1}));
  // The time to first use is reported once.
  waited.reset();
  live.Profile("c", m, &waited);
  EXPECT_FALSE(waited.has_value());
  EXPECT_EQ(live.Profile("nobody", m), nullptr);
}

TEST(LiveEvents, AClickWeighsWhatTheModelSays) {
  EventWeighting w;
  w.quantity = EventWeighting::Quantity::kNone;
  EXPECT_FLOAT_EQ(LiveEvents::Weight(w, EventType::kClick, 3), 0.05f);
  Model m;
  ASSERT_TRUE(m.SetMetadata({{"weighting", {{"click_weight", 0.2}, {"quantity_scaling", "linear"}}}}).ok());
  EXPECT_FLOAT_EQ(LiveEvents::Weight(m.weighting, EventType::kClick, 2), 0.4f);
  EXPECT_EQ(ParseEventType("Click"), EventType::kClick);
  EXPECT_EQ(EventTypeName(EventType::kClick), "click");
}

TEST(LiveEvents, EventsTheModelSawAreSkippedAndDropped) {
  LiveEvents live;
  const auto now = std::chrono::steady_clock::now();
  live.Add(Ev("c", "p1", EventType::kPurchase), 3, now);
  live.Add(Ev("c", "p2", EventType::kPurchase), 4, now);
  const Model through3 = SmallModel(3), through4 = SmallModel(4);
  auto p = live.Profile("c", through3);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->products, (std::vector<uint32_t>{2}));
  EXPECT_EQ(live.Profile("c", through4), nullptr);
  live.DropSeenBy(through3);
  EXPECT_EQ(live.stats().events, 1u);
  live.DropSeenBy(through4);
  EXPECT_EQ(live.stats().customers, 0u);
  EXPECT_EQ(live.stats().bytes, 0u);
}

TEST(LiveEvents, WithoutSegmentsTheDataCutOffDecides) {
  LiveEvents live;
  LiveEvent old = Ev("c", "p1", EventType::kPurchase);
  old.received_ms = 100500;  // within the model's last second
  live.Add(old, 1, std::chrono::steady_clock::now());
  live.Add(Ev("c", "p2", EventType::kPurchase), 1, std::chrono::steady_clock::now());
  auto p = live.Profile("c", SmallModel(0));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->products, (std::vector<uint32_t>{2}));
}

TEST(LiveEvents, EraseAndTheMemoryBound) {
  LiveEvents::Options o;
  o.max_bytes = 20000;
  LiveEvents live(o);
  for (int c = 0; c < 200; ++c) {
    LiveEvent e = Ev(absl::StrCat("customer-", c), "p1", EventType::kView);
    e.received_ms = 1000 + c;  // later customers are more recent
    live.Add(e, 1, std::chrono::steady_clock::now());
  }
  const LiveEvents::Stats st = live.stats();
  EXPECT_LE(st.bytes, o.max_bytes);
  EXPECT_GT(st.evicted_customers, 0u);
  EXPECT_EQ(st.customers + st.evicted_customers, 200u);
  // The least recently active went first.
  EXPECT_TRUE(live.Events("customer-0").empty());
  EXPECT_EQ(live.Events("customer-199").size(), 1u);
  EXPECT_EQ(live.Erase("customer-199"), 1u);
  EXPECT_TRUE(live.Events("customer-199").empty());
}

// The bytes reported are the bytes allocated (they were half of them: the
// vectors' spare capacity, the table and malloc's rounding were missing).
TEST(LiveEvents, BytesMatchWhatIsAllocated) {
  if (::aisle::testing::kSanitizerBuild) GTEST_SKIP() << "the sanitizer's allocator";
  const auto now = std::chrono::steady_clock::now();
  const size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
  {
    LiveEvents live;
    for (int i = 0; i < 200000; ++i) {
      LiveEvent e = Ev(absl::StrCat("customer-", i % 20000), absl::StrCat("product-number-", i % 977), EventType::kView);
      e.event_id = absl::StrCat("an-event-id-of-some-length-", i);
      live.Add(e, 5, now);
    }
    const size_t allocated = mallinfo2().uordblks + mallinfo2().hblkhd - before;
    const double ratio = static_cast<double>(live.stats().bytes) / static_cast<double>(allocated);
    EXPECT_GT(ratio, 0.9) << live.stats().bytes << " counted, " << allocated << " allocated";
    EXPECT_LT(ratio, 1.1) << live.stats().bytes << " counted, " << allocated << " allocated";
  }
}

}  // namespace
}  // namespace aisle
