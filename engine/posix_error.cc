#include "engine/posix_error.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace aisle {

absl::Status PosixError(absl::string_view what, absl::StatusCode code) {
  const int err = errno;
  return absl::Status(code, absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace aisle
