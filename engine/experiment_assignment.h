// Which variant of an online experiment a customer (or an anonymous
// visitor) sees: weighted rendezvous hashing (highest random weight,
// Thaler and Ravishankar 1998, in its weighted form -ln(u)/w of Schindelhauer
// and Schomaker 2005). Each variant draws u = H(salt, variant name, unit) in
// (0, 1) from a stable 64-bit hash, and the unit goes to the variant with
// the smallest -ln(u) / weight. Hence:
//  - stable: the same unit, salt and variants always give the same variant,
//    on every machine and across restarts (no process-seeded hash);
//  - independent: experiments with different salts assign independently;
//  - proportional: a unit lands in variant v with probability w_v / sum w;
//  - minimal movement: changing one variant's weight moves units only to or
//    from that variant (the others' draws do not change), the least any
//    scheme can move; adding a variant takes its share from every other
//    variant proportionally, removing one spreads only its units.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace aisle {

struct VariantWeight {
  absl::string_view name;  // unique within the experiment
  double weight;           // > 0 (a variant of weight 0 gets nobody)
};

// The index in `variants` of the unit's variant, drawn by the weights'
// shares (weight / sum of positive finite weights); -1 when no variant has a
// positive finite weight. Callers check for -1 before indexing.
int AssignVariant(absl::string_view salt, absl::string_view unit, absl::Span<const VariantWeight> variants);

// The stable 64-bit hash the assignment draws from (FNV-1a over the parts
// with separators, then the splitmix64 finalizer).
uint64_t StableHash(absl::string_view a, absl::string_view b, absl::string_view c);

}  // namespace aisle
