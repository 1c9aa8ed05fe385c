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

void RecommendBatcher::Answer(Job& job, absl::StatusOr<RecommendResult> result) {
  try {
    job.done(std::move(result));
  } catch (...) {
    // A callback must not take the batcher down; it reports its own errors.
  }
}

void RecommendBatcher::Run() {
  std::vector<Job> batch;
  std::vector<uint32_t> customers;
  std::vector<float> scores;
  std::vector<RecommendOptions> options;
  std::vector<Job*> plain, filtered;
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
    const Recommender& r = *batch.front().recommender;
    // Unfiltered requests (the common ones): scoring fused with selection.
    // Filtered ones: scores first, then the catalog masks.
    plain.clear();
    filtered.clear();
    for (Job& j : batch) (Recommender::IsFiltered(j.options) ? filtered : plain).push_back(&j);
    if (!plain.empty()) {
      customers.clear();
      options.clear();
      for (const Job* j : plain) {
        customers.push_back(j->customer);
        options.push_back(j->options);
      }
      std::vector<absl::StatusOr<RecommendResult>> results = r.SelectBatch(customers, options);
      for (size_t j = 0; j < plain.size(); ++j) Answer(*plain[j], std::move(results[j]));
    }
    if (!filtered.empty()) {
      customers.clear();
      for (const Job* j : filtered) customers.push_back(j->customer);
      const bool approximate = r.ScoreBatch(customers, &scores);
      for (size_t j = 0; j < filtered.size(); ++j) {
        Answer(*filtered[j], r.SelectForCustomer(filtered[j]->customer, scores.data() + j * r.ScoreStride(),
                                                 filtered[j]->options, approximate));
      }
    }
  }
}

}  // namespace aisle
