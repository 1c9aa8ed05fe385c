#include "server/recommendation_id.h"

#include <sys/random.h>

#include <cstdint>
#include <random>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace aisle {

std::string NewRecommendationId() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) {
      seed[0] = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    }
    std::seed_seq seq{seed[0], seed[1], static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&seed))};
    return std::mt19937_64(seq);
  }();
  const uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) & ((uint64_t{1} << 48) - 1);
  const uint64_t hi = rng(), lo = rng();
  // 128 bits: 48 of time, then 80 random (16 of hi, 64 of lo); 26 digits of 5 bits (the first holds 3).
  unsigned __int128 v = (static_cast<unsigned __int128>(ms) << 80) |
                        (static_cast<unsigned __int128>(hi & 0xFFFF) << 64) | lo;
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<unsigned>(v & 31)];
    v >>= 5;
  }
  return out;
}

}  // namespace aisle
