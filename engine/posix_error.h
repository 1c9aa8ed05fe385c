// PosixError: errno as an absl::Status, "WHAT: strerror(errno)", the one rule
// every file, directory and socket error of the engine, the event logs and the
// live loop is reported by. Reads errno on entry, so call it right after the
// failing system call. Thread-safe.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace aisle {

absl::Status PosixError(absl::string_view what, absl::StatusCode code = absl::StatusCode::kInternal);

}  // namespace aisle
