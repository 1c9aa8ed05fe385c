// Parsing of event timestamps into Unix seconds (UTC).
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace aisle {

// Accepts Unix seconds (digits, optionally a fractional part, which is
// dropped) and ISO-8601: YYYY-MM-DD, optionally followed by 'T' or ' ' and
// HH:MM[:SS[.fraction]], optionally followed by 'Z' or +HH:MM / -HH:MM /
// +HHMM. Returns nullopt on anything else or an impossible date.
std::optional<int64_t> ParseTimestamp(absl::string_view s);

// Accepts the US spreadsheet export form M/D/YYYY H:MM[:SS] (as found in
// copies of the UCI Online Retail data). Returns nullopt otherwise.
std::optional<int64_t> ParseUsDateTime(absl::string_view s);

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace aisle
