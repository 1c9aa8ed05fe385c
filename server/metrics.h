// Metrics: request counts and latency histograms per endpoint and status,
// the served model version and reload outcomes, rendered in the Prometheus
// text exposition format. Thread-safe (one mutex; recording is a few adds).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace aisle {

struct HttpTransportStats;

// A Prometheus label value: backslash, double quote and newline escaped.
std::string PrometheusLabelValue(absl::string_view v);

class Metrics {
 public:
  // Latency bucket upper bounds, seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

  void Record(const std::string& endpoint, int status, double seconds);
  void RecordReload(bool ok);
  void SetModel(const std::string& model_id, double loaded_at_unix);
  void RecordOffersReload(bool ok, size_t offers);  // offers: in the catalog now serving
  void RecordImpressions(uint64_t n);
  // How a customer recommendation request was answered.
  enum class Answer { kTopList, kScored, kPopularity, kLive };
  void RecordAnswer(Answer a) { answers_[static_cast<int>(a)].fetch_add(1, std::memory_order_relaxed); }
  // A batch of `requests` customer requests scored together.
  void RecordBatch(size_t requests) {
    batches_.fetch_add(1, std::memory_order_relaxed);
    batched_requests_.fetch_add(requests, std::memory_order_relaxed);
  }
  // The HTTP transport's connection counters (null: none), rendered with the rest.
  void SetConnectionStats(const HttpTransportStats* stats);
  // More text for Render() (the live loop's, the experiments' metrics).
  void AddExtra(std::function<std::string()> extra);
  void ClearExtras();
  std::string Render() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  uint64_t offer_reloads_ok_ = 0, offer_reloads_failed_ = 0, offers_ = 0, impressions_ = 0;
  std::string model_id_;
  double loaded_at_ = 0;
  std::array<std::atomic<uint64_t>, 4> answers_{};
  std::atomic<uint64_t> batches_{0}, batched_requests_{0};
  const HttpTransportStats* connections_ = nullptr;
  std::vector<std::function<std::string()>> extras_;
};

}  // namespace aisle
