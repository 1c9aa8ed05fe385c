#include "data/synthetic.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "events/event_loader.h"

namespace aisle {
namespace {

TEST(SyntheticTest, DeterministicAndStructured) {
  SyntheticOptions o;
  o.customers = 500;
  o.products = 200;
  o.categories = 10;
  o.purchases = 10000;
  o.views_per_purchase = 0.5;
  o.cart_rate = 0.2;
  o.return_rate = 0.05;
  SyntheticData a = GenerateSynthetic(o), b = GenerateSynthetic(o);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    ASSERT_EQ(a.events[i].product, b.events[i].product);
    ASSERT_EQ(a.events[i].timestamp, b.events[i].timestamp);
  }
  // Most purchases fall in the customer's favourite categories.
  size_t purchases = 0, in_taste = 0, types[4] = {};
  for (const SyntheticEvent& e : a.events) {
    ++types[e.type];
    if (e.type != 0) continue;
    ++purchases;
    const auto& t = a.tastes[e.customer];
    in_taste += std::find(t.begin(), t.end(), a.product_category[e.product]) != t.end();
  }
  EXPECT_GT(static_cast<double>(in_taste) / purchases, 0.85);
  EXPECT_GT(types[1], 0u);
  EXPECT_GT(types[2], 0u);
  EXPECT_GT(types[3], 0u);
  for (size_t i = 1; i < a.events.size(); ++i) EXPECT_LE(a.events[i - 1].timestamp, a.events[i].timestamp);
}

TEST(SyntheticTest, CsvLoadsStrictly) {
  SyntheticOptions o;
  o.customers = 50;
  o.products = 20;
  o.purchases = 500;
  o.return_rate = 0.1;
  SyntheticData d = GenerateSynthetic(o);
  aisle::testing::TempDir dir;
  ASSERT_TRUE(WriteSyntheticCsv(d, dir.Path("s.csv")).ok());
  LoadOptions lo;
  lo.strict = true;
  EventLog log;
  LoadStats stats;
  ASSERT_TRUE(LoadEventsFile(dir.Path("s.csv"), lo, &log, &stats).ok());
  EXPECT_EQ(log.events.size(), d.events.size());
  EXPECT_EQ(log.events[0].timestamp, d.events[0].timestamp);
}

}  // namespace
}  // namespace aisle
