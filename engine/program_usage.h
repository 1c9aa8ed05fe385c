// ProgramUsage: what every aisle program's --help says: the usage message,
// and the program's own flags listed under its name instead of the source
// files that define them (Abseil's default shows the build's source paths).
// Header-only: for the programs' mains, which link absl::flags.
#pragma once

#include <functional>
#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"

namespace aisle {

// `own`: whether a flag defined in this source file is the program's (the
// others, Abseil's own among them, show under --helpfull only); `version`
// (optional) what --version prints. One call: Abseil's SetFlagsUsageConfig
// resets what a later call leaves unset.
inline void SetProgramUsage(absl::string_view program, absl::string_view message,
                            std::function<bool(absl::string_view file)> own, absl::string_view version = "") {
  absl::SetProgramUsageMessage(message);
  absl::FlagsUsageConfig config;
  const std::string name(program);
  // --help filters on the names this gives.
  config.normalize_filename = [name, own](absl::string_view file) { return own(file) ? name : std::string(file); };
  config.contains_help_flags = [name](absl::string_view file) { return file == name; };
  config.contains_helpshort_flags = config.contains_help_flags;
  if (!version.empty()) config.version_string = [v = std::string(version)] { return v + "\n"; };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace aisle
