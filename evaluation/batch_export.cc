#include "evaluation/batch_export.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/csv_reader.h"
#include "engine/json_text.h"

namespace aisle {
namespace {

constexpr size_t kBatch = 8;  // customers per pass of the fused kernel (the server's --max_batch)

struct Answer {
  std::string customer;
  absl::StatusOr<CustomerAnswer> recs = absl::InternalError("not answered");
  std::optional<absl::StatusOr<OfferResult>> offers;
  bool no_consent = false;
};


void AppendLine(const Recommender& r, const OfferRanker* ranker, const Answer& a, BatchFormat format,
                std::string* out) {
  const IdMap& products = r.model().products;
  const RecommendResult& res = a.recs->result;
  const char* fallback = a.no_consent ? "no_consent" : res.fallback ? "popularity" : nullptr;
  if (format == BatchFormat::kCsv) {
    for (size_t i = 0; i < res.items.size(); ++i) {
      AppendCsvField(a.customer, out);
      absl::StrAppend(out, ",product,", i + 1, ",");
      AppendCsvField(products.id_view(res.items[i].product), out);
      out->push_back(',');
      AppendJsonFloat(out, res.items[i].score);
      absl::StrAppend(out, ",", fallback ? fallback : "", "\n");
    }
    if (a.offers && a.offers->ok()) {
      const OfferResult& o = **a.offers;
      for (size_t i = 0; i < o.offers.size(); ++i) {
        AppendCsvField(a.customer, out);
        absl::StrAppend(out, ",offer,", i + 1, ",");
        AppendCsvField(ranker->catalog().offers()[o.offers[i].offer].id, out);
        out->push_back(',');
        AppendJsonFloat(out, o.offers[i].score);
        absl::StrAppend(out, ",", a.no_consent ? "no_consent" : o.fallback ? "popularity" : "", "\n");
      }
    }
    return;
  }
  out->append("{\"customer_id\":");
  AppendJsonString(out, a.customer);
  out->append(",\"fallback\":");
  if (fallback != nullptr) {
    AppendJsonString(out, fallback);
  } else {
    out->append("null");
  }
  if (res.live_events > 0) absl::StrAppend(out, ",\"live_events\":", res.live_events);
  if (a.offers && a.offers->ok()) {
    out->append(",\"offers\":[");
    const OfferResult& o = **a.offers;
    for (size_t i = 0; i < o.offers.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append("{\"offer_id\":");
      AppendJsonString(out, ranker->catalog().offers()[o.offers[i].offer].id);
      out->append(",\"score\":");
      AppendJsonFloat(out, o.offers[i].score);
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->append(",\"recommendations\":[");
  for (size_t i = 0; i < res.items.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append("{\"product_id\":");
    AppendJsonString(out, products.id_view(res.items[i].product));
    out->append(",\"score\":");
    AppendJsonFloat(out, res.items[i].score);
    out->push_back('}');
  }
  out->append("]}\n");
}

}  // namespace

absl::string_view BatchCsvHeader() { return "customer_id,kind,rank,id,score,fallback\n"; }

absl::StatusOr<BatchExportStats> ExportBatch(const Recommender& r, const OfferRanker* ranker,
                                             absl::Span<const std::string> customers,
                                             const BatchCustomerState& state, const BatchExportOptions& o,
                                             const std::function<absl::Status(absl::string_view)>& write) {
  if (o.recommend.count == 0) return absl::InvalidArgumentError("count must be at least 1");
  if (o.offer_count > 0 && ranker == nullptr) return absl::InvalidArgumentError("offers need an offer catalog");
  BatchExportStats stats;
  if (o.format == BatchFormat::kCsv) {
    if (absl::Status s = write(BatchCsvHeader()); !s.ok()) return s;
    stats.bytes += BatchCsvHeader().size();
  }
  OfferOptions offer_options = o.offers;
  offer_options.count = o.offer_count;
  const size_t chunk = std::max<size_t>(o.chunk, kBatch);
  for (size_t begin = 0; begin < customers.size(); begin += chunk) {
    const size_t end = std::min(customers.size(), begin + chunk);
    const size_t batches = (end - begin + kBatch - 1) / kBatch;
    std::vector<std::string> text(batches);
    std::vector<BatchExportStats> counts(batches);
    std::vector<absl::Status> errors(batches);
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t b = 0; b < batches; ++b) {
      const size_t first = begin + b * kBatch, last = std::min(end, first + kBatch);
      std::vector<Answer> answers;
      std::vector<CustomerRequest> requests;
      std::vector<size_t> asked;  // answers index of each request
      for (size_t i = first; i < last; ++i) {
        const std::string& id = customers[i];
        if (state.skip && state.skip(id)) {
          ++counts[b].skipped;
          continue;
        }
        Answer a;
        a.customer = id;
        a.no_consent = state.consent && !state.consent(id);
        std::shared_ptr<const LiveProfile> live = !a.no_consent && state.live ? state.live(id) : nullptr;
        if (a.no_consent) {
          auto p = r.Popularity(o.recommend);
          a.recs = p.ok() ? absl::StatusOr<CustomerAnswer>(CustomerAnswer{*std::move(p), AnswerSource::kPopularity})
                          : absl::StatusOr<CustomerAnswer>(p.status());
        } else {
          asked.push_back(answers.size());
          requests.push_back({id, o.recommend, live});
        }
        if (ranker != nullptr && o.offer_count > 0) {
          a.offers = a.no_consent ? ranker->Popular(offer_options, /*new_customer=*/false)
                                  : ranker->ForCustomer(id, offer_options, live.get());
        }
        answers.push_back(std::move(a));
      }
      std::vector<absl::StatusOr<CustomerAnswer>> results = r.RecommendBatch(requests);
      for (size_t j = 0; j < asked.size(); ++j) answers[asked[j]].recs = std::move(results[j]);
      for (const Answer& a : answers) {
        if (!a.recs.ok()) {
          errors[b] = a.recs.status();
          break;
        }
        if (a.offers && !a.offers->ok()) {
          errors[b] = a.offers->status();
          break;
        }
        ++counts[b].customers;
        if (a.no_consent) {
          ++counts[b].no_consent;
        } else if (a.recs->source == AnswerSource::kPopularity) {
          ++counts[b].popularity;
        } else {
          ++counts[b].personalized;
          if (a.recs->source == AnswerSource::kLive) ++counts[b].live;
        }
        AppendLine(r, ranker, a, o.format, &text[b]);
      }
    }
    for (size_t b = 0; b < batches; ++b) {
      if (!errors[b].ok()) return errors[b];
      if (absl::Status s = write(text[b]); !s.ok()) return s;
      stats.bytes += text[b].size();
      stats.customers += counts[b].customers;
      stats.personalized += counts[b].personalized;
      stats.live += counts[b].live;
      stats.popularity += counts[b].popularity;
      stats.no_consent += counts[b].no_consent;
      stats.skipped += counts[b].skipped;
    }
    if (o.progress) o.progress(end, customers.size());
  }
  return stats;
}

}  // namespace aisle
