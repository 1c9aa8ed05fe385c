// RecommendBatcher: answers customer recommendation requests in batches.
// Requests that arrive while a batch is being scored queue up and are
// scored together by one matrix product, which reads the product factors
// once per batch instead of once per request (at 50k x 64 factors that is
// 12.8 MB per read: the cost that limits a server scoring one request at a
// time). No request waits on purpose: at low load a batch holds one request.
// The engine answers the batch (Recommender::RecommendBatch).
// Thread-safe; `done` callbacks run on the batcher's threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/recommender.h"
#include "server/metrics.h"

namespace aisle {

class RecommendBatcher {
 public:
  struct Job {
    std::shared_ptr<const Recommender> recommender;
    CustomerRequest request;
    std::function<void(absl::StatusOr<CustomerAnswer>)> done;
  };

  // `metrics` (may be null) counts batches and the requests in them.
  RecommendBatcher(int threads, size_t max_batch, Metrics* metrics = nullptr);
  // Answers the jobs still queued, then joins.
  ~RecommendBatcher();
  void Submit(Job job);

 private:
  void Run();
  static void Answer(Job& job, absl::StatusOr<CustomerAnswer> result);

  const size_t max_batch_;
  Metrics* metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace aisle
