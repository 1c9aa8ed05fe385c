#include "evaluation/scorer.h"

#include <algorithm>
#include <vector>

#include "engine/product_scorer.h"
#include "engine/splitmix64.h"

namespace aisle {
namespace {

class ModelScorer : public Scorer {
 public:
  explicit ModelScorer(const Model& m) : scorer_(m) {}
  void Score(uint32_t c, absl::Span<const uint32_t> items, float* out) const override {
    for (size_t j = 0; j < items.size(); ++j) out[j] = scorer_.One(c, items[j]);
  }
  void ScoreAll(uint32_t c, float* out) const override { scorer_.Customer(c, out); }
  std::string name() const override { return "model"; }

 private:
  const ProductScorer scorer_;
};

class BuyAgainScorer : public Scorer {
 public:
  explicit BuyAgainScorer(const Model& m)
      : m_(m),
        scorer_(m),
        rule_(m.purchased, m.history, static_cast<uint32_t>(m.products.size()), m.buy_again, &m.neighbours) {}
  void Score(uint32_t c, absl::Span<const uint32_t> items, float* out) const override {
    std::vector<float> all(m_.products.size());
    ScoreAll(c, all.data());
    for (size_t j = 0; j < items.size(); ++j) out[j] = all[items[j]];
  }
  void ScoreAll(uint32_t c, float* out) const override { ScoreAllAt(c, m_.last_event_unix, out); }
  void ScoreAllAt(uint32_t c, int64_t now, float* out) const override {
    scorer_.Customer(c, out);
    rule_.Blend(BoughtBeforeOf(m_.purchased, m_.history, c), PurchaseDay(now), out, m_.products.size());
  }
  std::string name() const override { return "model"; }

 private:
  const Model& m_;
  const ProductScorer scorer_;
  const BuyAgain rule_;
};

// Scores below 1 that order products by `rank` (higher first).
std::vector<float> TieBreak(const std::vector<float>& rank) {
  float most = 0;
  for (float r : rank) most = std::max(most, r);
  std::vector<float> out(rank.size());
  for (size_t i = 0; i < rank.size(); ++i) out[i] = rank[i] / (most + 1);
  return out;
}

class PersonalTopFrequencyScorer : public Scorer {
 public:
  explicit PersonalTopFrequencyScorer(const Model& m) : m_(m), base_(TieBreak(m.item_popularity)) {}
  void Score(uint32_t c, absl::Span<const uint32_t> items, float* out) const override {
    std::vector<float> all(m_.products.size());
    ScoreAll(c, all.data());
    for (size_t j = 0; j < items.size(); ++j) out[j] = all[items[j]];
  }
  void ScoreAll(uint32_t c, float* out) const override {
    std::copy(base_.begin(), base_.end(), out);
    for (uint64_t p = m_.purchased.indptr[c]; p < m_.purchased.indptr[c + 1]; ++p) {
      out[m_.purchased.indices[p]] += m_.history.empty() ? 1.0f : static_cast<float>(m_.history.days[p]);
    }
  }
  std::string name() const override { return "ptopfreq"; }

 private:
  const Model& m_;
  const std::vector<float> base_;
};

std::vector<float> PurchaseOccasions(const Model& m) {
  std::vector<float> out(m.products.size(), 0);
  for (uint64_t p = 0; p < m.purchased.nnz(); ++p) {
    out[m.purchased.indices[p]] += m.history.empty() ? 1.0f : static_cast<float>(m.history.days[p]);
  }
  return out;
}

class TopFrequencyScorer : public Scorer {
 public:
  explicit TopFrequencyScorer(const Model& m) : occasions_(PurchaseOccasions(m)) {}
  void Score(uint32_t, absl::Span<const uint32_t> items, float* out) const override {
    for (size_t j = 0; j < items.size(); ++j) out[j] = occasions_[items[j]];
  }
  void ScoreAll(uint32_t, float* out) const override { std::copy(occasions_.begin(), occasions_.end(), out); }
  std::string name() const override { return "topfreq"; }

 private:
  const std::vector<float> occasions_;
};

class PopularityScorer : public Scorer {
 public:
  explicit PopularityScorer(const Model& m) : m_(m) {}
  void Score(uint32_t, absl::Span<const uint32_t> items, float* out) const override {
    for (size_t j = 0; j < items.size(); ++j) out[j] = m_.item_popularity[items[j]];
  }
  void ScoreAll(uint32_t, float* out) const override {
    std::copy(m_.item_popularity.begin(), m_.item_popularity.end(), out);
  }
  std::string name() const override { return "popularity"; }

 private:
  const Model& m_;
};

class RandomScorer : public Scorer {
 public:
  RandomScorer(const Model& m, uint64_t seed) : m_(m), seed_(seed) {}
  float One(uint32_t c, uint32_t i) const {
    return static_cast<float>(SplitMix64(seed_ ^ (static_cast<uint64_t>(c) << 32 | i)) >> 40) * 0x1.0p-24f;
  }
  void Score(uint32_t c, absl::Span<const uint32_t> items, float* out) const override {
    for (size_t j = 0; j < items.size(); ++j) out[j] = One(c, items[j]);
  }
  void ScoreAll(uint32_t c, float* out) const override {
    for (uint32_t i = 0; i < m_.products.size(); ++i) out[i] = One(c, i);
  }
  std::string name() const override { return "random"; }

 private:
  const Model& m_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Scorer> MakeModelScorer(const Model& model) { return std::make_unique<ModelScorer>(model); }
std::unique_ptr<Scorer> MakeBuyAgainScorer(const Model& model) {
  if (model.history.empty() || !model.buy_again.learnt()) return MakeModelScorer(model);
  return std::make_unique<BuyAgainScorer>(model);
}
std::unique_ptr<Scorer> MakePersonalTopFrequencyScorer(const Model& model) {
  return std::make_unique<PersonalTopFrequencyScorer>(model);
}
std::unique_ptr<Scorer> MakeTopFrequencyScorer(const Model& model) {
  return std::make_unique<TopFrequencyScorer>(model);
}
std::unique_ptr<Scorer> MakePopularityScorer(const Model& model) {
  return std::make_unique<PopularityScorer>(model);
}
std::unique_ptr<Scorer> MakeRandomScorer(const Model& model, uint64_t seed) {
  return std::make_unique<RandomScorer>(model, seed);
}

}  // namespace aisle
