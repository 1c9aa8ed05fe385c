// AccessLog: the server's access log, one JSON line per answered request
// (docs/API.md, "Access log"), written off the request path: a request's
// thread appends its line to a buffer under a short lock, and a writer
// thread writes the buffer out every `flush_interval`, sooner once it holds
// `flush_bytes`, and at destruction. When the output cannot keep up (a
// stdout nobody reads), lines past `max_buffered_bytes` are dropped and
// counted: a request never waits for the log.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"

namespace aisle {

class AccessLog {
 public:
  struct Options {
    std::chrono::milliseconds flush_interval{100};
    size_t flush_bytes = size_t{64} << 10;
    size_t max_buffered_bytes = size_t{16} << 20;
  };
  // `out` (not owned) must outlive the log.
  AccessLog(FILE* out, Options options);
  explicit AccessLog(FILE* out) : AccessLog(out, Options()) {}
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  // Writes what is buffered, then stops the writer.
  ~AccessLog();

  // Queues one complete line (its '\n' included).
  void Append(absl::string_view line);
  // Returns once every line appended so far is written and flushed.
  void Flush();
  uint64_t dropped() const;

 private:
  void Run();

  FILE* const out_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_, written_;
  std::string buffer_;          // lines not yet taken by the writer
  uint64_t appended_ = 0;       // lines appended (dropped ones excluded)
  uint64_t flushed_ = 0;        // lines written and flushed
  uint64_t dropped_ = 0;
  bool flush_requested_ = false;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace aisle
