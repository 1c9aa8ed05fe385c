// ModelSource: the served Recommender, loaded from a model file or from a
// publish directory's `current` (engine/model_registry.h), with an optional
// catalog, and reloaded when those files change, on request or on a timer.
// A reload builds the new Recommender completely before swapping a
// shared_ptr, so requests in flight finish on the old one; a new file that
// fails to load (corrupt, incompatible) is refused, logged, and the old one
// keeps serving. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "engine/recommender.h"
#include "server/metrics.h"

namespace aisle {

class ModelSource {
 public:
  // `model`: a model file, or a publish directory. `catalog` may be empty.
  ModelSource(std::string model, std::string catalog, Metrics* metrics,
              Recommender::Options recommender_options = {});
  ~ModelSource();

  // Loads the files when they changed since the last load (or always when
  // `force`). OK when nothing changed or the new model now serves; the load
  // error otherwise (the previous model still serves). `*changed` tells
  // whether a new model was swapped in.
  absl::Status Reload(bool force, bool* changed = nullptr);

  // The model serving now; null before the first successful load.
  std::shared_ptr<const Recommender> Current() const;

  // Polls for changes every `interval_ms` on a background thread until
  // StopWatching() (or destruction).
  void StartWatching(int interval_ms);
  void StopWatching();
  // Asks the watcher to reload at its next wake-up (for SIGHUP); safe to
  // call from a signal-handling thread.
  void RequestReload();

 private:
  struct Signature {
    std::string model_path;
    std::string model_stat;
    std::string catalog_stat;
    bool operator==(const Signature&) const = default;
  };
  absl::StatusOr<Signature> Probe() const;

  const std::string model_;
  const std::string catalog_;
  Metrics* metrics_;
  const Recommender::Options recommender_options_;
  std::mutex load_mu_;          // one reload at a time
  mutable std::mutex mu_;       // guards current_ and signature_
  std::shared_ptr<const Recommender> current_;
  Signature signature_;
  bool loaded_ = false;

  std::thread watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stop_ = false;
  std::atomic<bool> reload_requested_{false};
};

}  // namespace aisle
