#include "server/exposure_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/json_text.h"

namespace aisle {

std::string ExposureLog::Line(const Exposure& e) {
  std::string out = "{\"recommendation_id\":";
  AppendJsonString(&out, e.recommendation_id);
  absl::StrAppend(&out, ",\"at_ms\":", e.at_ms, ",\"endpoint\":");
  AppendJsonString(&out, e.endpoint);
  out.append(",\"customer\":");
  AppendJsonString(&out, e.customer);
  out.append(",\"model_version\":");
  AppendJsonString(&out, e.model_version);
  out.append(",\"experiment\":");
  if (e.experiment.empty()) {
    out.append("null,\"variant\":null");
  } else {
    AppendJsonString(&out, e.experiment);
    out.append(",\"variant\":");
    AppendJsonString(&out, e.variant);
  }
  out.append(",\"items\":[");
  for (size_t i = 0; i < e.items.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, e.items[i]);
  }
  out.append("]}\n");
  return out;
}

absl::StatusOr<std::unique_ptr<ExposureLog>> ExposureLog::Open(const Options& options, EventJournal::OpenStats* stats) {
  std::unique_ptr<ExposureLog> log(new ExposureLog());
  log->options_ = options;
  EventJournal::Options jo;
  jo.segment_bytes = options.segment_bytes;
  jo.sync = options.sync;
  jo.format = Format();
  auto journal = EventJournal::Open(options.dir, jo, stats);
  if (!journal.ok()) return journal.status();
  log->journal_ = std::move(*journal);
  log->flusher_ = std::thread([p = log.get()] { p->Run(); });
  return log;
}

ExposureLog::~ExposureLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (journal_ == nullptr) return;  // Open failed before the journal was open
  HandOver();
  journal_->Flush();
}

void ExposureLog::Record(const Exposure& e) {
  static std::atomic<size_t> next_shard{0};
  thread_local const size_t mine = next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
  const std::string line = Line(e);
  Shard& s = shards_[mine];
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.recorded;
  if (s.buffer.size() + line.size() > options_.max_buffer_bytes / kShards) {
    ++s.dropped;
    return;
  }
  s.buffer += line;
  ++s.count;
}

void ExposureLog::HandOver() {
  std::string lines;
  size_t n = 0;
  for (Shard& s : shards_) {
    std::string taken;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      taken.swap(s.buffer);
      n += s.count;
      s.count = 0;
      // Room for about as much as this interval brought, so appends rarely
      // grow (copy) the buffer; allocated while the shard is locked, once an interval.
      s.buffer.reserve(std::min(options_.max_buffer_bytes / kShards, taken.size() + taken.size() / 4));
    }
    if (lines.empty()) {
      lines.swap(taken);
    } else {
      lines += taken;
    }
  }
  if (n == 0) return;
  journal_->Append(std::move(lines), n, [this, n](absl::Status s, uint64_t) {
    std::lock_guard<std::mutex> lock(mu_);
    (s.ok() ? written_ : failed_) += n;
  });
}

void ExposureLog::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.flush_interval, [&] { return stop_; });
    lock.unlock();
    HandOver();
    lock.lock();
  }
}

void ExposureLog::Flush() {
  HandOver();
  journal_->Flush();
}

absl::Status ExposureLog::Rotate() {
  HandOver();
  return journal_->Rotate();
}

ExposureLog::Stats ExposureLog::stats() const {
  Stats st;
  for (Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    st.recorded += s.recorded;
    st.dropped += s.dropped;
  }
  std::lock_guard<std::mutex> lock(mu_);
  st.written = written_;
  st.failed = failed_;
  return st;
}

}  // namespace aisle
