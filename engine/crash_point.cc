#include "engine/crash_point.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace aisle {

void CrashPoint(const char* point) {
  static const char* configured = std::getenv("AISLE_CRASH_POINT");
  if (configured != nullptr && std::strcmp(configured, point) == 0) _exit(86);
}

}  // namespace aisle
