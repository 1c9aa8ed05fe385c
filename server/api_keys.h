// ApiKeys: the set of client (or admin) keys read from a file, one per line
// ('#' comments and blank lines ignored), checked in constant time so that
// response timing does not reveal how much of a guess was right.
// Immutable after Load; concurrent checks are safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

class ApiKeys {
 public:
  // NotFound when missing; InvalidArgument when the file holds no key or a
  // key with spaces or shorter than 16 characters.
  static absl::StatusOr<ApiKeys> Load(const std::string& path);
  static absl::StatusOr<ApiKeys> Parse(absl::string_view text, const std::string& name);

  // True when `key` equals one of the keys. Compares against every key over
  // its full length whatever the input, in time independent of where the
  // first difference is.
  bool Contains(absl::string_view key) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::string> keys_;
};

}  // namespace aisle
