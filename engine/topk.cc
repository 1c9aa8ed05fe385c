#include "engine/topk.h"

#include <algorithm>
#include <cmath>

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
  size_t ex = 0;
  const uint32_t n = static_cast<uint32_t>(scores.size());
  for (uint32_t i = 0; i < n; ++i) {
    while (ex < excluded.size() && excluded[ex] < i) ++ex;
    if (ex < excluded.size() && excluded[ex] == i) continue;
    const float s = scores[i];
    if (std::isnan(s)) continue;
    ScoredItem c{i, s};
    if (heap.size() < k) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), Better);
    } else if (Better(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), Better);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), Better);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), Better);
  return heap;
}

}  // namespace aisle
