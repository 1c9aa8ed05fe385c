#include "training/weighting.h"

#include <gtest/gtest.h>

#include <cmath>

#include "data/synthetic.h"
#include "engine/model.h"
#include "events/live_events.h"
#include "tests/synthetic_log.h"

namespace aisle {
namespace {

EventLog MakeLog() {
  EventLog log;
  for (const char* c : {"a", "b", "c"}) log.customers.Insert(c);
  for (const char* p : {"x", "y", "z"}) log.products.Insert(p);
  const int64_t day = 86400;
  auto ev = [&](uint32_t c, uint32_t p, int64_t t, float q, EventType type) {
    log.events.push_back({c, p, t, q, NAN, type, Channel::kUnknown, kNoCountry});
  };
  ev(0, 0, 10 * day, 3, EventType::kPurchase);
  ev(0, 1, 10 * day, 1, EventType::kView);
  ev(0, 1, 10 * day, 1, EventType::kCart);
  ev(1, 0, 0, 2, EventType::kPurchase);
  ev(1, 0, 5 * day, 2, EventType::kReturn);   // fully returned: pair dropped
  ev(1, 2, 10 * day, 1, EventType::kPurchase);
  ev(2, 2, 0, 4, EventType::kReturn);         // only a return: customer c drops out
  return log;
}

TEST(WeightingTest, LinearQuantityEventWeightsAndReturns) {
  WeightingOptions o;
  o.quantity_scaling = QuantityScaling::kLinear;
  o.cart_weight = 0.5f;
  o.view_weight = 0.25f;
  Interactions in = BuildInteractions(MakeLog(), o);
  // Customer c and nothing else of theirs: compacted away.
  ASSERT_EQ(in.customers, (std::vector<uint32_t>{0, 1}));
  ASSERT_EQ(in.products, (std::vector<uint32_t>{0, 1, 2}));
  const CsrMatrix& m = in.user_items;
  ASSERT_EQ(m.rows, 2u);
  ASSERT_EQ(m.RowLength(0), 2u);
  EXPECT_FLOAT_EQ(m.RowValues(0)[0], 3.0f);          // purchase of 3
  EXPECT_FLOAT_EQ(m.RowValues(0)[1], 0.25f + 0.5f);  // view + cart
  ASSERT_EQ(m.RowLength(1), 1u);                     // (b, x) returned in full
  EXPECT_EQ(m.RowIndices(1)[0], 2u);
  EXPECT_EQ(in.dropped_pairs, 2u);                   // (b, x) and (c, z)
  // Purchased: only pairs with net purchases, not views or carts.
  EXPECT_EQ(in.purchased.nnz(), 2u);
  EXPECT_EQ(in.purchased.RowIndices(0)[0], 0u);
  EXPECT_EQ(in.purchased.RowIndices(1)[0], 2u);
  EXPECT_EQ(in.item_popularity, (std::vector<float>{1, 1, 1}));
  // The transpose agrees.
  EXPECT_EQ(in.item_users.nnz(), m.nnz());
  EXPECT_EQ(in.item_users.RowIndices(2)[0], 1u);
  EXPECT_EQ(in.first_timestamp, 0);
  EXPECT_EQ(in.last_timestamp, 10 * 86400);
}

// One rule: what training gives one event (no decay) is what the live loop
// gives the same event under the weighting the model stores, for every
// type and quantity scaling, through the model's metadata and back.
TEST(WeightingTest, TrainingAndTheLiveLoopWeighEventsAlike) {
  for (QuantityScaling scaling : {QuantityScaling::kNone, QuantityScaling::kLinear, QuantityScaling::kLog}) {
    WeightingOptions o;
    o.quantity_scaling = scaling;
    o.purchase_weight = 1.5f;
    o.cart_weight = 0.4f;
    o.view_weight = 0.2f;
    o.click_weight = 0.07f;
    o.return_weight = 0.5f;
    Model m;
    ASSERT_TRUE(m.SetMetadata({{"weighting",
                                {{"purchase_weight", o.purchase_weight},
                                 {"cart_weight", o.cart_weight},
                                 {"view_weight", o.view_weight},
                                 {"return_weight", o.return_weight},
                                 {"click_weight", o.click_weight},
                                 {"quantity_scaling", QuantityScalingName(scaling)}}}})
                    .ok());
    for (EventType type : {EventType::kPurchase, EventType::kCart, EventType::kView, EventType::kClick}) {
      EventLog log;
      log.customers.Insert("c");
      log.products.Insert("p");
      log.events.push_back({0, 0, 100, 3.0f, NAN, type, Channel::kUnknown, kNoCountry});
      const Interactions in = BuildInteractions(log, o);
      ASSERT_EQ(in.user_items.nnz(), 1u);
      EXPECT_EQ(in.user_items.RowValues(0)[0], LiveEvents::Weight(m.weighting, type, 3.0f))
          << EventTypeName(type) << " " << QuantityScalingName(scaling);
    }
    // A return subtracts the same amount in both.
    EXPECT_FLOAT_EQ(LiveEvents::Weight(m.weighting, EventType::kReturn, 3.0f),
                    -o.return_weight * static_cast<float>(ScaleQuantity(scaling, 3.0)));
  }
}

TEST(WeightingTest, QuantityScalings) {
  WeightingOptions o;
  o.quantity_scaling = QuantityScaling::kLog;
  EXPECT_FLOAT_EQ(BuildInteractions(MakeLog(), o).user_items.RowValues(0)[0], std::log1p(3.0f));
  o.quantity_scaling = QuantityScaling::kNone;
  EXPECT_FLOAT_EQ(BuildInteractions(MakeLog(), o).user_items.RowValues(0)[0], 1.0f);
}

TEST(WeightingTest, HalfLifeHalvesWeightPerHalfLife) {
  EventLog log;
  log.customers.Insert("a");
  log.products.Insert("old");
  log.products.Insert("new");
  log.events.push_back({0, 0, 0, 1, NAN, EventType::kPurchase, Channel::kUnknown, kNoCountry});
  log.events.push_back({0, 1, 30 * 86400, 1, NAN, EventType::kPurchase, Channel::kUnknown, kNoCountry});
  WeightingOptions o;
  o.quantity_scaling = QuantityScaling::kNone;
  o.half_life_days = 15;
  Interactions in = BuildInteractions(log, o);
  EXPECT_NEAR(in.user_items.RowValues(0)[0], 0.25f, 1e-6);  // two half-lives old
  EXPECT_NEAR(in.user_items.RowValues(0)[1], 1.0f, 1e-6);
  o.reference_time = 45 * 86400;
  in = BuildInteractions(log, o);
  EXPECT_NEAR(in.user_items.RowValues(0)[1], 0.5f, 1e-6);
}

TEST(WeightingTest, ParseQuantityScaling) {
  EXPECT_EQ(*ParseQuantityScaling("log"), QuantityScaling::kLog);
  EXPECT_FALSE(ParseQuantityScaling("sqrt").ok());
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

// The path that frees the events as it goes gives the same matrices, to the
// bit, as the one that keeps them: every event type, returns cancelling
// purchases, recency decay, repeated pairs.
TEST(WeightingTest, ReleasingTheEventsGivesTheSameMatrices) {
  SyntheticOptions so;
  so.customers = 400;
  so.products = 150;
  so.purchases = 6000;
  so.views_per_purchase = 1.5;
  so.cart_rate = 0.3;
  so.return_rate = 0.2;
  so.seed = 3;
  EventLog log = ::aisle::testing::ToEventLog(GenerateSynthetic(so));
  WeightingOptions o;
  o.half_life_days = 90;
  o.return_weight = 1.5f;
  const Interactions kept = BuildInteractions(log, o);
  EventLog copy = log;
  const Interactions released = BuildInteractions(copy, o, &copy.events);
  EXPECT_TRUE(copy.events.empty());
  EXPECT_EQ(copy.events.capacity(), 0u);
  EXPECT_GT(kept.dropped_pairs, 0u);
  EXPECT_EQ(released.dropped_pairs, kept.dropped_pairs);
  for (auto [a, b] : {std::pair{&kept.user_items, &released.user_items}, std::pair{&kept.purchased, &released.purchased},
                      std::pair{&kept.item_users, &released.item_users}}) {
    EXPECT_EQ(a->rows, b->rows);
    EXPECT_EQ(a->indptr, b->indptr);
    EXPECT_EQ(a->indices, b->indices);
    EXPECT_EQ(a->values, b->values);
  }
  EXPECT_EQ(released.customers, kept.customers);
  EXPECT_EQ(released.products, kept.products);
  EXPECT_EQ(released.item_popularity, kept.item_popularity);
}

}  // namespace
}  // namespace aisle
