#include "evaluation/scorer.h"

namespace aisle {
namespace {

class ModelScorer : public Scorer {
 public:
  explicit ModelScorer(const Model& m) : m_(m) {}
  void Score(uint32_t c, absl::Span<const uint32_t> items, float* out) const override {
    auto u = m_.users().row(c);
    for (size_t j = 0; j < items.size(); ++j) out[j] = u.dot(m_.items().row(items[j]));
  }
  void ScoreAll(uint32_t c, float* out) const override {
    Eigen::Map<Eigen::VectorXf>(out, m_.items().rows()).noalias() =
        m_.items() * m_.users().row(c).transpose();
  }
  std::string name() const override { return "model"; }

 private:
  const Model& m_;
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

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class RandomScorer : public Scorer {
 public:
  RandomScorer(const Model& m, uint64_t seed) : m_(m), seed_(seed) {}
  float One(uint32_t c, uint32_t i) const {
    return static_cast<float>(Mix(seed_ ^ (static_cast<uint64_t>(c) << 32 | i)) >> 40) * 0x1.0p-24f;
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
std::unique_ptr<Scorer> MakePopularityScorer(const Model& model) {
  return std::make_unique<PopularityScorer>(model);
}
std::unique_ptr<Scorer> MakeRandomScorer(const Model& model, uint64_t seed) {
  return std::make_unique<RandomScorer>(model, seed);
}

}  // namespace aisle
