// CRC-32C (Castagnoli) over byte ranges, used to detect corrupted model files.
// Uses the SSE4.2 crc32 instruction when the build targets it, a table otherwise.
// Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aisle {

// Extends `crc` (the value returned by a previous call, or 0 to start) over
// `n` bytes at `data`. Crc32c(Crc32c(0, a), b) == Crc32c(0, a ++ b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);

}  // namespace aisle
