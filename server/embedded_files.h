// EmbeddedFiles: files of the source tree compiled into the server (CMake
// generates the table from the files at build time: server/CMakeLists.txt),
// so what it serves is exactly what the tests check and nothing is read
// from disk at run time: docs/openapi.yaml (GET /openapi.yaml) and the
// console's page, script and style (server/console/, GET /console).
// Thread-safe: constants.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace aisle {

// The file's bytes by its path in the source tree ("docs/openapi.yaml"),
// or nullopt when it is not embedded.
std::optional<absl::string_view> EmbeddedFile(absl::string_view path);

}  // namespace aisle
