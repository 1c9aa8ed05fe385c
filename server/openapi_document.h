// OpenApiDocument: docs/openapi.yaml, the API's OpenAPI 3.1 description,
// compiled into the server (generated from the file at build time, so the
// served description is the one the tests validate answers against), for
// GET /openapi.yaml. Thread-safe: a constant.
#pragma once

#include "absl/strings/string_view.h"

namespace aisle {

absl::string_view OpenApiDocument();

}  // namespace aisle
