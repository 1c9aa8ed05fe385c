// Buy again on planted structure, trained end to end: every customer buys
// milk every 7 days, a kettle once, and a few products at random. The
// trained model must learn buy-again on validation, show the milk when it is
// due and not the day after, never show a kettle again, take a live
// purchase of milk out of "due" at once, and keep every purchase out with
// exclude_purchased=all. Also: the model file keeps the history and refuses
// one that lies about it; the features and fits behave as documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "engine/buy_again.h"
#include "absl/strings/str_cat.h"
#include "engine/model_io.h"
#include "engine/offer_ranker.h"
#include "engine/recommender.h"
#include "evaluation/scorer.h"
#include "tests/test_util.h"
#include "training/buy_again_fit.h"
#include "training/train_job.h"

namespace aisle {
namespace {

constexpr int kCustomers = 300;
constexpr int kWeeks = 12;
constexpr int64_t kStart = 1700006400;  // a midnight, UTC (day 19676)

struct Store {
  EventLog log;
  std::vector<int32_t> last_milk;  // per customer: the day of their last milk purchase
  std::vector<std::string> kettle; // per customer: the kettle they bought
};

Store PlantedStore() {
  Store s;
  std::mt19937 rng(7);
  auto add = [&](int c, const std::string& product, int64_t t) {
    const uint32_t ci = s.log.customers.Insert("c" + std::to_string(c));
    const uint32_t pi = s.log.products.Insert(product);
    s.log.events.push_back({ci, pi, t, 1.0f, NAN, EventType::kPurchase, Channel::kUnknown, kNoCountry});
  };
  for (int c = 0; c < kCustomers; ++c) {
    const int offset = static_cast<int>(rng() % 7);
    int32_t last = 0;
    for (int w = 0; w < kWeeks; ++w) {
      const int day = w * 7 + offset;
      const int64_t t = kStart + int64_t{day} * kSecondsPerDay + 3600;
      add(c, "milk", t);
      last = PurchaseDay(t);
      // Two of forty products at random the same day (rarely the same twice).
      for (int k = 0; k < 2; ++k) add(c, "p" + std::to_string(rng() % 40), t + 60);
    }
    s.kettle.push_back("kettle" + std::to_string(c % 10));
    add(c, s.kettle.back(), kStart + int64_t{(c % 50)} * kSecondsPerDay + 7200);
    s.last_milk.push_back(last);
  }
  return s;
}

TrainJobOptions Options() {
  TrainJobOptions o;
  o.ials.factors = 8;
  o.ials.iterations = 5;
  o.log = nullptr;
  return o;
}

class BuyAgainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_ = new Store(PlantedStore());
    auto r = TrainOnLog(store_->log, LoadStats{}, Options());
    ASSERT_TRUE(r.ok()) << r.status();
    model_ = std::make_shared<const Model>(std::move(r->model));
    auto rec = Recommender::Create(model_, nullptr);
    ASSERT_TRUE(rec.ok()) << rec.status();
    rec_ = *rec;
  }
  static void TearDownTestSuite() {
    delete store_;
    rec_.reset();
    model_.reset();
  }
  // The products of customer c's answer at `day` (noon).
  static std::vector<std::string> Answer(int c, int32_t day, PurchasedProducts mode, const LiveProfile* live = nullptr,
                                         std::vector<Recommendation>* items = nullptr, size_t count = 10) {
    RecommendOptions o;
    o.count = count;
    o.purchased = mode;
    o.now = int64_t{day} * kSecondsPerDay + 43200;
    auto a = rec_->Recommend("c" + std::to_string(c), o, live);
    EXPECT_TRUE(a.ok()) << a.status();
    std::vector<std::string> ids;
    if (!a.ok()) return ids;
    for (const Recommendation& x : a->result.items) ids.push_back(model_->products.id(x.product));
    if (items != nullptr) *items = a->result.items;
    return ids;
  }
  static bool Has(const std::vector<std::string>& v, const std::string& id) {
    return std::find(v.begin(), v.end(), id) != v.end();
  }
  static Store* store_;
  static std::shared_ptr<const Model> model_;
  static std::shared_ptr<const Recommender> rec_;
};
Store* BuyAgainTest::store_ = nullptr;
std::shared_ptr<const Model> BuyAgainTest::model_;
std::shared_ptr<const Recommender> BuyAgainTest::rec_;

