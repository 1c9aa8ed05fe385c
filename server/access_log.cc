#include "server/access_log.h"

namespace aisle {

AccessLog::AccessLog(FILE* out, Options options) : out_(out), options_(options) {
  writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void AccessLog::Append(absl::string_view line) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (buffer_.size() + line.size() > options_.max_buffered_bytes) {
      ++dropped_;
      return;
    }
    buffer_.append(line.data(), line.size());
    ++appended_;
    wake = buffer_.size() >= options_.flush_bytes;
  }
  if (wake) wake_.notify_one();
}

void AccessLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = appended_;
  flush_requested_ = true;
  wake_.notify_one();
  written_.wait(lock, [&] { return flushed_ >= target; });
}

uint64_t AccessLog::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void AccessLog::Run() {
  std::string out;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait_for(lock, options_.flush_interval,
                   [&] { return stop_ || flush_requested_ || buffer_.size() >= options_.flush_bytes; });
    const bool stop = stop_;
    flush_requested_ = false;
    if (!buffer_.empty()) {
      out.swap(buffer_);
      const uint64_t lines = appended_;
      lock.unlock();
      // Written outside the lock: requests keep appending meanwhile.
      std::fwrite(out.data(), 1, out.size(), out_);
      std::fflush(out_);
      out.clear();
      lock.lock();
      flushed_ = lines;
      written_.notify_all();
    } else {
      flushed_ = appended_;
      written_.notify_all();
    }
    if (stop && buffer_.empty()) return;
  }
}

}  // namespace aisle
