// Test-only fault injection: when the environment variable AISLE_CRASH_POINT
// names `point`, the process exits at once with status 86, as if killed
// there (no destructors, no cleanup). Used to prove that publishing survives
// a crash at any step. A no-op otherwise. Thread-safe.
#pragma once

namespace aisle {

void CrashPoint(const char* point);

}  // namespace aisle
