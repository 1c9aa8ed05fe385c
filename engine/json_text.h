// ParseJsonText: JSON from a file or a request, read as hostile input. The
// nesting depth is bounded (checked on the text, before the parser builds
// anything: a document nested 100,000 deep would otherwise cost a deep
// recursion wherever it is later printed or compared), and every exception
// the parser can raise (syntax, invalid UTF-8, a number out of range such
// as 1e400) becomes InvalidArgument with the parser's message.
// Thread-safe: a pure function.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

// Writing JSON straight into a string (the hot serializations: nlohmann's
// tree costs an allocation per field):
// appends `s` as a JSON string literal, escaped, invalid UTF-8 as U+FFFD;
void AppendJsonString(std::string* out, absl::string_view s);
// appends `x` as the shortest JSON number that reads back to the same float
// (null when not finite).
void AppendJsonFloat(std::string* out, float x);

// `j` as compact JSON text (no spaces), invalid UTF-8 in its strings as
// U+FFFD: how every file line and answer built as a tree is written.
std::string DumpJson(const nlohmann::json& j);

inline constexpr int kMaxJsonDepth = 64;

absl::StatusOr<nlohmann::json> ParseJsonText(absl::string_view text, int max_depth = kMaxJsonDepth);

// Whether arrays and objects in `text` nest deeper than `max_depth`
// (brackets inside strings do not count).
bool JsonNestsDeeperThan(absl::string_view text, int max_depth);

}  // namespace aisle
