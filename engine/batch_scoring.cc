#include "engine/batch_scoring.h"

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace aisle {
namespace {

// M users against one block of 16 products.
template <int M>
inline void Block(const float* block, size_t k, const float* users, float* const* out) {
#if defined(__AVX512F__)
  __m512 acc[M];
  for (int j = 0; j < M; ++j) acc[j] = _mm512_setzero_ps();
  for (size_t f = 0; f < k; ++f) {
    const __m512 y = _mm512_loadu_ps(block + f * kScoreBlock);
    for (int j = 0; j < M; ++j) acc[j] = _mm512_fmadd_ps(y, _mm512_set1_ps(users[j * k + f]), acc[j]);
  }
  for (int j = 0; j < M; ++j) _mm512_storeu_ps(out[j], acc[j]);
#else
  float acc[M][kScoreBlock] = {};
  for (size_t f = 0; f < k; ++f) {
    for (int j = 0; j < M; ++j) {
      const float u = users[j * k + f];
      for (size_t l = 0; l < kScoreBlock; ++l) acc[j][l] += block[f * kScoreBlock + l] * u;
    }
  }
  for (int j = 0; j < M; ++j) std::copy(acc[j], acc[j] + kScoreBlock, out[j]);
#endif
}

template <int M>
void Users(const float* packed, size_t n, size_t k, const float* users, float* scores, size_t stride) {
  const size_t blocks = PaddedProducts(n) / kScoreBlock;
  float* out[M];
  for (size_t b = 0; b < blocks; ++b) {
    for (int j = 0; j < M; ++j) out[j] = scores + j * stride + b * kScoreBlock;
    Block<M>(packed + b * k * kScoreBlock, k, users, out);
  }
}

}  // namespace

std::vector<float> PackForScoring(const FactorMatrix& items) {
  const size_t n = static_cast<size_t>(items.rows()), k = static_cast<size_t>(items.cols());
  std::vector<float> packed(PaddedProducts(n) * k, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const size_t b = i / kScoreBlock, lane = i % kScoreBlock;
    for (size_t f = 0; f < k; ++f) packed[(b * k + f) * kScoreBlock + lane] = items(i, f);
  }
  return packed;
}

void ScorePacked(const float* packed, size_t n, size_t k, const float* users, size_t num_users, float* scores) {
  const size_t stride = PaddedProducts(n);
  // Up to 8 users per pass over the products: 8 accumulators, 1 load, broadcasts.
  for (size_t j = 0; j < num_users; j += 8) {
    const float* u = users + j * k;
    float* s = scores + j * stride;
    switch (std::min<size_t>(8, num_users - j)) {
      case 1: Users<1>(packed, n, k, u, s, stride); break;
      case 2: Users<2>(packed, n, k, u, s, stride); break;
      case 3: Users<3>(packed, n, k, u, s, stride); break;
      case 4: Users<4>(packed, n, k, u, s, stride); break;
      case 5: Users<5>(packed, n, k, u, s, stride); break;
      case 6: Users<6>(packed, n, k, u, s, stride); break;
      case 7: Users<7>(packed, n, k, u, s, stride); break;
      default: Users<8>(packed, n, k, u, s, stride); break;
    }
  }
}

}  // namespace aisle
