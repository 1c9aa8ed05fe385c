// Stopwatch: seconds elapsed on the monotonic clock since it was made or last
// reset, for the timings that training logs and writes into a model's
// metadata. A value type; one instance is not for concurrent use.
#pragma once

#include <chrono>

namespace aisle {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void Reset() { start_ = std::chrono::steady_clock::now(); }
  double Seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace aisle
