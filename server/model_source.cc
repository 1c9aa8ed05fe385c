#include "server/model_source.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"

namespace aisle {
namespace {

std::string StatString(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return "missing";
  return absl::StrCat(sb.st_dev, ":", sb.st_ino, ":", sb.st_size, ":", sb.st_mtim.tv_sec, ".", sb.st_mtim.tv_nsec);
}

void Log(const std::string& msg) {
  std::fprintf(stderr, "%s aisle-server: %s\n",
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()).c_str(), msg.c_str());
  std::fflush(stderr);
}

}  // namespace

ModelSource::ModelSource(std::string model, std::string catalog, Metrics* metrics,
                         Recommender::Options recommender_options)
    : model_(std::move(model)), catalog_(std::move(catalog)), metrics_(metrics),
      recommender_options_(recommender_options) {}

ModelSource::~ModelSource() { StopWatching(); }

absl::StatusOr<ModelSource::Signature> ModelSource::Probe() const {
  Signature s;
  std::error_code ec;
  if (std::filesystem::is_directory(model_, ec)) {
    auto p = CurrentModelPath(model_);
    if (!p.ok()) return p.status();
    s.model_path = *p;
  } else {
    s.model_path = model_;
  }
  s.model_stat = StatString(s.model_path);
  if (!catalog_.empty()) s.catalog_stat = StatString(catalog_);
  if (!offers_path_.empty()) s.offers_stat = StatString(offers_path_);
  return s;
}

namespace {

// Runs a load (returning a Status or StatusOr); an exception (memory exhausted by a file's sizes, a parser's
// error that escaped its loader) becomes a refused reload, never a crash.
template <typename F>
auto Guarded(F&& load) -> decltype(load()) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("not enough memory to load it");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading failed: ", e.what()));
  }
}

}  // namespace

