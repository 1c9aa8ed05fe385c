// UTF-8 validation (RFC 3629: no overlong forms, surrogates or code points
// past U+10FFFF), shared by the loaders that check ids and the writers that
// must emit valid JSON. Pure functions.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace aisle {

// At s[i], a byte >= 0x80: the length of the valid UTF-8 sequence there
// (> 0), or minus the length of its maximal invalid prefix (what one U+FFFD
// replaces, as Unicode recommends and nlohmann's "replace" does).
int Utf8Sequence(absl::string_view s, size_t i);

// Whether all of `s` is valid UTF-8.
bool IsValidUtf8(absl::string_view s);

// Whether `s` is valid UTF-8 without control characters (C0, DEL, C1:
// U+0000..U+001F, U+007F..U+009F): what an id must be to appear in a
// header, a log line or a Prometheus label.
bool IsPrintableUtf8(absl::string_view s);

}  // namespace aisle
