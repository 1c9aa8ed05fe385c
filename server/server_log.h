// ServerLog: one line on the server's stderr, "TIME aisle-server: MESSAGE",
// flushed at once: model loads and reloads, experiment report changes, what
// the operator reads beside the access log. Thread-safe (one fprintf a line).
#pragma once

#include "absl/strings/string_view.h"

namespace aisle {

void ServerLog(absl::string_view message);

}  // namespace aisle
