#include "engine/topk.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace aisle {
namespace {

// "a ranks before b": higher score, then lower index.
inline bool Better(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

}  // namespace

std::vector<ScoredItem> SelectTopK(absl::Span<const float> scores, size_t k,
                                   absl::Span<const uint32_t> excluded) {
  std::vector<ScoredItem> heap;  // min-heap on Better: the worst kept item at the front
  if (k == 0) return heap;
  heap.reserve(std::min(k, scores.size()) + 1);
  const uint32_t n = static_cast<uint32_t>(scores.size());
  auto consider = [&](uint32_t i) {
    const float s = scores[i];
    if (std::isnan(s)) return;
    if (!excluded.empty() && std::binary_search(excluded.begin(), excluded.end(), i)) return;
    ScoredItem c{i, s};
    if (heap.size() < k) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), Better);
    } else if (Better(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), Better);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), Better);
    }
  };
  uint32_t i = 0;
#if defined(__AVX512F__)
  // Once the heap is full, a block of 16 scores is looked at only when one
  // of them reaches the worst kept score (ties matter for the index order).
  for (; i + 16 <= n; i += 16) {
    if (heap.size() == k) {
      const __m512 v = _mm512_loadu_ps(scores.data() + i);
      __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_set1_ps(heap.front().score), _CMP_GE_OQ);
      while (m != 0) {
        const int lane = __builtin_ctz(m);
        m &= m - 1;
        consider(i + static_cast<uint32_t>(lane));
      }
    } else {
      for (uint32_t j = i; j < i + 16; ++j) consider(j);
    }
  }
#endif
  for (; i < n; ++i) consider(i);
  std::sort_heap(heap.begin(), heap.end(), Better);
  return heap;
}

bool TopKCollector::Excluded(uint32_t index) const {
  return std::binary_search(excluded_.begin(), excluded_.end(), index);
}

void TopKCollector::Cut() {
  if (k_ == 0) {
    buffer_.clear();
    threshold_ = __builtin_inff();
    return;
  }
  if (buffer_.size() <= k_) return;
  std::nth_element(buffer_.begin(), buffer_.begin() + (k_ - 1), buffer_.end(), Better);
  buffer_.resize(k_);
  // Items scoring exactly the k-th score may still win on a lower index, so
  // they must still be offered: the threshold is inclusive.
  threshold_ = buffer_[k_ - 1].score;
}

std::vector<ScoredItem> TopKCollector::Take() {
  Cut();
  std::sort(buffer_.begin(), buffer_.end(), Better);
  return std::move(buffer_);
}

}  // namespace aisle
