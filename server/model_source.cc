#include "server/model_source.h"

#include <omp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "server/server_log.h"

namespace aisle {
namespace {

std::string StatString(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return "missing";
  return absl::StrCat(sb.st_dev, ":", sb.st_ino, ":", sb.st_size, ":", sb.st_mtim.tv_sec, ".", sb.st_mtim.tv_nsec);
}

// Makes the calling thread (and the threads it starts) a background one:
// a little nicer and one OpenMP thread. For the watcher, which loads successors
// while a model serves, so that the requests keep the cores.
// The niceness of background loads: each step up slows a load under full
// load by about a quarter and spares the requests' latency (measured with
// bench/scale_test.sh: docs/BENCHMARKS.md, "Scale").
constexpr int kBackgroundNice = 2;

void BecomeBackgroundThread() {
  const id_t tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::max(nice, kBackgroundNice));
  omp_set_num_threads(1);
}

}  // namespace

ModelSource::ModelSource(std::string model, std::string catalog, Metrics* metrics,
                         Recommender::Options recommender_options)
    : model_(std::move(model)), catalog_(std::move(catalog)), metrics_(metrics),
      recommender_options_(recommender_options) {}

ModelSource::~ModelSource() {
  StopWatching();
  StopWarm();
}

void ModelSource::Cancel() {
  cancel_ = true;
  warm_stop_ = true;
}

void ModelSource::StopWarm() {
  warm_stop_ = true;
  if (warmer_.joinable()) warmer_.join();
}

void ModelSource::StartWarm(std::shared_ptr<const Recommender> rec) {
  StopWarm();
  if (!warm_lists_ || cancel_ || rec->customer_cache() == nullptr) return;
  warm_stop_ = false;
  warming_ = true;
  warmer_ = std::thread([this, rec] {
    BecomeBackgroundThread();
    const auto start = std::chrono::steady_clock::now();
    // The most active customers first: those with the most purchases.
    const Model& m = rec->model();
    std::vector<uint32_t> order(m.customers.size());
    for (uint32_t c = 0; c < order.size(); ++c) order[c] = c;
    std::stable_sort(order.begin(), order.end(), [&m](uint32_t a, uint32_t b) {
      return m.purchased.RowIndices(a).size() > m.purchased.RowIndices(b).size();
    });
    const size_t customers = rec->WarmCustomers(order, &warm_stop_);
    std::vector<uint32_t> products(m.products.size());
    for (uint32_t p = 0; p < products.size(); ++p) products[p] = p;
    std::stable_sort(products.begin(), products.end(),
                     [&m](uint32_t a, uint32_t b) { return m.item_popularity[a] > m.item_popularity[b]; });
    const size_t similar = warm_stop_ ? 0 : rec->WarmProducts(products, &warm_stop_);
    const TopListCache::Stats cs = rec->customer_cache()->stats();
    ServerLog(absl::StrFormat("lists of model %s: %d customers and %d products cached in %.1f s%s (%.1f MB of %.1f MB)",
                              rec->model_id(), customers, similar,
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                              warm_stop_ ? ", stopped" : "",
                              (cs.bytes + rec->similar_cache()->stats().bytes) / 1e6,
                              (rec->customer_cache()->max_bytes() + rec->similar_cache()->max_bytes()) / 1e6));
    warming_ = false;
  });
}

