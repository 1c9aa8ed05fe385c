#include "server/exposure_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/json_text.h"

namespace aisle {

SegmentFormat ExposureLog::Format() {
  SegmentFormat f;
  f.prefix = "exposures-";
  f.suffix = ".jsonl";
  f.intact = [](absl::string_view line) {
    auto j = ParseJsonText(line);
    return j.ok() && j->is_object() && j->contains("recommendation_id");
  };
  return f;
}

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
  HandOver();
  journal_->Flush();
}

void ExposureLog::Record(const Exposure& e) {
  std::string line = Line(e);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.recorded;
  if (buffer_.size() + line.size() > options_.max_buffer_bytes) {
    ++stats_.dropped;
    return;
  }
  buffer_ += line;
  ++buffered_;
}

void ExposureLog::HandOver() {
  // A fresh buffer with room for about as much as the last interval brought,
  // allocated here: Record() never grows (copies) a large buffer under the lock.
  std::string lines;
  const size_t last = last_bytes_.load(std::memory_order_relaxed);
  lines.reserve(std::min(options_.max_buffer_bytes, last + last / 4 + 4096));
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lines.swap(buffer_);
    n = buffered_;
    buffered_ = 0;
  }
  last_bytes_.store(lines.size(), std::memory_order_relaxed);
  if (n == 0) return;
  journal_->Append(std::move(lines), n, [this, n](absl::Status s, uint64_t) {
    std::lock_guard<std::mutex> lock(mu_);
    (s.ok() ? stats_.written : stats_.failed) += n;
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

ExposureLog::Stats ExposureLog::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace aisle
