// CsrMatrix: a sparse rows x cols float matrix in compressed sparse row form.
// Column indexes within a row are sorted ascending and distinct.
// Plain data; concurrent const access is safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace aisle {

struct CsrMatrix {
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<uint64_t> indptr;   // size rows + 1
  std::vector<uint32_t> indices;  // size nnz
  std::vector<float> values;      // size nnz (may be empty for a pattern-only matrix)

  uint64_t nnz() const { return indices.size(); }
  uint32_t RowLength(uint32_t r) const { return static_cast<uint32_t>(indptr[r + 1] - indptr[r]); }
  absl::Span<const uint32_t> RowIndices(uint32_t r) const {
    return absl::MakeConstSpan(indices.data() + indptr[r], RowLength(r));
  }
  absl::Span<const float> RowValues(uint32_t r) const {
    return absl::MakeConstSpan(values.data() + indptr[r], RowLength(r));
  }
  // Bytes held by the arrays.
  uint64_t MemoryBytes() const {
    return indptr.size() * sizeof(uint64_t) + indices.size() * sizeof(uint32_t) +
           values.size() * sizeof(float);
  }
};

// Returns the transpose (cols x rows), rows sorted. O(nnz + rows + cols).
CsrMatrix Transpose(const CsrMatrix& m);

// Triplet (row, col, value); duplicates are summed by BuildCsr.
struct Triplet {
  uint32_t row;
  uint32_t col;
  float value;
};

// Builds a rows x cols CSR from triplets, summing duplicates. Entries whose
// summed value is not > `drop_at_or_below` are dropped when `drop` is true,
// and counted in `*dropped` when it is not null.
CsrMatrix BuildCsr(uint32_t rows, uint32_t cols, absl::Span<const Triplet> triplets,
                   bool drop = false, float drop_at_or_below = 0.0f, uint64_t* dropped = nullptr);

}  // namespace aisle
