#include "server/model_source.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
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
  return s;
}

absl::Status ModelSource::Reload(bool force, bool* changed) {
  if (changed != nullptr) *changed = false;
  std::lock_guard<std::mutex> load_lock(load_mu_);
  auto sig = Probe();
  if (!sig.ok()) {
    if (metrics_) metrics_->RecordReload(false);
    return sig.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!force && loaded_ && *sig == signature_) return absl::OkStatus();
  }
  auto fail = [&](const absl::Status& s) {
    if (metrics_) metrics_->RecordReload(false);
    Log(absl::StrCat("reload refused, the previous model keeps serving: ", s.message()));
    // Remember the refused files, so the watcher does not retry them every tick.
    std::lock_guard<std::mutex> lock(mu_);
    if (loaded_) signature_ = *sig;
    return s;
  };
  auto model = ReadModel(sig->model_path);
  if (!model.ok()) return fail(model.status());
  std::shared_ptr<const Catalog> catalog;
  if (!catalog_.empty()) {
    auto c = Catalog::Load(catalog_);
    if (!c.ok()) return fail(c.status());
    catalog = std::make_shared<const Catalog>(std::move(*c));
  }
  auto rec = Recommender::Create(std::make_shared<const Model>(std::move(*model)), catalog, recommender_options_);
  if (!rec.ok()) return fail(rec.status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = *rec;
    signature_ = *sig;
    loaded_ = true;
  }
  if (metrics_) {
    metrics_->RecordReload(true);
    metrics_->SetModel((*rec)->model_id(), absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
  }
  Log(absl::StrCat("serving model ", (*rec)->model_id(), " from ", sig->model_path, " (",
                   (*rec)->model().customers.size(), " customers, ", (*rec)->model().products.size(), " products",
                   catalog ? absl::StrCat(", catalog of ", catalog->size(), " products") : "", ")"));
  if (changed != nullptr) *changed = true;
  return absl::OkStatus();
}

std::shared_ptr<const Recommender> ModelSource::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
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