TEST_F(BuyAgainTest, LearntOnValidationAndKeptInTheModelFile) {
  ASSERT_TRUE(model_->buy_again.learnt());
  ASSERT_NE(rec_->buy_again(), nullptr);
  const nlohmann::json& v = model_->metadata["buy_again"]["validation"];
  EXPECT_EQ(v["customers"], kCustomers) << v.dump();
  // Milk is in every held-out basket: the blend finds it, the model alone
  // (purchases excluded) cannot.
  EXPECT_GT(v["chosen"]["recall@10"].get<double>(), v["model_new_only"]["recall@10"].get<double>() + 0.2) << v.dump();
  const uint32_t milk = *model_->products.Find("milk");
  EXPECT_NEAR(rec_->buy_again()->product(milk).interval_days, 7.0, 0.5);
  EXPECT_GT(rec_->buy_again()->product(milk).observed_rate, 0.9);
  const uint32_t kettle = *model_->products.Find("kettle0");
  EXPECT_EQ(rec_->buy_again()->product(kettle).observed_rate, 0.0f);

  testing::TempDir dir;
  const std::string path = dir.path() + "/m.model";
  ASSERT_TRUE(WriteModel(*model_, path).ok());
  auto back = MapModel(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->history.days, model_->history.days);
  EXPECT_EQ(back->history.last_day, model_->history.last_day);
  EXPECT_EQ(back->history.recent, model_->history.recent);
  EXPECT_EQ(back->history.customer_days, model_->history.customer_days);
  EXPECT_EQ(back->history.reference_day, model_->history.reference_day);
  EXPECT_EQ(back->buy_again.weights, model_->buy_again.weights);
}

TEST_F(BuyAgainTest, MilkWhenDueAndNotTheDayAfter) {
  int due_shown = 0, day_after_shown = 0, default_due = 0;
  for (int c = 0; c < 40; ++c) {
    const int32_t last = store_->last_milk[c];
    std::vector<Recommendation> items;
    const auto due = Answer(c, last + 7, PurchasedProducts::kOnly, nullptr, &items);
    if (!due.empty() && due[0] == "milk") {
      ++due_shown;
      ASSERT_TRUE(items[0].repurchase.has_value());
      EXPECT_EQ(items[0].repurchase->times, static_cast<uint32_t>(kWeeks));
      EXPECT_EQ(items[0].repurchase->days_since, 7);
      EXPECT_NEAR(items[0].repurchase->every_days, 7.0, 0.5);
    }
    day_after_shown += Has(Answer(c, last + 1, PurchasedProducts::kOnly), "milk");
    day_after_shown += Has(Answer(c, last + 1, PurchasedProducts::kDue), "milk");
    default_due += Has(Answer(c, last + 7, PurchasedProducts::kDue), "milk");
    EXPECT_FALSE(Has(Answer(c, last + 7, PurchasedProducts::kAll), "milk"));
  }
  EXPECT_EQ(due_shown, 40);     // first among the products bought before, when due
  EXPECT_EQ(default_due, 40);   // and in the default answer
  EXPECT_EQ(day_after_shown, 0);
}

TEST_F(BuyAgainTest, AKettleIsNeverShownAgain) {
  for (int c = 0; c < 40; ++c) {
    for (int32_t later : {1, 7, 30, 365}) {
      const int32_t day = store_->last_milk[c] + later;
      // Every product bought before that is due (a customer has about 25).
      const auto due = Answer(c, day, PurchasedProducts::kOnly, nullptr, nullptr, 100);
      if (later >= 7) {
        EXPECT_GE(due.size(), 10u);
      }
      EXPECT_FALSE(Has(due, store_->kettle[c]));
      EXPECT_FALSE(Has(Answer(c, day, PurchasedProducts::kDue), store_->kettle[c]));
    }
  }
}

TEST_F(BuyAgainTest, ALivePurchaseIsNotDueAtOnce) {
  const int c = 3;
  const int32_t due_day = store_->last_milk[c] + 7;
  ASSERT_TRUE(Has(Answer(c, due_day, PurchasedProducts::kDue), "milk"));
  LiveProfile live;
  live.products = {*model_->products.Find("milk")};
  live.weights = {1.0f};
  live.purchased = live.products;
  live.events = 1;
  EXPECT_FALSE(Has(Answer(c, due_day, PurchasedProducts::kDue, &live), "milk"));
  EXPECT_FALSE(Has(Answer(c, due_day, PurchasedProducts::kOnly, &live), "milk"));
  // An unknown customer who bought milk live: not due today either.
  RecommendOptions o;
  o.purchased = PurchasedProducts::kOnly;
  o.now = int64_t{due_day} * kSecondsPerDay;
  auto a = rec_->Recommend("someone-new", o, &live);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->result.items.empty());
}

