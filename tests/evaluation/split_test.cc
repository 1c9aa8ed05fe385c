#include "evaluation/split.h"

#include <gtest/gtest.h>

#include <set>

#include "data/synthetic.h"
#include "tests/synthetic_log.h"

namespace aisle {
namespace {

EventLog SyntheticLog(uint64_t seed) {
  SyntheticOptions o;
  o.customers = 300;
  o.products = 100;
  o.purchases = 6000;
  o.views_per_purchase = 0.5;
  o.return_rate = 0.05;
  o.seed = seed;
  SyntheticData d = GenerateSynthetic(o);
  EventLog log = ::aisle::testing::ToEventLog(d);
  return log;
}

TEST(SplitTest, TimeSplitNeverLeaksAndCarvesValidationFromTrain) {
  EventLog log = SyntheticLog(3);
  SplitOptions o;
  o.method = SplitMethod::kTime;
  o.test_fraction = 0.2;
  o.validation = true;
  SplitResult r = SplitEvents(log, o);
  ASSERT_EQ(r.part.size(), log.events.size());
  EXPECT_GT(r.counts[1], 0u);
  EXPECT_GT(r.counts[2], 0u);
  EXPECT_LT(r.validation_cutoff, r.test_cutoff);
  std::set<uint32_t> train_customers, before_validation;
  for (size_t e = 0; e < log.events.size(); ++e) {
    const Event& ev = log.events[e];
    switch (r.part[e]) {
      case SplitPart::kTrain:
        EXPECT_LT(ev.timestamp, r.validation_cutoff);
        train_customers.insert(ev.customer);
        break;
      case SplitPart::kValidation:
        EXPECT_GE(ev.timestamp, r.validation_cutoff);
        EXPECT_LT(ev.timestamp, r.test_cutoff);
        break;
      case SplitPart::kTest:
        EXPECT_GE(ev.timestamp, r.test_cutoff);
        break;
      case SplitPart::kDropped:
        break;
    }
  }
  // Test and validation customers were seen in training.
  for (size_t e = 0; e < log.events.size(); ++e) {
    if (r.part[e] == SplitPart::kValidation) {
      EXPECT_TRUE(train_customers.count(log.events[e].customer));
    }
  }
  // Without validation, the test part is the same.
  o.validation = false;
  SplitResult r2 = SplitEvents(log, o);
  EXPECT_EQ(r2.test_cutoff, r.test_cutoff);
  EXPECT_EQ(r2.counts[1], r.counts[1]);
}

TEST(SplitTest, LastBasketHoldsOutTheLatestPurchases) {
  EventLog log;
  auto add = [&](const char* c, const char* p, int64_t t, EventType type) {
    log.events.push_back({log.customers.Insert(c), log.products.Insert(p), t, 1, NAN, type, Channel::kUnknown, kNoCountry});
  };
  add("a", "x", 100, EventType::kPurchase);
  add("a", "y", 200, EventType::kPurchase);
  add("a", "z", 200, EventType::kPurchase);
  add("a", "x", 150, EventType::kView);
  add("a", "y", 250, EventType::kReturn);  // after the basket: would leak it
  add("b", "x", 100, EventType::kPurchase);
  add("b", "y", 100, EventType::kPurchase);  // one basket only: stays in training
  SplitOptions o;
  o.method = SplitMethod::kLastBasket;
  SplitResult r = SplitEvents(log, o);
  std::vector<SplitPart> want = {SplitPart::kTrain, SplitPart::kTest, SplitPart::kTest, SplitPart::kTrain,
                                 SplitPart::kDropped, SplitPart::kTrain, SplitPart::kTrain};
  EXPECT_EQ(r.part, want);
}

TEST(SplitTest, LeaveOneOutHoldsOutOnePurchasePerCustomerAndItsPair) {
  EventLog log = SyntheticLog(5);
  for (Event& e : log.events) e.timestamp = 0;  // like the NCF files: no timestamps
  SplitOptions o;
  o.method = SplitMethod::kLeaveOneOut;
  o.validation = true;
  SplitResult r = SplitEvents(log, o);
  std::map<uint32_t, int> test_per_customer, val_per_customer;
  std::set<std::pair<uint32_t, uint32_t>> held, train_pairs;
  for (size_t e = 0; e < log.events.size(); ++e) {
    const Event& ev = log.events[e];
    if (r.part[e] == SplitPart::kTest) {
      ++test_per_customer[ev.customer];
      held.insert({ev.customer, ev.product});
    }
    if (r.part[e] == SplitPart::kValidation) {
      ++val_per_customer[ev.customer];
      held.insert({ev.customer, ev.product});
    }
    if (r.part[e] == SplitPart::kTrain) train_pairs.insert({ev.customer, ev.product});
  }
  EXPECT_GT(test_per_customer.size(), 250u);
  for (auto [c, n] : test_per_customer) EXPECT_EQ(n, 1) << c;
  for (auto [c, n] : val_per_customer) EXPECT_EQ(n, 1) << c;
  for (const auto& pair : held) EXPECT_FALSE(train_pairs.count(pair)) << "held-out pair leaks into training";
  // Deterministic for a seed, different for another.
  EXPECT_EQ(SplitEvents(log, o).part, r.part);
  o.seed = 2;
  EXPECT_NE(SplitEvents(log, o).part, r.part);
}

}  // namespace
}  // namespace aisle