std::string ModelSource::RenderMetrics() const {
  std::shared_ptr<const Recommender> rec = Current();
  if (!rec || rec->customer_cache() == nullptr) return "";
  std::string out =
      "# HELP aisle_top_list_cache Cached lists of the serving model: lookups by outcome, entries, bytes.\n"
      "# TYPE aisle_top_list_cache gauge\n";
  for (const auto& [kind, cache] : {std::pair<const char*, const TopListCache*>{"customers", rec->customer_cache()},
                                    {"products", rec->similar_cache()}}) {
    const TopListCache::Stats st = cache->stats();
    absl::StrAppendFormat(&out,
                          "aisle_top_list_cache{kind=\"%s\",value=\"hits\"} %d\n"
                          "aisle_top_list_cache{kind=\"%s\",value=\"misses\"} %d\n"
                          "aisle_top_list_cache{kind=\"%s\",value=\"evictions\"} %d\n"
                          "aisle_top_list_cache{kind=\"%s\",value=\"entries\"} %d\n"
                          "aisle_top_list_cache{kind=\"%s\",value=\"bytes\"} %d\n"
                          "aisle_top_list_cache{kind=\"%s\",value=\"max_bytes\"} %d\n",
                          kind, st.hits, kind, st.misses, kind, st.evictions, kind, st.entries, kind, st.bytes, kind,
                          cache->max_bytes());
  }
  absl::StrAppendFormat(&out, "aisle_top_list_warming %d\n", warming_.load() ? 1 : 0);
  return out;
}

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
  // A mapped model reads its file's pages: a file written or truncated in
  // place (not replaced by a rename) changes what it serves. It is loaded
  // again from the file as it now is, and when that fails it stops serving.
  absl::Status damaged;
  if (rec && rec->model().mapping) damaged = rec->model().mapping->CheckUnchanged();
  const bool model_due = force || !loaded || !damaged.ok() || sig->model_path != old.model_path ||
                         sig->model_stat != old.model_stat || sig->catalog_stat != old.catalog_stat;

  const bool offers_due = !offers_path_.empty() && (force || !loaded || sig->offers_stat != old.offers_stat);
  absl::Status status;
  bool model_swapped = false, offers_swapped = false, withdraw = false;
  if (model_due) {
    absl::Status s = Guarded([&]() -> absl::Status {
      const bool model_changed = force || !rec || !damaged.ok() || sig->model_path != old.model_path ||
                                 sig->model_stat != old.model_stat;
      // The catalog is parsed on its own thread while the model is mapped
      // and checked. Detached, so that a stopping server does not wait for
      // it (parsing cannot be cancelled): the result is shared.
      const absl::Time load_start = absl::Now();
      struct CatalogLoad {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        absl::StatusOr<std::shared_ptr<const Catalog>> result = std::shared_ptr<const Catalog>();
        double seconds = 0;
      };
      auto load = std::make_shared<CatalogLoad>();
      if (catalog_.empty()) {
        load->done = true;
      } else {
        std::thread([load, path = catalog_, load_start] {
          auto c = Guarded([&]() -> absl::StatusOr<std::shared_ptr<const Catalog>> {
            auto parsed = Catalog::Load(path);
            if (!parsed.ok()) return parsed.status();
            return std::make_shared<const Catalog>(std::move(*parsed));
          });
          std::lock_guard<std::mutex> lock(load->mu);
          load->result = std::move(c);
          load->seconds = absl::ToDoubleSeconds(absl::Now() - load_start);
          load->done = true;
          load->cv.notify_all();
        }).detach();
      }
      absl::StatusOr<Model> model = absl::CancelledError("stopping");
      if (model_changed && !cancel_) model = MapModel(sig->model_path, &cancel_);
      const double map_seconds = absl::ToDoubleSeconds(absl::Now() - load_start);
      double catalog_seconds = 0;
      absl::StatusOr<std::shared_ptr<const Catalog>> loaded_catalog = absl::CancelledError("stopping");
      {
        std::unique_lock<std::mutex> lock(load->mu);
        while (!load->done && !cancel_) load->cv.wait_for(lock, std::chrono::milliseconds(20));
        if (!load->done) return absl::CancelledError("stopping");
        // Moved out, not copied: the loader thread, which may outlive this
        // call, then drops nothing this thread still reads (absl's Status
        // counts references in code ThreadSanitizer does not see).
        loaded_catalog = std::move(load->result);
        catalog_seconds = load->seconds;
      }
      if (!loaded_catalog.ok()) return loaded_catalog.status();
      std::shared_ptr<const Catalog> catalog = *std::move(loaded_catalog);
      if (!model_changed) {
        // Only the catalog changed: same model, same top lists.
        auto r = rec->WithCatalog(catalog);
        if (!r.ok()) return r.status();
        rec = *r;
        ServerLog(absl::StrCat("serving model ", rec->model_id(), " with the new catalog ", catalog_, " (",
                               catalog ? catalog->size() : 0, " products)"));
        return absl::OkStatus();
      }
      if (!model.ok()) return model.status();
      const bool mapped = model->mapping != nullptr;
      Recommender::Options ro = recommender_options_;
      ro.cancel = &cancel_;
      ro.model_validated = true;  // by MapModel, just now
      // The lists fill in the background on one thread, so the other core
      // keeps answering.
      ro.top_list_threads = 1;
      const absl::Time start = absl::Now();
      auto r = Recommender::Create(std::make_shared<const Model>(std::move(*model)), catalog, ro);
      if (!r.ok()) return r.status();
      rec = *r;
      std::string detail;
      if (rec->index() != nullptr) {
        detail += absl::StrFormat("; searched through %d clusters (%s)", rec->index()->clusters(),
                                  ro.exact_search ? "exact" : "approximate");
      }
      if (rec->customer_cache() != nullptr) {
        detail += absl::StrFormat("; lists of %d cached within %.0f MB", rec->customer_cache()->length(),
                                  ro.top_list_max_bytes / 1048576.0);
      }
      ServerLog(absl::StrCat("serving model ", rec->model_id(), " from ", sig->model_path, " (",
                             rec->model().customers.size(), " customers, ", rec->model().products.size(), " products",
                             catalog ? absl::StrCat(", catalog of ", catalog->size(), " products") : "", detail,
                             absl::StrFormat("; catalog read in %.2f s, model %s and checked in %.2f s, ready %.2f s "
                                             "later)",
                                             catalog_seconds, mapped ? "mapped" : "read (format version 1: copied)",
                                             map_seconds, absl::ToDoubleSeconds(absl::Now() - start))));
      return absl::OkStatus();
    });
    if (s.ok() && loading_hook_) loading_hook_(rec->model());
    if (metrics_) metrics_->RecordReload(s.ok());
    if (s.ok()) {
      model_swapped = true;
      if (metrics_) metrics_->SetModel(rec->model_id(), absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
    } else if (!damaged.ok()) {
      ServerLog(absl::StrCat("the served model's file changed in place and no longer loads (", s.message(), "); ",
                             damaged.message(), ": model ", rec->model_id(),
                             " stops serving, and the server is not ready until a valid model loads"));
      withdraw = true;
      status = s;
    } else {
      ServerLog(absl::StrCat("reload refused, the previous model keeps serving: ", s.message()));
      status = s;
    }
  }
  if (offers_due) {
    absl::StatusOr<OfferCatalog> c = Guarded([&] { return OfferCatalog::Load(offers_path_); });
    if (c.ok()) {
      offer_catalog = std::make_shared<const OfferCatalog>(std::move(*c));
      offers_swapped = true;
      ServerLog(absl::StrCat("serving offer catalog ", offers_path_, " (", offer_catalog->offers().size(), " offers)"));
    } else {
      ServerLog(absl::StrCat("offer catalog refused, the previous one keeps serving: ", c.status().message()));
      if (status.ok()) status = c.status();
    }
    if (metrics_) metrics_->RecordOffersReload(c.ok(), offer_catalog ? offer_catalog->offers().size() : 0);
  }
  std::shared_ptr<const OfferRanker> ranker;
  if ((model_swapped || offers_swapped) && !withdraw && rec && offer_catalog) {
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
    if (withdraw) {
      current_ = nullptr;
      offers_ = nullptr;
      signature_ = *sig;  // loaded again when the file changes again
    }
    if (current_) {
      signature_ = *sig;
      loaded_ = true;
    }
  }
  if (model_swapped && serving_hook_) serving_hook_(rec->model());
  if (model_swapped) StartWarm(rec);
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
    BecomeBackgroundThread();
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
