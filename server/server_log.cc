#include "server/server_log.h"

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace aisle {

void ServerLog(absl::string_view message) {
  const std::string now = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  std::fprintf(stderr, "%s aisle-server: %.*s\n", now.c_str(), static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace aisle
