#include "server/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/http_transport.h"

namespace aisle {

void Metrics::SetConnectionStats(const HttpTransportStats* stats) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_ = stats;
}

std::string PrometheusLabelValue(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void Metrics::AddExtra(std::function<std::string()> extra) {
  std::lock_guard<std::mutex> lock(mu_);
  extras_.push_back(std::move(extra));
}

void Metrics::ClearExtras() {
  std::lock_guard<std::mutex> lock(mu_);
  extras_.clear();
}

void Metrics::Record(const std::string& endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
  Histogram& h = latency_[endpoint];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::RecordReload(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(ok ? reloads_ok_ : reloads_failed_);
}

void Metrics::SetModel(const std::string& model_id, double loaded_at_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  model_id_ = model_id;
  loaded_at_ = loaded_at_unix;
}

void Metrics::RecordOffersReload(bool ok, size_t offers) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(ok ? offer_reloads_ok_ : offer_reloads_failed_);
  offers_ = offers;
}

void Metrics::RecordImpressions(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  impressions_ += n;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP aisle_requests_total Requests served, by endpoint and HTTP status.\n";
  out += "# TYPE aisle_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    absl::StrAppendFormat(&out, "aisle_requests_total{endpoint=\"%s\",status=\"%d\"} %d\n", key.first, key.second, n);
  }
  out += "# HELP aisle_request_duration_seconds Request latency, by endpoint.\n";
  out += "# TYPE aisle_request_duration_seconds histogram\n";
  for (const auto& [ep, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      absl::StrAppendFormat(&out, "aisle_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %d\n", ep,
                            kBuckets[i], h.buckets[i]);
    }
    absl::StrAppendFormat(&out, "aisle_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %d\n", ep, h.count);
    absl::StrAppendFormat(&out, "aisle_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n", ep, h.sum);
    absl::StrAppendFormat(&out, "aisle_request_duration_seconds_count{endpoint=\"%s\"} %d\n", ep, h.count);
  }
  out += "# HELP aisle_model_info The model being served (value 1).\n# TYPE aisle_model_info gauge\n";
  absl::StrAppendFormat(&out, "aisle_model_info{model_id=\"%s\"} 1\n", PrometheusLabelValue(model_id_));
  out += "# HELP aisle_model_loaded_timestamp_seconds When the served model was loaded.\n";
  out += "# TYPE aisle_model_loaded_timestamp_seconds gauge\n";
  absl::StrAppendFormat(&out, "aisle_model_loaded_timestamp_seconds %.3f\n", loaded_at_);
  out += "# HELP aisle_model_reloads_total Model reload attempts, by result.\n# TYPE aisle_model_reloads_total counter\n";
  absl::StrAppendFormat(&out, "aisle_model_reloads_total{result=\"ok\"} %d\n", reloads_ok_);
  absl::StrAppendFormat(&out, "aisle_model_reloads_total{result=\"failed\"} %d\n", reloads_failed_);
  out += "# HELP aisle_offer_catalog_reloads_total Offer catalog loads, by result.\n";
  out += "# TYPE aisle_offer_catalog_reloads_total counter\n";
  absl::StrAppendFormat(&out, "aisle_offer_catalog_reloads_total{result=\"ok\"} %d\n", offer_reloads_ok_);
  absl::StrAppendFormat(&out, "aisle_offer_catalog_reloads_total{result=\"failed\"} %d\n", offer_reloads_failed_);
  out += "# HELP aisle_offers Offers in the serving offer catalog.\n# TYPE aisle_offers gauge\n";
  absl::StrAppendFormat(&out, "aisle_offers %d\n", offers_);
  out += "# HELP aisle_offer_impressions_total Offer impressions recorded.\n";
  out += "# TYPE aisle_offer_impressions_total counter\n";
  absl::StrAppendFormat(&out, "aisle_offer_impressions_total %d\n", impressions_);
  out += "# HELP aisle_customer_recommendations_answered_total Customer recommendation answers, by how they were "
         "computed: from the precomputed top lists, by scoring the catalog, by popularity (unknown customer, or "
         "no consent), or with the customer's live events folded in.\n";
  out += "# TYPE aisle_customer_recommendations_answered_total counter\n";
  const char* names[] = {"top_list", "scoring", "popularity", "live"};
  for (int i = 0; i < 4; ++i) {
    absl::StrAppendFormat(&out, "aisle_customer_recommendations_answered_total{by=\"%s\"} %d\n", names[i],
                          answers_[i].load(std::memory_order_relaxed));
  }
  out += "# HELP aisle_scoring_batches_total Batches of customer requests scored together.\n";
  out += "# TYPE aisle_scoring_batches_total counter\n";
  absl::StrAppendFormat(&out, "aisle_scoring_batches_total %d\n", batches_.load(std::memory_order_relaxed));
  out += "# HELP aisle_scoring_batched_requests_total Requests in those batches (divided by the batches: the "
         "mean batch size).\n";
  out += "# TYPE aisle_scoring_batched_requests_total counter\n";
  absl::StrAppendFormat(&out, "aisle_scoring_batched_requests_total %d\n",
                        batched_requests_.load(std::memory_order_relaxed));
  if (const HttpTransportStats* c = connections_) {
    auto counter = [&out](const char* name, const char* help, const char* type, uint64_t v) {
      absl::StrAppendFormat(&out, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, type, name, v);
    };
    counter("aisle_http_connections_open", "HTTP connections open now.", "gauge", c->open.load());
    counter("aisle_http_connections_accepted_total", "HTTP connections accepted.", "counter", c->accepted.load());
    counter("aisle_http_connections_refused_total", "Connections closed at once: over --max_connections.",
            "counter", c->refused.load());
    counter("aisle_http_connections_idle_closed_total", "Connections closed after the keep-alive timeout.",
            "counter", c->idle_closed.load());
    counter("aisle_http_connections_timed_out_total",
            "Connections closed because a request or an answer did not get through in time.", "counter",
            c->timed_out.load());
    counter("aisle_http_malformed_requests_total",
            "Requests the HTTP layer refused (malformed, too large) before any handler.", "counter",
            c->parse_errors.load());
    counter("aisle_http_refused_at_head_total",
            "Requests refused (401, 403) when their head arrived, before their body was read.", "counter",
            c->refused_at_head.load());
    counter("aisle_http_over_budget_total",
            "Requests refused (503) while all connections' buffers were over --max_buffered_mb.", "counter",
            c->over_budget.load());
    counter("aisle_http_buffered_bytes", "Bytes of requests buffered and answers queued, all connections.", "gauge",
            static_cast<uint64_t>(std::max<int64_t>(0, c->buffered_bytes())));
  }
  for (const auto& extra : extras_) out += extra();
  return out;
}

}  // namespace aisle
