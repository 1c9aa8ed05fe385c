#include "engine/batch_scoring.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace aisle {
namespace {

// Where a kernel's block results go. A sink gets, for user j (of the pass)
// and block b, the 16 scores as a vector (AVX-512) or as floats.
struct StoreSink {
  float* scores;  // user 0 of the pass
  size_t stride;
#if defined(__AVX512F__)
  static constexpr bool kFromTile = false;
  void Vector(int j, size_t b, __m512 v) { _mm512_storeu_ps(scores + j * stride + b * kScoreBlock, v); }
#endif
  void Lanes(int j, size_t b, const float* v) { std::copy(v, v + kScoreBlock, scores + j * stride + b * kScoreBlock); }
};

// Offers the lanes that reach each user's threshold to that user's collector.
struct SelectSink {
  TopKCollector* collectors;  // user 0 of the pass
  size_t n;                   // real products (the last block may be padding)
#if defined(__AVX512F__)
  // Offering may call out of line, so the kernel first parks its
  // accumulators in an L1 tile (otherwise the compiler keeps them in memory
  // for the whole block): see Emit().
  static constexpr bool kFromTile = true;
  void Vector(int j, size_t b, __m512 v) {
    __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_set1_ps(collectors[j].threshold()), _CMP_GE_OQ);
    if (__builtin_expect(m == 0, 1)) return;
    const size_t base = b * kScoreBlock;
    if (base + kScoreBlock > n) m &= static_cast<__mmask16>((1u << (n - base)) - 1);
    alignas(64) float lanes[kScoreBlock];
    _mm512_store_ps(lanes, v);
    while (m != 0) {
      const int lane = __builtin_ctz(m);
      m &= m - 1;
      collectors[j].Offer(static_cast<uint32_t>(base + lane), lanes[lane]);
    }
  }
#endif
  void Lanes(int j, size_t b, const float* v) {
    const size_t base = b * kScoreBlock;
    for (size_t l = 0; l < kScoreBlock && base + l < n; ++l) collectors[j].Offer(static_cast<uint32_t>(base + l), v[l]);
  }
};

#if defined(__AVX512F__)
// Hands a block's M accumulators to the sink.
template <int M, class Sink>
inline void Emit(__m512 (&acc)[M], size_t b, Sink& sink) {
  if constexpr (Sink::kFromTile) {
    alignas(64) float tile[M][kScoreBlock];
    for (int j = 0; j < M; ++j) _mm512_store_ps(tile[j], acc[j]);
    for (int j = 0; j < M; ++j) sink.Vector(j, b, _mm512_load_ps(tile[j]));
  } else {
    for (int j = 0; j < M; ++j) sink.Vector(j, b, acc[j]);
  }
}
#endif

// M users against one block of 16 products.
template <int M, class Sink>
inline void Block(const float* block, size_t k, const float* users, size_t b, Sink& sink) {
#if defined(__AVX512F__)
  __m512 acc[M];
  for (int j = 0; j < M; ++j) acc[j] = _mm512_setzero_ps();
  for (size_t f = 0; f < k; ++f) {
    const __m512 y = _mm512_loadu_ps(block + f * kScoreBlock);
    for (int j = 0; j < M; ++j) acc[j] = _mm512_fmadd_ps(y, _mm512_set1_ps(users[j * k + f]), acc[j]);
  }
  Emit<M>(acc, b, sink);
#else
  float acc[M][kScoreBlock] = {};
  for (size_t f = 0; f < k; ++f) {
    for (int j = 0; j < M; ++j) {
      const float u = users[j * k + f];
      for (size_t l = 0; l < kScoreBlock; ++l) acc[j][l] += block[f * kScoreBlock + l] * u;
    }
  }
  for (int j = 0; j < M; ++j) sink.Lanes(j, b, acc[j]);
#endif
}

// Blocks [b0, b1) for M users.
template <int M, class Sink>
void Users(const float* packed, size_t b0, size_t b1, size_t k, const float* users, Sink& sink) {
  for (size_t b = b0; b < b1; ++b) Block<M>(packed + b * k * kScoreBlock, k, users, b, sink);
}

// float -> bfloat16, round to nearest even (NaN kept a NaN).
inline uint16_t ToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu) != 0) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

