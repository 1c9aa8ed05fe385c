#include "server/recommend_batcher.h"

namespace aisle {

RecommendBatcher::RecommendBatcher(int threads, size_t max_batch, Metrics* metrics)
    : max_batch_(std::max<size_t>(1, max_batch)), metrics_(metrics) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Run(); });
}

RecommendBatcher::~RecommendBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void RecommendBatcher::Submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void RecommendBatcher::Answer(Job& job, absl::StatusOr<CustomerAnswer> result) {
  try {
    job.done(std::move(result));
  } catch (...) {
    // A callback must not take the batcher down; it reports its own errors.
  }
}

void RecommendBatcher::Run() {
  std::vector<Job> batch;
  std::vector<CustomerRequest> requests;
  while (true) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // Jobs for the same model go together (a reload may be in between).
      const Recommender* model = queue_.front().recommender.get();
      for (auto it = queue_.begin(); it != queue_.end() && batch.size() < max_batch_;) {
        if (it->recommender.get() == model) {
          batch.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (metrics_) metrics_->RecordBatch(batch.size());
    requests.clear();
    for (Job& j : batch) requests.push_back(std::move(j.request));
    std::vector<absl::StatusOr<CustomerAnswer>> answers = batch.front().recommender->RecommendBatch(requests);
    for (size_t j = 0; j < batch.size(); ++j) Answer(batch[j], std::move(answers[j]));
  }
}

}  // namespace aisle
