// ModelSource: the served Recommender, loaded from a model file or from a
// publish directory's `current` (engine/model_registry.h), with an optional
// product catalog and an optional offer catalog, all reloaded when their
// files change, on request or on a timer.
// A reload builds the new Recommender (and OfferRanker) completely before
// swapping a shared_ptr, so requests in flight finish on the old one; the
// new model's cached lists then fill in the background (one thread, most
// active customers first, until the cache budget is reached), stopped by
// the next swap. Cancel() abandons a load in progress within a fraction of
// a second (a stopping server never waits for one). A new
// file that fails to load (corrupt, incompatible, malformed) is refused,
// logged, and the old one keeps serving. The offer catalog is independent:
// a bad offer file does not hold back a new model, nor the reverse.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "engine/offer_catalog.h"
#include "engine/offer_ranker.h"
#include "engine/recommender.h"
#include "server/metrics.h"

namespace aisle {

class ModelSource {
 public:
  // `model`: a model file, or a publish directory. `catalog` may be empty.
  ModelSource(std::string model, std::string catalog, Metrics* metrics,
              Recommender::Options recommender_options = {});
  ~ModelSource();
  // What --model named: a model file or a publish directory.
  const std::string& model_location() const { return model_; }
  // Also serve offers from this offer catalog file (call before the first Reload).
  void SetOfferCatalog(std::string path) { offers_path_ = std::move(path); }

  // Called on the reloading thread for each new model: `loading` before it
  // serves, `serving` once it does (the live loop's hooks). Set before the
  // watching starts.
  void SetModelHooks(std::function<void(const Model&)> loading, std::function<void(const Model&)> serving) {
    loading_hook_ = std::move(loading);
    serving_hook_ = std::move(serving);
  }

  // Loads the files when they changed since the last load (or always when
  // `force`). OK when nothing changed or the new model now serves; the load
  // error otherwise (the previous model still serves). `*changed` tells
  // whether a new model was swapped in.
  absl::Status Reload(bool force, bool* changed = nullptr);

  // The model serving now; null before the first successful load.
  std::shared_ptr<const Recommender> Current() const;
  // The offer ranker serving now (for the current model); null without an
  // offer catalog or before both loaded.
  std::shared_ptr<const OfferRanker> CurrentOffers() const;

  // Called by the watcher after each of its reloads (with `force` after
  // RequestReload): what else follows the model's files (the experiments
  // file). Set before StartWatching.
  void SetTickHook(std::function<void(bool force)> hook) { tick_hook_ = std::move(hook); }

  // Abandons any load in progress (it returns Cancelled) and refuses new
  // ones; stops the background warm-up. For a server stopping; safe to call
  // from any thread.
  void Cancel();
  // Fill each new model's cached lists in the background (default true).
  void SetWarmLists(bool warm) { warm_lists_ = warm; }
  // Prometheus lines about the cached lists of the model serving now.
  std::string RenderMetrics() const;

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
    std::string offers_stat;
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
  std::shared_ptr<const OfferCatalog> offer_catalog_;
  std::shared_ptr<const OfferRanker> offers_;
  std::string offers_path_;
  std::function<void(const Model&)> loading_hook_, serving_hook_;
  std::function<void(bool)> tick_hook_;
  Signature signature_;
  bool loaded_ = false;

  // The warm-up of the serving model's lists.
  void StartWarm(std::shared_ptr<const Recommender> rec);
  void StopWarm();
  bool warm_lists_ = true;
  std::atomic<bool> cancel_{false};
  std::thread warmer_;
  std::atomic<bool> warm_stop_{false};
  std::atomic<bool> warming_{false};

  std::thread watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stop_ = false;
  std::atomic<bool> reload_requested_{false};
};

}  // namespace aisle
