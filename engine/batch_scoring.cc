#include "engine/batch_scoring.h"

#include <algorithm>
#include <cstring>

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

namespace {

// float -> bfloat16, round to nearest even (NaN kept a NaN).
inline uint16_t ToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu) != 0) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float FromBf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// M users against one block: pairs = k / 2 rounded up; user pairs packed
// as 32-bit words (low half: even factor).
template <int M>
inline void BlockBf16(const uint16_t* block, size_t pairs, const uint32_t* users, float* const* out) {
#if defined(__AVX512BF16__)
  __m512 acc[M];
  for (int j = 0; j < M; ++j) acc[j] = _mm512_setzero_ps();
  for (size_t p = 0; p < pairs; ++p) {
    const __m512bh y = (__m512bh)_mm512_loadu_si512(block + p * 2 * kScoreBlock);
    for (int j = 0; j < M; ++j) {
      acc[j] = _mm512_dpbf16_ps(acc[j], y, (__m512bh)_mm512_set1_epi32(static_cast<int>(users[j * pairs + p])));
    }
  }
  for (int j = 0; j < M; ++j) _mm512_storeu_ps(out[j], acc[j]);
#else
  for (int j = 0; j < M; ++j) {
    for (size_t l = 0; l < kScoreBlock; ++l) {
      float acc = 0;
      for (size_t p = 0; p < pairs; ++p) {
        const uint32_t u = users[j * pairs + p];
        acc += FromBf16(block[(p * kScoreBlock + l) * 2]) * FromBf16(static_cast<uint16_t>(u & 0xFFFF)) +
               FromBf16(block[(p * kScoreBlock + l) * 2 + 1]) * FromBf16(static_cast<uint16_t>(u >> 16));
      }
      out[j][l] = acc;
    }
  }
#endif
}

template <int M>
void UsersBf16(const uint16_t* packed, size_t n, size_t pairs, const uint32_t* users, float* scores, size_t stride) {
  const size_t blocks = PaddedProducts(n) / kScoreBlock;
  float* out[M];
  for (size_t b = 0; b < blocks; ++b) {
    for (int j = 0; j < M; ++j) out[j] = scores + j * stride + b * kScoreBlock;
    BlockBf16<M>(packed + b * pairs * 2 * kScoreBlock, pairs, users, out);
  }
}

}  // namespace

bool Bf16ScoringIsNative() {
#if defined(__AVX512BF16__)
  return true;
#else
  return false;
#endif
}

std::vector<uint16_t> PackForScoringBf16(const FactorMatrix& items) {
  const size_t n = static_cast<size_t>(items.rows()), k = static_cast<size_t>(items.cols());
  const size_t pairs = (k + 1) / 2;
  std::vector<uint16_t> packed(PaddedProducts(n) * pairs * 2, 0);
  for (size_t i = 0; i < n; ++i) {
    const size_t b = i / kScoreBlock, lane = i % kScoreBlock;
    for (size_t f = 0; f < k; ++f) {
      packed[((b * pairs + f / 2) * kScoreBlock + lane) * 2 + f % 2] = ToBf16(items(i, f));
    }
  }
  return packed;
}

void ScorePackedBf16(const uint16_t* packed, size_t n, size_t k, const float* users, size_t num_users, float* scores) {
  const size_t stride = PaddedProducts(n), pairs = (k + 1) / 2;
  std::vector<uint32_t> u(num_users * pairs, 0);
  for (size_t j = 0; j < num_users; ++j) {
    for (size_t f = 0; f < k; ++f) {
      u[j * pairs + f / 2] |= static_cast<uint32_t>(ToBf16(users[j * k + f])) << (16 * (f % 2));
    }
  }
  for (size_t j = 0; j < num_users; j += 8) {
    const uint32_t* uj = u.data() + j * pairs;
    float* s = scores + j * stride;
    switch (std::min<size_t>(8, num_users - j)) {
      case 1: UsersBf16<1>(packed, n, pairs, uj, s, stride); break;
      case 2: UsersBf16<2>(packed, n, pairs, uj, s, stride); break;
      case 3: UsersBf16<3>(packed, n, pairs, uj, s, stride); break;
      case 4: UsersBf16<4>(packed, n, pairs, uj, s, stride); break;
      case 5: UsersBf16<5>(packed, n, pairs, uj, s, stride); break;
      case 6: UsersBf16<6>(packed, n, pairs, uj, s, stride); break;
      case 7: UsersBf16<7>(packed, n, pairs, uj, s, stride); break;
      default: UsersBf16<8>(packed, n, pairs, uj, s, stride); break;
    }
  }
}

}  // namespace aisle