[[maybe_unused]] inline float FromBf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// M users against one block: pairs = k / 2 rounded up; user pairs packed
// as 32-bit words (low half: even factor).
template <int M, class Sink>
inline void BlockBf16(const uint16_t* block, size_t pairs, const uint32_t* users, size_t b, Sink& sink) {
#if defined(__AVX512BF16__)
  __m512 acc[M];
  for (int j = 0; j < M; ++j) acc[j] = _mm512_setzero_ps();
  for (size_t p = 0; p < pairs; ++p) {
    const __m512bh y = (__m512bh)_mm512_loadu_si512(block + p * 2 * kScoreBlock);
    for (int j = 0; j < M; ++j) {
      acc[j] = _mm512_dpbf16_ps(acc[j], y, (__m512bh)_mm512_set1_epi32(static_cast<int>(users[j * pairs + p])));
    }
  }
  Emit<M>(acc, b, sink);
#else
  for (int j = 0; j < M; ++j) {
    float out[kScoreBlock];
    for (size_t l = 0; l < kScoreBlock; ++l) {
      float acc = 0;
      for (size_t p = 0; p < pairs; ++p) {
        const uint32_t u = users[j * pairs + p];
        acc += FromBf16(block[(p * kScoreBlock + l) * 2]) * FromBf16(static_cast<uint16_t>(u & 0xFFFF)) +
               FromBf16(block[(p * kScoreBlock + l) * 2 + 1]) * FromBf16(static_cast<uint16_t>(u >> 16));
      }
      out[l] = acc;
    }
    sink.Lanes(j, b, out);
  }
#endif
}

template <int M, class Sink>
void UsersBf16(const uint16_t* packed, size_t b0, size_t b1, size_t pairs, const uint32_t* users, Sink& sink) {
  for (size_t b = b0; b < b1; ++b) BlockBf16<M>(packed + b * pairs * 2 * kScoreBlock, pairs, users, b, sink);
}

// int8 (AVX512_VNNI): M users against one block. Block layout: quads =
// k / 4 rounded up rows of 64 bytes, row q holding factors 4q..4q+3 of the
// 16 products (signed, per-product scale). Users come as unsigned bytes
// (value + 128) packed 4 to a word; the +128 is taken back with the
// per-product correction 128 * sum(q).
template <int M, class Sink>
inline void BlockInt8(const int8_t* block, size_t quads, const uint32_t* users, const float* scale,
                      const int32_t* correction, const float* user_scale, size_t b, Sink& sink) {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  __m512i acc[M];
  for (int j = 0; j < M; ++j) acc[j] = _mm512_setzero_si512();
  for (size_t q = 0; q < quads; ++q) {
    const __m512i y = _mm512_loadu_si512(block + q * 4 * kScoreBlock);
    for (int j = 0; j < M; ++j) {
      acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_set1_epi32(static_cast<int>(users[j * quads + q])), y);
    }
  }
  const __m512 s = _mm512_loadu_ps(scale);
  const __m512i c = _mm512_loadu_si512(correction);
  __m512 out[M];
  for (int j = 0; j < M; ++j) {
    out[j] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j], c)), _mm512_mul_ps(s, _mm512_set1_ps(user_scale[j])));
  }
  Emit<M>(out, b, sink);
#else
  for (int j = 0; j < M; ++j) {
    float out[kScoreBlock];
    for (size_t l = 0; l < kScoreBlock; ++l) {
      int32_t acc = 0;
      for (size_t q = 0; q < quads; ++q) {
        const uint32_t u = users[j * quads + q];
        for (int f = 0; f < 4; ++f) {
          acc += static_cast<int32_t>((u >> (8 * f)) & 0xFF) * block[(q * kScoreBlock + l) * 4 + f];
        }
      }
      out[l] = static_cast<float>(acc - correction[l]) * (scale[l] * user_scale[j]);
    }
    sink.Lanes(j, b, out);
  }
#endif
}

template <int M, class Sink>
void UsersInt8(const Int8Packed& p, size_t b0, size_t b1, const uint32_t* users, const float* user_scale, Sink& sink) {
  for (size_t b = b0; b < b1; ++b) {
    BlockInt8<M>(p.values.data() + b * p.quads * 4 * kScoreBlock, p.quads, users, p.scale.data() + b * kScoreBlock,
                 p.correction.data() + b * kScoreBlock, user_scale, b, sink);
  }
}

