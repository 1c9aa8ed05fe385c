#include "engine/experiment_assignment.h"

#include <cmath>
#include <limits>

#include "engine/splitmix64.h"

namespace aisle {

uint64_t StableHash(absl::string_view a, absl::string_view b, absl::string_view c) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  auto mix = [&h](absl::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 0x100000001b3ull;
    }
    // A separator no string part can forge: its length, then 0xFF.
    for (size_t n = s.size(), i = 0; i < 8; ++i, n >>= 8) {
      h ^= n & 0xFF;
      h *= 0x100000001b3ull;
    }
  };
  mix(a);
  mix(b);
  mix(c);
  // splitmix64 finalizer: FNV's low bits are weak, this spreads them.
  return SplitMix64Finalize(h);
}

int AssignVariant(absl::string_view salt, absl::string_view unit, absl::Span<const VariantWeight> variants) {
  // Shares of the positive weights: the scores -ln(u) / share stay finite
  // whatever the weights' scale (weights of 5e-324 have shares of 1/n).
  double total = 0;
  for (const VariantWeight& v : variants) {
    if (v.weight > 0 && std::isfinite(v.weight)) total += v.weight;
  }
  if (!(total > 0) || !std::isfinite(total)) return -1;
  int best = -1;
  double best_score = std::numeric_limits<double>::infinity();
  for (size_t v = 0; v < variants.size(); ++v) {
    if (!(variants[v].weight > 0) || !std::isfinite(variants[v].weight)) continue;
    const double share = variants[v].weight / total;
    if (!(share > 0)) continue;  // underflows: gets nobody
    // u in (0, 1): the top 53 bits, offset by half a step so it is never 0.
    const double u = (static_cast<double>(StableHash(salt, variants[v].name, unit) >> 11) + 0.5) * 0x1.0p-53;
    const double score = -std::log(u) / share;
    if (best < 0 || score < best_score) {
      best_score = score;
      best = static_cast<int>(v);
    }
  }
  return best;
}

}  // namespace aisle
