// Scoring every product for a small batch of customers at once, reading
// the product factors once per batch. Product factors are packed at load
// time in blocks of 16 products, factor by factor (block b holds
// factor f of products 16b..16b+15 contiguously), so that a block is one
// 16 x k tile streamed once while each user's accumulators stay in
// registers; with AVX-512 a block row is one vector. No packing per call
// (unlike a general matrix product, which re-packs its large operand).
// Thread-safe: pure functions over caller-owned buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/topk.h"

namespace aisle {

inline constexpr size_t kScoreBlock = 16;

// Products rounded up to a multiple of kScoreBlock: the stride of the scores.
inline size_t PaddedProducts(size_t n) { return (n + kScoreBlock - 1) / kScoreBlock * kScoreBlock; }

// The packed form of `items` (n x k row-major): PaddedProducts(n) * k floats,
// padding products zero.
std::vector<float> PackForScoring(const FactorRef& items);

// scores[j * PaddedProducts(n) + i] = users[j] . items[i] for j < num_users,
// i < n (padding entries score 0). `users` holds num_users rows of k floats.
void ScorePacked(const float* packed, size_t n, size_t k, const float* users, size_t num_users, float* scores);

// Scoring fused with selection: for each user j, the pool[j] products with
// the highest scores (ties to the lower index), best first, skipping the
// sorted indexes in excluded[j] (or none when `excluded` is empty). No score
// array is written: each block's scores are compared, in registers, with
// the user's current k-th best and only the lanes that reach it are kept.
void SelectPacked(const float* packed, size_t n, size_t k, const float* users, size_t num_users,
                  absl::Span<const size_t> pool, absl::Span<const absl::Span<const uint32_t>> excluded,
                  std::vector<std::vector<ScoredItem>>* out);

// Reduced precision: the same layout with bfloat16 factor pairs (2 factors
// per 32-bit lane), scored with the AVX512_BF16 dot-product instruction:
// half the instructions and half the bytes of float32. Scores are
// approximate (8-bit mantissas): callers re-rank their top candidates with
// exact float32 dot products. Without AVX512_BF16 in the build, these fall
// back to an exact float32 computation (same results, no speed-up).
bool Bf16ScoringIsNative();
std::vector<uint16_t> PackForScoringBf16(const FactorRef& items);
void ScorePackedBf16(const uint16_t* packed, size_t n, size_t k, const float* users, size_t num_users, float* scores);
void SelectPackedBf16(const uint16_t* packed, size_t n, size_t k, const float* users, size_t num_users,
                      absl::Span<const size_t> pool, absl::Span<const absl::Span<const uint32_t>> excluded,
                      std::vector<std::vector<ScoredItem>>* out);

// int8 (AVX512_VNNI): product factors quantized to signed bytes with one
// scale per product, each request's factors to bytes with one scale per
// customer; 64 multiply-adds per instruction, twice bfloat16. Coarser than
// bfloat16 (a score error of ~1% of |u| |y|): for selecting candidates that
// are then re-ranked exactly. Without VNNI in the build: the same integer
// arithmetic in scalar code (same results, slow).
struct Int8Packed {
  size_t n = 0, k = 0, quads = 0;  // quads = k / 4 rounded up
  std::vector<int8_t> values;      // PaddedProducts(n) * quads * 4
  std::vector<float> scale;        // per product (padding: 0)
  std::vector<int32_t> correction; // per product: 128 * sum of its values
};
bool Int8ScoringIsNative();
Int8Packed PackForScoringInt8(const FactorRef& items);
void SelectPackedInt8(const Int8Packed& packed, const float* users, size_t num_users, absl::Span<const size_t> pool,
                      absl::Span<const absl::Span<const uint32_t>> excluded, std::vector<std::vector<ScoredItem>>* out);

}  // namespace aisle