// Runs `pass(M, user offset, b0, b1)` over the users, up to 8 users per pass
// (8 accumulators, 1 load, broadcasts), product chunk by product chunk: all
// passes over one chunk of blocks (64 blocks, 1024 products: 128-256 KB,
// L2-resident) before the next, so a batch of any size streams the product
// factors from memory once.
// Chunking pays only when selecting: writing scores, the chunks would jump
// between the users' score arrays (measured: bench/topk_bench.cc).
template <class Pass>
void InPasses(size_t n, size_t num_users, bool chunked, Pass pass) {
  const size_t blocks = PaddedProducts(n) / kScoreBlock;
  const size_t chunk = chunked ? 64 : blocks;
  for (size_t b0 = 0; b0 < blocks; b0 += chunk) {
    const size_t b1 = std::min(blocks, b0 + chunk);
    for (size_t j = 0; j < num_users; j += 8) pass(std::min<size_t>(8, num_users - j), j, b0, b1);
  }
}

#define AISLE_DISPATCH_M(m, call)        \
  switch (m) {                           \
    case 1: { constexpr int M = 1; call; } break; \
    case 2: { constexpr int M = 2; call; } break; \
    case 3: { constexpr int M = 3; call; } break; \
    case 4: { constexpr int M = 4; call; } break; \
    case 5: { constexpr int M = 5; call; } break; \
    case 6: { constexpr int M = 6; call; } break; \
    case 7: { constexpr int M = 7; call; } break; \
    default: { constexpr int M = 8; call; } break; \
  }

std::vector<uint32_t> PackUsersBf16(const float* users, size_t num_users, size_t k) {
  const size_t pairs = (k + 1) / 2;
  std::vector<uint32_t> u(num_users * pairs, 0);
  for (size_t j = 0; j < num_users; ++j) {
    for (size_t f = 0; f < k; ++f) {
      u[j * pairs + f / 2] |= static_cast<uint32_t>(ToBf16(users[j * k + f])) << (16 * (f % 2));
    }
  }
  return u;
}

std::vector<TopKCollector> MakeCollectors(absl::Span<const size_t> pool,
                                          absl::Span<const absl::Span<const uint32_t>> excluded) {
  std::vector<TopKCollector> c;
  c.reserve(pool.size());
  for (size_t j = 0; j < pool.size(); ++j) c.emplace_back(pool[j], excluded.empty() ? absl::Span<const uint32_t>() : excluded[j]);
  return c;
}

}  // namespace

std::vector<float> PackForScoring(const FactorRef& items) {
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
  InPasses(n, num_users, /*chunked=*/false, [&](size_t m, size_t j, size_t b0, size_t b1) {
    StoreSink sink{scores + j * stride, stride};
    AISLE_DISPATCH_M(m, (Users<M>(packed, b0, b1, k, users + j * k, sink)));
  });
}

void SelectPacked(const float* packed, size_t n, size_t k, const float* users, size_t num_users,
                  absl::Span<const size_t> pool, absl::Span<const absl::Span<const uint32_t>> excluded,
                  std::vector<std::vector<ScoredItem>>* out) {
  std::vector<TopKCollector> c = MakeCollectors(pool, excluded);
  InPasses(n, num_users, /*chunked=*/true, [&](size_t m, size_t j, size_t b0, size_t b1) {
    SelectSink sink{c.data() + j, n};
    AISLE_DISPATCH_M(m, (Users<M>(packed, b0, b1, k, users + j * k, sink)));
  });
  out->resize(num_users);
  for (size_t j = 0; j < num_users; ++j) (*out)[j] = c[j].Take();
}

bool Bf16ScoringIsNative() {
#if defined(__AVX512BF16__)
  return true;
#else
  return false;
#endif
}

std::vector<uint16_t> PackForScoringBf16(const FactorRef& items) {
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
  const std::vector<uint32_t> u = PackUsersBf16(users, num_users, k);
  InPasses(n, num_users, /*chunked=*/false, [&](size_t m, size_t j, size_t b0, size_t b1) {
    StoreSink sink{scores + j * stride, stride};
    AISLE_DISPATCH_M(m, (UsersBf16<M>(packed, b0, b1, pairs, u.data() + j * pairs, sink)));
  });
}

