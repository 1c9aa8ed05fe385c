// The console's endpoints (HttpServer, server/http_server.h): the page, its
// script and style (compiled in: server/embedded_files.h) and Chart.js (the
// file Debian's libjs-chart.js installs, read at start), none of which holds
// a secret; and the admin endpoints only the console needed: the published
// model versions with their gate metrics, a roll-back through the publish
// directory's `current` (engine/model_registry.h), and the latest experiment
// report. Everything the console shows comes from the public API.
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/atomic_file.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "server/embedded_files.h"
#include "server/http_server.h"
#include "server/request_params.h"

namespace aisle {
namespace {

using json = nlohmann::json;

// A file's identity for the cache: size and modification time.
std::string FileIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

// What the console shows of a version: its metadata's summary.
json VersionSummary(const std::string& path) {
  auto m = MapModel(path);
  if (!m.ok()) return {{"error", std::string(m.status().message())}};
  const json& meta = m->metadata;
  json s = {{"model_id", m->model_id},
            {"customers", m->customers.size()},
            {"products", m->products.size()},
            {"algorithm", meta.value("algorithm", "ials")},
            {"created_at", meta.value("created_at", "")},
            {"gate", meta.contains("gate") ? meta["gate"] : json(nullptr)}};
  if (meta.contains("data") && meta["data"].is_object()) {
    const json& d = meta["data"];
    s["data"] = {{"first_event", d.value("first_event", "")},
                 {"last_event", d.value("last_event", "")},
                 {"events", d.value("events", 0)}};
  }
  return s;
}

// The publish directory the server follows (404 when it serves a file).
const std::string& PublishDirectory(const ModelSource& source) {
  const std::string& dir = source.model_location();
  if (!std::filesystem::is_directory(dir)) {
    Fail(404, "not_found", "the server serves a model file, not a publish directory (--model DIR)");
  }
  return dir;
}

}  // namespace

HttpServer::Reply HttpServer::ConsolePage(const HttpRequest&) {
  return Reply{200, std::string(*EmbeddedFile("server/console/index.html")), "text/html; charset=utf-8"};
}

HttpServer::Reply HttpServer::ConsoleFile(const HttpRequest& req) {
  const std::string name = PathId(req, 64);
  if (name == "chart.js") {
    // Without Chart.js installed, a script that says so: the page then
    // shows tables (and the browser logs no failed load).
    return Reply{200, options_.console_chartjs.empty() ? "/* no Chart.js: apt install libjs-chart.js */\n"
                                                       : options_.console_chartjs,
                 "text/javascript; charset=utf-8"};
  }
  if (name == "console.js") {
    return Reply{200, std::string(*EmbeddedFile("server/console/console.js")), "text/javascript; charset=utf-8"};
  }
  if (name == "console.css") {
    return Reply{200, std::string(*EmbeddedFile("server/console/console.css")), "text/css; charset=utf-8"};
  }
  if (name == "index.html") return ConsolePage(req);
  Fail(404, "not_found", "no such console file");
}

HttpServer::Reply HttpServer::AdminModels(const HttpRequest&) {
  const std::string& dir = PublishDirectory(*source_);
  auto versions = ListVersions(dir);
  if (!versions.ok()) FailStatus(versions.status());
  auto current = CurrentModelPath(dir);
  auto serving = source_->Current();
  json out = {{"publish_dir", dir},
              {"serving", serving ? json(serving->model_id()) : json(nullptr)},
              {"current_version", nullptr},
              {"versions", json::array()}};
  for (const PublishedVersion& v : *versions) {
    const std::string id = FileIdentity(v.path);
    json summary;
    {
      std::lock_guard<std::mutex> lock(versions_mu_);
      auto it = versions_cache_.find(v.path);
      if (it != versions_cache_.end() && it->second.first == id) summary = it->second.second;
    }
    if (summary.is_null()) {
      summary = VersionSummary(v.path);
      std::lock_guard<std::mutex> lock(versions_mu_);
      if (versions_cache_.size() > 64) versions_cache_.clear();
      versions_cache_[v.path] = {id, summary};
    }
    const bool is_current = current.ok() && std::filesystem::equivalent(*current, v.path);
    if (is_current) out["current_version"] = v.version;
    summary["version"] = v.version;
    summary["current"] = is_current;
    summary["serving"] = serving != nullptr && summary.value("model_id", "") == serving->model_id();
    out["versions"].push_back(std::move(summary));
  }
  return Reply{200, out.dump()};
}

HttpServer::Reply HttpServer::AdminRollback(const HttpRequest& req) {
  const std::string& dir = PublishDirectory(*source_);
  json body = ParseBody(req, options_.max_body_bytes);
  if (!body.contains("version") || !body["version"].is_number_unsigned() || body.size() != 1) {
    Fail(400, "invalid_argument", "the body must be {\"version\": N}, a published version (GET /v1/admin/models)");
  }
  const uint64_t version = body["version"].get<uint64_t>();
  if (absl::Status s = SwitchCurrent(dir, version); !s.ok()) {
    if (absl::IsNotFound(s)) Fail(404, "not_found", std::string(s.message()));
    Fail(422, "rollback_refused", std::string(s.message()));
  }
  bool changed = false;
  if (absl::Status s = source_->Reload(/*force=*/false, &changed); !s.ok()) {
    Fail(422, "reload_refused", absl::StrCat("current now points at version ", version, " but it did not load: ",
                                             s.message()));
  }
  auto r = source_->Current();
  return Reply{200, json{{"version", version}, {"model_version", r ? r->model_id() : ""}, {"reloaded", changed}}.dump()};
}

HttpServer::Reply HttpServer::AdminExperiments(const HttpRequest&) {
  if (options_.experiment_report.empty()) {
    Fail(404, "not_found",
         "no experiment report: start the server with --experiment_report FILE, written by a scheduled "
         "aisle-eval experiment --json --output FILE");
  }
  std::string text;
  if (absl::Status s = ReadFileToString(options_.experiment_report, &text, size_t{16} << 20); !s.ok()) {
    if (absl::IsNotFound(s)) Fail(404, "not_found", absl::StrCat(options_.experiment_report, " was not written yet"));
    FailStatus(s);
  }
  json report = json::parse(text, nullptr, false);
  if (!report.is_object()) Fail(503, "unavailable", absl::StrCat(options_.experiment_report, " is not a JSON report"));
  struct stat st;
  json out = {{"path", options_.experiment_report}, {"report", std::move(report)}};
  if (::stat(options_.experiment_report.c_str(), &st) == 0) {
    out["updated_at"] = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromTimeT(st.st_mtime), absl::UTCTimeZone());
  }
  return Reply{200, out.dump()};
}

}  // namespace aisle
