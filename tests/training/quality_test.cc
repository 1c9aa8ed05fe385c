// Quality on planted structure: a trained model must rank each customer's
// held-out purchase far above where global popularity ranks it. A broken
// trainer (wrong normal equations, swapped factors, no training) fails this.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data/synthetic.h"
#include "engine/topk.h"
#include "evaluation/scorer.h"
#include "training/train_job.h"

namespace aisle {
namespace {

struct Split {
  EventLog train;
  std::vector<std::pair<std::string, std::string>> test;  // (customer id, product id)
};

// Holds out each customer's last purchase of a product they never bought before.
Split LeaveLastOut(const SyntheticData& d) {
  Split s;
  std::vector<int64_t> last(d.tastes.size(), -1);
  for (size_t e = 0; e < d.events.size(); ++e) {
    if (d.events[e].type == 0) last[d.events[e].customer] = static_cast<int64_t>(e);
  }
  std::vector<bool> held(d.events.size(), false);
  for (size_t c = 0; c < last.size(); ++c) {
    if (last[c] < 0) continue;
    const SyntheticEvent& h = d.events[last[c]];
    bool seen = false;
    for (size_t e = 0; e < d.events.size() && !seen; ++e) {
      seen = static_cast<int64_t>(e) != last[c] && d.events[e].customer == h.customer && d.events[e].product == h.product;
    }
    if (seen) continue;
    held[last[c]] = true;
    s.test.emplace_back(SyntheticCustomerId(h.customer), SyntheticProductId(h.product));
  }
  for (size_t e = 0; e < d.events.size(); ++e) {
    if (held[e]) continue;
    const SyntheticEvent& ev = d.events[e];
    uint32_t c = s.train.customers.Insert(SyntheticCustomerId(ev.customer));
    uint32_t p = s.train.products.Insert(SyntheticProductId(ev.product));
    s.train.events.push_back({c, p, ev.timestamp, static_cast<float>(ev.quantity), NAN,
                              static_cast<EventType>(ev.type), Channel::kUnknown, kNoCountry});
  }
  return s;
}

double HitRate(const Model& m, const Split& s, size_t k, bool popularity) {
  int hits = 0, n = 0;
  for (const auto& [cid, pid] : s.test) {
    auto c = m.customers.Find(cid);
    auto p = m.products.Find(pid);
    if (!c || !p) continue;
    ++n;
    std::vector<float> scores(m.products.size());
    (popularity ? MakePopularityScorer(m) : MakeModelScorer(m))->ScoreAll(*c, scores.data());
    auto recs = SelectTopK(scores, k, m.purchased.RowIndices(*c));
    hits += std::any_of(recs.begin(), recs.end(), [&](const ScoredItem& r) { return r.index == *p; });
  }
  return n == 0 ? 0 : static_cast<double>(hits) / n;
}

TEST(QualityTest, PlantedTastesAreRecoveredFarAbovePopularity) {
  SyntheticOptions o;
  o.customers = 3000;
  o.products = 1500;
  o.categories = 30;
  o.purchases = 60000;
  o.tastes_per_customer = 2;
  o.taste_share = 0.9;
  o.seed = 21;
  SyntheticData data = GenerateSynthetic(o);
  Split split = LeaveLastOut(data);
  ASSERT_GT(split.test.size(), 1500u);

  Interactions in = BuildInteractions(split.train, WeightingOptions());
  IalsOptions io;
  io.factors = 32;
  io.iterations = 10;
  io.objective.regularization = 1.0f;
  io.objective.alpha = 2.0f;
  IalsTrainer trainer(in.user_items, in.item_users, io);
  ASSERT_TRUE(trainer.Init().ok());
  for (int i = 0; i < io.iterations; ++i) trainer.Iterate(false);
  Model m = AssembleModel(split.train, std::move(in), trainer.TakeUserFactors(), trainer.TakeItemFactors());
  ASSERT_TRUE(m.Validate().ok());

  const double model_hr = HitRate(m, split, 20, false);
  const double pop_hr = HitRate(m, split, 20, true);
  std::printf("HR@20 model %.3f, popularity %.3f\n", model_hr, pop_hr);
  // 2 of 30 categories per customer: an oracle for the taste alone would
  // rank its category's products about 15x better than global popularity.
  EXPECT_GT(model_hr, 2.5 * pop_hr);
  EXPECT_GT(model_hr, 0.25);

  // An untrained model (random factors) must not pass the same bar.
  CsrMatrix ones = m.purchased;
  ones.values.assign(ones.nnz(), 1.0f);
  CsrMatrix ones_t = Transpose(ones);
  IalsTrainer random(ones, ones_t, io);
  ASSERT_TRUE(random.Init().ok());
  Model r = m;
  r.user_factors = random.user_factors();
  r.item_factors = random.item_factors();
  EXPECT_LT(HitRate(r, split, 20, false), 2.5 * pop_hr);
}

}  // namespace
}  // namespace aisle