TEST_F(BuyAgainTest, TheBatchPathAnswersAlike) {
  std::vector<CustomerRequest> reqs;
  for (int c = 0; c < 20; ++c) {
    CustomerRequest q;
    q.customer_id = "c" + std::to_string(c);
    q.options.now = int64_t{store_->last_milk[c] + 7} * kSecondsPerDay + 43200;
    q.options.purchased = c % 3 == 0 ? PurchasedProducts::kOnly : PurchasedProducts::kDue;
    reqs.push_back(q);
  }
  auto batch = rec_->RecommendBatch(reqs);
  for (size_t j = 0; j < reqs.size(); ++j) {
    auto one = rec_->Recommend(reqs[j].customer_id, reqs[j].options);
    ASSERT_TRUE(batch[j].ok() && one.ok());
    ASSERT_EQ(batch[j]->result.items.size(), one->result.items.size());
    for (size_t k = 0; k < one->result.items.size(); ++k) {
      EXPECT_EQ(batch[j]->result.items[k].product, one->result.items[k].product);
    }
  }
}

// A server's recommender keeps each customer's list with their buy-again
// state and each day's due products; its answers must be those of the
// recommender without lists, to the bit, on every day, mode and filter.
// Returns the recommender with lists (customers 0..59 asked about).
std::shared_ptr<const Recommender> ExpectCachedAnswersAlike(const std::shared_ptr<const Model>& model,
                                                            const Store& store) {
  auto plain = Recommender::Create(model, nullptr);
  Recommender::Options lo;
  lo.top_list_length = 32;
  auto made = Recommender::Create(model, nullptr, lo);
  EXPECT_TRUE(plain.ok() && made.ok());
  if (!plain.ok() || !made.ok()) return nullptr;
  const std::shared_ptr<const Recommender> cached = *made;
  EXPECT_NE(cached->customer_cache(), nullptr);
  std::vector<uint32_t> half;  // warmed; the others cached by their first request
  for (int c = 0; c < kCustomers; c += 2) half.push_back(*model->customers.Find("c" + std::to_string(c)));
  cached->WarmCustomers(half);
  size_t compared = 0, due_items = 0;
  for (int c = 0; c < 60; ++c) {
    for (int32_t later : {1, 3, 7, 30}) {
      for (PurchasedProducts mode : {PurchasedProducts::kDue, PurchasedProducts::kOnly}) {
        for (size_t count : {size_t{5}, size_t{10}, size_t{40}}) {
          for (bool exclude_milk : {false, true}) {
            RecommendOptions o;
            o.count = count;
            o.purchased = mode;
            o.now = int64_t{store.last_milk[c] + later} * kSecondsPerDay + 43200;
            if (exclude_milk) o.exclude = {"milk"};
            const std::string id = "c" + std::to_string(c);
            auto want = (*plain)->Recommend(id, o);
            for (int pass = 0; pass < 2; ++pass) {  // filling the cache, then from it
              auto got = cached->Recommend(id, o);
              EXPECT_TRUE(want.ok() && got.ok());
              if (!want.ok() || !got.ok()) return cached;
              EXPECT_EQ(got->result.items.size(), want->result.items.size()) << id << " day +" << later;
              for (size_t k = 0; k < std::min(want->result.items.size(), got->result.items.size()); ++k) {
                const Recommendation& w = want->result.items[k];
                const Recommendation& g = got->result.items[k];
                EXPECT_EQ(g.product, w.product) << id << " day +" << later << " rank " << k;
                EXPECT_EQ(g.score, w.score) << id << " day +" << later << " rank " << k;
                EXPECT_EQ(g.repurchase.has_value(), w.repurchase.has_value());
                if (w.repurchase && g.repurchase) {
                  ++due_items;
                  EXPECT_EQ(g.repurchase->days_since, w.repurchase->days_since);
                  EXPECT_EQ(g.repurchase->every_days, w.repurchase->every_days);
                }
              }
              ++compared;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(compared, 60u * 4 * 2 * 3 * 2 * 2);
  EXPECT_GT(due_items, 1000u);  // the comparison saw due products
  // Every customer asked about holds a list with its state now.
  for (int c = 0; c < 60; ++c) {
    auto list = cached->customer_cache()->Peek(*model->customers.Find("c" + std::to_string(c)));
    EXPECT_TRUE(list != nullptr && list->repurchase != nullptr) << c;
  }
  return cached;
}

TEST_F(BuyAgainTest, CachedListsAnswerAsScoringDoes) {
  const std::shared_ptr<const Recommender> cached = ExpectCachedAnswersAlike(model_, *store_);
  ASSERT_NE(cached, nullptr);
  // A live purchase is read at once despite the cached state.
  LiveProfile live;
  live.products = {*model_->products.Find("milk")};
  live.weights = {1.0f};
  live.purchased = live.products;
  live.events = 1;
  RecommendOptions o;
  o.now = int64_t{store_->last_milk[3] + 7} * kSecondsPerDay + 43200;
  auto before = cached->Recommend("c3", o);
  auto after = cached->Recommend("c3", o, &live);
  ASSERT_TRUE(before.ok() && after.ok());
  auto has_milk = [&](const CustomerAnswer& a) {
    for (const Recommendation& x : a.result.items) {
      if (model_->products.id(x.product) == "milk") return true;
    }
    return false;
  };
  EXPECT_TRUE(has_milk(*before));
  EXPECT_FALSE(has_milk(*after));
}

TEST_F(BuyAgainTest, CachedDueListsUnderConcurrentRequests) {
  // Requests for the same customers on alternating days from four threads:
  // each day's due products replace the last day's in the shared state
  // while other requests read it; every answer is the uncached one.
  Recommender::Options lo;
  lo.top_list_length = 32;
  auto made = Recommender::Create(model_, nullptr, lo);
  ASSERT_TRUE(made.ok());
  const std::shared_ptr<const Recommender> cached = *made;
  auto options = [&](int c, int k) {
    RecommendOptions o;
    o.now = int64_t{store_->last_milk[c] + (k % 2 == 0 ? 1 : 7)} * kSecondsPerDay + 43200;
    return o;
  };
  constexpr int kAsked = 8;
  std::vector<std::vector<std::vector<uint32_t>>> want(kAsked, std::vector<std::vector<uint32_t>>(2));
  for (int c = 0; c < kAsked; ++c) {
    for (int k = 0; k < 2; ++k) {
      auto a = rec_->Recommend("c" + std::to_string(c), options(c, k));
      ASSERT_TRUE(a.ok());
      for (const Recommendation& x : a->result.items) want[c][k].push_back(x.product);
    }
    ASSERT_NE(want[c][0], want[c][1]) << c;  // the two days differ (milk due on one)
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 400; ++k) {
        const int c = (k + t) % kAsked, day = (k / kAsked + t) % 2;
        auto a = cached->Recommend("c" + std::to_string(c), options(c, day));
        std::vector<uint32_t> got;
        if (a.ok()) {
          for (const Recommendation& x : a->result.items) got.push_back(x.product);
        }
        wrong += got != want[c][day];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(BuyAgainTest, EvaluationRanksLikeServing) {
  // MakeBuyAgainScorer's ranking at a time is the default answer's.
  const std::unique_ptr<Scorer> s = MakeBuyAgainScorer(*model_);
  for (int c = 0; c < 10; ++c) {
    const uint32_t row = *model_->customers.Find("c" + std::to_string(c));
    const int32_t day = store_->last_milk[c] + 7;
    std::vector<float> scores(model_->products.size());
    s->ScoreAllAt(row, int64_t{day} * kSecondsPerDay + 43200, scores.data());
    const auto served = Answer(c, day, PurchasedProducts::kDue);
    std::vector<uint32_t> order;
    for (uint32_t p = 0; p < scores.size(); ++p) {
      if (!std::isnan(scores[p])) order.push_back(p);
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
    ASSERT_GE(order.size(), served.size());
    EXPECT_EQ(model_->products.id(order[0]), served[0]);
    EXPECT_EQ(served[0], "milk");
  }
}

TEST(PersonalTopFrequency, RanksTheCustomersMostBoughtFirstThenBestSellers) {
  Model m;
  for (const char* c : {"a", "b"}) m.customers.Insert(c);
  for (const char* p : {"x", "y", "z"}) m.products.Insert(p);
  m.purchased = BuildCsr(2, 3, {{0, 0, 1}, {0, 1, 1}, {1, 1, 1}});
  m.purchased.values.clear();
  m.item_popularity = {1, 2, 5};
  m.history.days = {1, 3, 2};
  m.history.first_day = {0, 0, 0};
  m.history.last_day = {0, 5, 5};
  m.history.recent = {1, 1, 1};
  m.history.customer_days = {3, 2};
  m.history.reference_day = 5;
  ASSERT_TRUE(m.history.Validate(m.purchased).ok());
  std::vector<float> s(3);
  MakePersonalTopFrequencyScorer(m)->ScoreAll(0, s.data());
  EXPECT_GT(s[1], s[0]);  // bought on 3 days before 1
  EXPECT_GT(s[0], s[2]);  // bought before the best seller never bought
  MakeTopFrequencyScorer(m)->ScoreAll(0, s.data());
  EXPECT_EQ(s, (std::vector<float>{1, 5, 0}));  // purchase days, all customers
  // A history that lies: more days than the days between first and last.
  m.history.days[0] = 2;
  EXPECT_FALSE(m.history.Validate(m.purchased).ok());
  m.history.days[0] = 1;
  m.history.recent[0] = NAN;
  EXPECT_FALSE(m.history.Validate(m.purchased).ok());
}

TEST(BuyAgainFit, ConditionalLogitRanksThePlantedFeature) {
  // Baskets of 20 candidates; the purchased one has the largest log_times.
  std::mt19937 rng(3);
  std::vector<BuyAgainVector> x;
  std::vector<uint8_t> y;
  std::vector<size_t> groups = {0};
  for (int b = 0; b < 200; ++b) {
    const int hit = static_cast<int>(rng() % 20);
    for (int r = 0; r < 20; ++r) {
      BuyAgainVector v{};
      v[kRepeatBias] = 1;
      v[kLogTimes] = static_cast<float>(rng() % 100) / 100.0f + (r == hit ? 0.8f : 0.0f);
      v[kLogSince] = static_cast<float>(rng() % 100) / 100.0f;  // noise
      x.push_back(v);
      y.push_back(r == hit);
    }
    groups.push_back(x.size());
  }
  const BuyAgainVector w = FitConditionalLogit(x, y, groups, 1e-3);
  EXPECT_GT(w[kLogTimes], 2.0f);
  EXPECT_LT(std::abs(w[kLogSince]), w[kLogTimes] / 4);
  for (float v : w) EXPECT_TRUE(std::isfinite(v));
}

TEST(BuyAgainParams, RefusesWeightsOutOfRange) {
  BuyAgainParams p;
  p.weights[kLogTimes] = 1.5f;
  auto back = BuyAgainParams::FromJson(p.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->weights, p.weights);
  nlohmann::json j = p.ToJson();
  j["weights"]["log_times"] = 1e30;
  EXPECT_FALSE(BuyAgainParams::FromJson(j).ok());
  j = p.ToJson();
  j["min_due_fraction"] = "half";
  EXPECT_FALSE(BuyAgainParams::FromJson(j).ok());
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

// Blend's shortcut for new products gives the logit of their features, bit for bit.
TEST_F(BuyAgainTest, NewLogitIsTheLogitOfTheFeatures) {
  const BuyAgain& rule = *rec_->buy_again();
  std::mt19937 rng(5);
  const uint32_t np = static_cast<uint32_t>(model_->products.size());
  for (int i = 0; i < 2000; ++i) {
    const uint32_t p = rng() % np;
    const float score = std::uniform_real_distribution<float>(-2, 2)(rng);
    const size_t rank = rng() % 300;
    const float affinity = i % 3 == 0 ? 0.0f : std::uniform_real_distribution<float>(0, 1)(rng);
    const float expected = rule.Logit(rule.NewFeatures(p, score, rank, affinity));
    EXPECT_EQ(rule.NewLogit(p, score, rank, affinity), expected) << p << " " << score << " " << rank << " " << affinity;
  }
  EXPECT_EQ(rule.NewLogit(0, NAN, 5, -1.0f), rule.Logit(rule.NewFeatures(0, NAN, 5, -1.0f)));
}

// Offers read the same signal: milk (bought every 7 days) drives its offer
// again when due and not the day after; the kettle never does, unless the
// catalog marks it repurchasable (the store's override).
TEST_F(BuyAgainTest, OffersShowWhatIsDueAgain) {
  const int c = 3;
  const std::string kettle = store_->kettle[c];
  auto ranker = [&](const std::string& marks) {
    const std::string json = absl::StrCat(R"({"repurchasable_products": [)", marks, R"(], "offers": [
      {"id": "dairy", "title": "t", "discount": {"percent": 5}, "products": ["milk"]},
      {"id": "kitchen", "title": "t", "discount": {"percent": 5}, "products": [")", kettle, R"("]}]})");
    auto cat = OfferCatalog::Parse(json, "offers.json");
    EXPECT_TRUE(cat.ok()) << cat.status();
    auto r = OfferRanker::Create(rec_, std::make_shared<const OfferCatalog>(std::move(*cat)));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  };
  auto ids = [&](const OfferRanker& r, int32_t day) {
    OfferOptions o;
    o.count = 5;
    o.now = absl::FromUnixSeconds(int64_t{day} * kSecondsPerDay + 43200);
    auto a = r.ForCustomer("c" + std::to_string(c), o);
    EXPECT_TRUE(a.ok()) << a.status();
    std::vector<std::string> out;
    if (a.ok()) {
      for (const RankedOffer& x : a->offers) out.push_back(r.catalog().offers()[x.offer].id);
    }
    return out;
  };
  const int32_t last = store_->last_milk[c];
  auto plain = ranker("");
  EXPECT_TRUE(Has(ids(*plain, last + 7), "dairy"));
  EXPECT_FALSE(Has(ids(*plain, last + 1), "dairy"));
  EXPECT_FALSE(Has(ids(*plain, last + 7), "kitchen"));
  EXPECT_FALSE(Has(ids(*plain, last + 60), "kitchen"));
  auto marked = ranker(absl::StrCat("\"", kettle, "\""));
  EXPECT_TRUE(Has(ids(*marked, last + 7), "kitchen"));
  const std::vector<uint32_t> due =
      rec_->DueProducts(model_->customers.Find("c" + std::to_string(c)), nullptr,
                        int64_t{last + 7} * kSecondsPerDay + 43200);
  EXPECT_TRUE(std::binary_search(due.begin(), due.end(), *model_->products.Find("milk")));
  EXPECT_FALSE(std::binary_search(due.begin(), due.end(), *model_->products.Find(kettle)));
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

// The same store under the item-item algorithms: buy-again is fitted on
// their scores, and the milk still comes when due and not the day after,
// the kettle never again.
TEST(BuyAgainItemItem, MilkWhenDueKettleNeverWhateverTheAlgorithm) {
  const Store store = PlantedStore();
  for (Algorithm algorithm : {Algorithm::kItemKnn, Algorithm::kEase}) {
    SCOPED_TRACE(AlgorithmName(algorithm));
    TrainJobOptions o = Options();
    o.algorithm = algorithm;
    auto trained = TrainOnLog(store.log, LoadStats{}, o);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_EQ(trained->model.algorithm, algorithm);
    ASSERT_TRUE(trained->model.buy_again.learnt());
    const auto model = std::make_shared<const Model>(std::move(trained->model));
    auto rec = Recommender::Create(model, nullptr);
    ASSERT_TRUE(rec.ok()) << rec.status();
    auto ids = [&](int c, int32_t day, PurchasedProducts mode) {
      RecommendOptions ro;
      ro.purchased = mode;
      ro.now = int64_t{day} * kSecondsPerDay + 43200;
      auto a = (*rec)->Recommend("c" + std::to_string(c), ro);
      EXPECT_TRUE(a.ok()) << a.status();
      std::vector<std::string> out;
      if (a.ok()) {
        for (const Recommendation& x : a->result.items) out.push_back((*rec)->model().products.id(x.product));
      }
      return out;
    };
    int due_first = 0, day_after = 0, kettles = 0;
    for (int c = 0; c < 40; ++c) {
      const int32_t last = store.last_milk[c];
      const auto due = ids(c, last + 7, PurchasedProducts::kOnly);
      due_first += !due.empty() && due[0] == "milk";
      day_after += Contains(ids(c, last + 1, PurchasedProducts::kDue), "milk");
      for (int32_t later : {7, 60}) kettles += Contains(ids(c, last + later, PurchasedProducts::kDue), store.kettle[c]);
    }
    EXPECT_EQ(due_first, 40);
    EXPECT_EQ(day_after, 0);
    EXPECT_EQ(kettles, 0);
    ExpectCachedAnswersAlike(model, store);
  }
}

}  // namespace
}  // namespace aisle