absl::Status ModelSource::Reload(bool force, bool* changed) {
  if (changed != nullptr) *changed = false;
  std::lock_guard<std::mutex> load_lock(load_mu_);
  auto sig = Probe();
  if (!sig.ok()) {
    if (metrics_) metrics_->RecordReload(false);
    return sig.status();
  }
  Signature old;
  std::shared_ptr<const Recommender> rec;
  std::shared_ptr<const OfferCatalog> offer_catalog;
  bool loaded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!force && loaded_ && *sig == signature_) return absl::OkStatus();
    old = signature_;
    rec = current_;
    offer_catalog = offer_catalog_;
    loaded = loaded_;
  }
  const bool model_due = force || !loaded || sig->model_path != old.model_path || sig->model_stat != old.model_stat ||
                         sig->catalog_stat != old.catalog_stat;
  const bool offers_due = !offers_path_.empty() && (force || !loaded || sig->offers_stat != old.offers_stat);
  absl::Status status;
  bool model_swapped = false, offers_swapped = false;
  if (model_due) {
    absl::Status s = Guarded([&]() -> absl::Status {
      std::shared_ptr<const Catalog> catalog;
      if (!catalog_.empty()) {
        auto c = Catalog::Load(catalog_);
        if (!c.ok()) return c.status();
        catalog = std::make_shared<const Catalog>(std::move(*c));
      }
      if (!force && rec && sig->model_path == old.model_path && sig->model_stat == old.model_stat) {
        // Only the catalog changed: same model, same top lists.
        auto r = rec->WithCatalog(catalog);
        if (!r.ok()) return r.status();
        rec = *r;
        Log(absl::StrCat("serving model ", rec->model_id(), " with the new catalog ", catalog_, " (",
                         catalog ? catalog->size() : 0, " products)"));
        return absl::OkStatus();
      }
      auto model = ReadModel(sig->model_path);
      if (!model.ok()) return model.status();
      Recommender::Options ro = recommender_options_;
      // While a model serves, its successor's lists are built on one thread
      // so the other cores keep answering.
      if (rec) ro.top_list_threads = 1;
      const absl::Time start = absl::Now();
      auto r = Recommender::Create(std::make_shared<const Model>(std::move(*model)), catalog, ro);
      if (!r.ok()) return r.status();
      rec = *r;
      std::string lists;
      if (ro.top_list_length > 0) {
        const TopLists* c = rec->customer_lists();
        const TopLists* p = rec->similar_lists();
        lists = absl::StrFormat("; top %d lists for %s customers, %s products, %.1f MB", ro.top_list_length,
                                c ? "all" : "no", p ? "all" : "no",
                                ((c ? c->bytes() : 0) + (p ? p->bytes() : 0)) / 1e6);
        if (!c || !p) lists += " (over --top_lists_max_mb)";
      }
      Log(absl::StrCat("serving model ", rec->model_id(), " from ", sig->model_path, " (", rec->model().customers.size(),
                       " customers, ", rec->model().products.size(), " products",
                       catalog ? absl::StrCat(", catalog of ", catalog->size(), " products") : "", lists,
                       absl::StrFormat("; ready in %.2f s)", absl::ToDoubleSeconds(absl::Now() - start))));
      return absl::OkStatus();
    });
    if (s.ok() && loading_hook_) loading_hook_(rec->model());
    if (metrics_) metrics_->RecordReload(s.ok());
    if (s.ok()) {
      model_swapped = true;
      if (metrics_) metrics_->SetModel(rec->model_id(), absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
    } else {
      Log(absl::StrCat("reload refused, the previous model keeps serving: ", s.message()));
      status = s;
    }
  }
  if (offers_due) {
    absl::StatusOr<OfferCatalog> c = Guarded([&] { return OfferCatalog::Load(offers_path_); });
    if (c.ok()) {
      offer_catalog = std::make_shared<const OfferCatalog>(std::move(*c));
      offers_swapped = true;
      Log(absl::StrCat("serving offer catalog ", offers_path_, " (", offer_catalog->offers().size(), " offers)"));
    } else {
      Log(absl::StrCat("offer catalog refused, the previous one keeps serving: ", c.status().message()));
      if (status.ok()) status = c.status();
    }
    if (metrics_) metrics_->RecordOffersReload(c.ok(), offer_catalog ? offer_catalog->offers().size() : 0);
  }
  std::shared_ptr<const OfferRanker> ranker;
  if ((model_swapped || offers_swapped) && rec && offer_catalog) {
    auto r = OfferRanker::Create(rec, offer_catalog);
    if (r.ok()) {
      ranker = *r;
    } else if (status.ok()) {
      status = r.status();
    }
  }
  {
    // Remember refused files too, so the watcher does not retry them every tick.
    std::lock_guard<std::mutex> lock(mu_);
    if (model_swapped) current_ = rec;
    if (offers_swapped) offer_catalog_ = offer_catalog;
    if (ranker) offers_ = ranker;
    if (current_) {
      signature_ = *sig;
      loaded_ = true;
    }
  }
  if (model_swapped && serving_hook_) serving_hook_(rec->model());
  if (changed != nullptr) *changed = model_swapped || offers_swapped;
  return status;
}

std::shared_ptr<const Recommender> ModelSource::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::shared_ptr<const OfferRanker> ModelSource::CurrentOffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offers_;
}

void ModelSource::StartWatching(int interval_ms) {
  StopWatching();
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stop_ = false;
  }
  watcher_ = std::thread([this, interval_ms] {
    std::unique_lock<std::mutex> lock(watch_mu_);
    while (!stop_) {
      watch_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                          [this] { return stop_ || reload_requested_.load(); });
      if (stop_) break;
      const bool force = reload_requested_.exchange(false);
      lock.unlock();
      Reload(force).IgnoreError();  // logged and counted inside
      if (tick_hook_) tick_hook_(force);
      lock.lock();
    }
  });
}

void ModelSource::StopWatching() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void ModelSource::RequestReload() {
  reload_requested_ = true;
  watch_cv_.notify_all();
}

}  // namespace aisle