void SelectPackedBf16(const uint16_t* packed, size_t n, size_t k, const float* users, size_t num_users,
                      absl::Span<const size_t> pool, absl::Span<const absl::Span<const uint32_t>> excluded,
                      std::vector<std::vector<ScoredItem>>* out) {
  const size_t pairs = (k + 1) / 2;
  const std::vector<uint32_t> u = PackUsersBf16(users, num_users, k);
  std::vector<TopKCollector> c = MakeCollectors(pool, excluded);
  InPasses(n, num_users, /*chunked=*/true, [&](size_t m, size_t j, size_t b0, size_t b1) {
    SelectSink sink{c.data() + j, n};
    AISLE_DISPATCH_M(m, (UsersBf16<M>(packed, b0, b1, pairs, u.data() + j * pairs, sink)));
  });
  out->resize(num_users);
  for (size_t j = 0; j < num_users; ++j) (*out)[j] = c[j].Take();
}

bool Int8ScoringIsNative() {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}

Int8Packed PackForScoringInt8(const FactorRef& items) {
  Int8Packed p;
  p.n = static_cast<size_t>(items.rows());
  p.k = static_cast<size_t>(items.cols());
  p.quads = (p.k + 3) / 4;
  const size_t padded = PaddedProducts(p.n);
  p.values.assign(padded * p.quads * 4, 0);
  p.scale.assign(padded, 0.0f);
  p.correction.assign(padded, 0);
  for (size_t i = 0; i < p.n; ++i) {
    const float max = items.row(i).cwiseAbs().maxCoeff();
    if (!(max > 0)) continue;
    const float inv = 127.0f / max;
    p.scale[i] = max / 127.0f;
    const size_t b = i / kScoreBlock, lane = i % kScoreBlock;
    int32_t sum = 0;
    for (size_t f = 0; f < p.k; ++f) {
      const int v = static_cast<int>(std::lrintf(items(i, f) * inv));
      const int8_t q = static_cast<int8_t>(std::clamp(v, -127, 127));
      p.values[((b * p.quads + f / 4) * kScoreBlock + lane) * 4 + f % 4] = q;
      sum += q;
    }
    p.correction[i] = 128 * sum;
  }
  return p;
}

void SelectPackedInt8(const Int8Packed& packed, const float* users, size_t num_users, absl::Span<const size_t> pool,
                      absl::Span<const absl::Span<const uint32_t>> excluded,
                      std::vector<std::vector<ScoredItem>>* out) {
  const size_t k = packed.k, quads = packed.quads;
  // Users: symmetric 8-bit, one scale each, shifted to unsigned; padding
  // factors are 0 (+128).
  std::vector<uint32_t> u(num_users * quads, 0);
  std::vector<float> user_scale(num_users, 0.0f);
  for (size_t j = 0; j < num_users; ++j) {
    float max = 0;
    for (size_t f = 0; f < k; ++f) max = std::max(max, std::abs(users[j * k + f]));
    const float inv = max > 0 ? 127.0f / max : 0.0f;
    user_scale[j] = max / 127.0f;
    for (size_t f = 0; f < quads * 4; ++f) {
      int v = 0;
      if (f < k) v = std::clamp(static_cast<int>(std::lrintf(users[j * k + f] * inv)), -127, 127);
      u[j * quads + f / 4] |= static_cast<uint32_t>(v + 128) << (8 * (f % 4));
    }
  }
  std::vector<TopKCollector> c = MakeCollectors(pool, excluded);
  InPasses(packed.n, num_users, /*chunked=*/true, [&](size_t m, size_t j, size_t b0, size_t b1) {
    SelectSink sink{c.data() + j, packed.n};
    AISLE_DISPATCH_M(m, (UsersInt8<M>(packed, b0, b1, u.data() + j * quads, user_scale.data() + j, sink)));
  });
  out->resize(num_users);
  for (size_t j = 0; j < num_users; ++j) (*out)[j] = c[j].Take();
}

}  // namespace aisle
