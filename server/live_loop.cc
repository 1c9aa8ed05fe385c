#include "server/live_loop.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/impression_log.h"
#include "server/metrics.h"

namespace aisle {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

// The end of the model's data, in Unix ms: erasures after it are not in it.
int64_t ModelCutoffMs(const Model& m) { return m.last_event_unix * 1000 + 999; }

}  // namespace

absl::StatusOr<std::unique_ptr<LiveLoop>> LiveLoop::Open(LiveLoopOptions options, const Model* model,
                                                         OpenStats* stats) {
  OpenStats local;
  if (stats == nullptr) stats = &local;
  std::unique_ptr<LiveLoop> l(new LiveLoop(options));
  auto journal = EventJournal::Open(options.dir, options.journal, &stats->journal);
  if (!journal.ok()) return journal.status();
  l->journal_ = std::move(*journal);
  auto ledger = CustomerLedger::Open(options.dir, options.journal.sync);
  if (!ledger.ok()) return ledger.status();
  l->ledger_ = std::move(*ledger);
  l->any_erased_ = l->ledger_->erasures() > 0;
  if (absl::Status s = l->Replay(model, /*ids=*/true, stats); !s.ok()) return s;
  if (model != nullptr) {
    l->horizon_segment_ = model->events_through_segment;
    l->horizon_unix_ = model->last_event_unix;
  }
  return l;
}

LiveLoop::~LiveLoop() = default;

absl::Status LiveLoop::Replay(const Model* model, bool ids, OpenStats* stats) {
  auto segments = EventJournal::ListSegments(options_.dir, /*include_open=*/true);
  if (!segments.ok()) return segments.status();
  const CustomerLedger::State ledger = ledger_->Snapshot();
  absl::flat_hash_map<std::string, std::optional<int64_t>> erased;  // per customer id seen
  const int64_t now = NowMs();
  const auto arrival = std::chrono::steady_clock::now();
  for (const EventJournal::Segment& seg : *segments) {
    const bool live = model == nullptr || model->events_through_segment == 0 || seg.number > model->events_through_segment;
    struct stat st;
    const bool recent = ids && ::stat(seg.path.c_str(), &st) == 0 &&
                        int64_t{st.st_mtime} * 1000 >= now - options_.event_id_window_ms;
    if (!live && !recent) continue;
    absl::Status s = EventJournal::ReadSegment(
        seg.path,
        [&](LiveEvent&& e) {
          auto [it, inserted] = erased.try_emplace(e.customer_id);
          if (inserted) it->second = ledger.ErasedAt(e.customer_id);
          if (it->second && *it->second >= e.received_ms) return;  // erased since
          if (ErasedSince(e.customer_id, e.received_ms)) return;
          if (recent && !e.event_id.empty() && e.received_ms >= now - options_.event_id_window_ms) {
            ids_.Remember(ids_.KeyOf(e.customer_id, e.event_id), e.received_ms);
          }
          if (live && (model == nullptr || !LiveEvents::SeenBy(*model, seg.number, e.received_ms))) {
            live_.Add(e, seg.number, arrival);
            if (stats != nullptr) ++stats->replayed;
          }
        },
        stats != nullptr ? &stats->damaged_lines : nullptr);
    if (!s.ok()) return s;
  }
  if (ids) ids_.Finish(now);
  return absl::OkStatus();
}

bool LiveLoop::Personalize(absl::string_view customer) const {
  auto c = ledger_->Consent(customer);
  return c ? c->personalization : options_.default_consent;
}

std::optional<ConsentRecord> LiveLoop::ConsentOf(absl::string_view customer) const { return ledger_->Consent(customer); }

std::shared_ptr<const absl::flat_hash_set<uint32_t>> LiveLoop::ErasedRows(const Model& model) {
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    if (auto it = erased_rows_.find(model.instance.value()); it != erased_rows_.end()) return it->second;
  }
  // Customers erased after the model's data whose rows it holds: the
  // pseudonyms of the model's customers against the ledger's.
  const CustomerLedger::State state = ledger_->Snapshot();
  auto rows = std::make_shared<absl::flat_hash_set<uint32_t>>();
  const int64_t cutoff = ModelCutoffMs(model);
  absl::flat_hash_set<std::string> after;
  for (const auto& [p, at] : state.erased) {
    if (at > cutoff) after.insert(p);
  }
  if (!after.empty()) {
    const int64_t n = static_cast<int64_t>(model.customers.size());
    std::vector<char> hit(static_cast<size_t>(n), 0);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n; ++c) {
      hit[c] = after.contains(CustomerLedger::Pseudonym(state.key, model.customers.id_view(static_cast<uint32_t>(c))));
    }
    for (int64_t c = 0; c < n; ++c) {
      if (hit[c]) rows->insert(static_cast<uint32_t>(c));
    }
  }
  std::lock_guard<std::mutex> lock(erased_mu_);
  auto [it, inserted] = erased_rows_.try_emplace(model.instance.value(), std::move(rows));
  if (inserted) {
    erased_rows_order_.push_back(model.instance.value());
    if (erased_rows_order_.size() > 4) {
      erased_rows_.erase(erased_rows_order_.front());
      erased_rows_order_.pop_front();
    }
  }
  return it->second;
}

bool LiveLoop::ErasedSince(absl::string_view customer, int64_t received_ms) const {
  if (!any_erased_.load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> lock(erased_mu_);
  auto it = erased_ids_.find(customer);
  return it != erased_ids_.end() && it->second >= received_ms;
}

bool LiveLoop::Forget(const Model& model, absl::string_view customer) {
  if (!any_erased_.load(std::memory_order_relaxed)) return false;
  const std::optional<uint32_t> row = model.customers.Find(customer);
  if (!row) return false;
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    if (auto it = erased_ids_.find(customer); it != erased_ids_.end() && it->second > ModelCutoffMs(model)) return true;
  }
  return ErasedRows(model)->contains(*row);
}

std::shared_ptr<const LiveProfile> LiveLoop::Profile(const Model& model, absl::string_view customer) {
  std::optional<double> waited;
  std::shared_ptr<const LiveProfile> p = live_.Profile(customer, model, &waited);
  if (Forget(model, customer)) {
    auto f = p ? std::make_shared<LiveProfile>(*p) : std::make_shared<LiveProfile>();
    f->forget_model_row = true;
    p = std::move(f);
  }
  if (p != nullptr || waited) {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    if (p != nullptr && !p->products.empty()) ++fold_ins_;
    if (waited) {
      ++wait_count_;
      wait_sum_ += *waited;
      for (size_t b = 0; b < std::size(kWaitBuckets); ++b) {
        if (*waited <= kWaitBuckets[b]) ++wait_buckets_[b];
      }
    }
  }
  return p;
}

void LiveLoop::Accept(std::vector<LiveEvent> events, std::chrono::steady_clock::time_point arrival,
                      std::function<void(absl::StatusOr<Accepted>)> done) {
  Accepted counts;
  enum : uint8_t { kKeep, kNoConsent, kDuplicate };
  std::vector<uint8_t> verdict(events.size(), kKeep);
  std::vector<size_t> with_id;  // indexes of consenting events with an id
  std::vector<EventIds::Key> keys;
  std::vector<int64_t> received;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!Personalize(events[i].customer_id)) {
      verdict[i] = kNoConsent;
      continue;
    }
    if (events[i].event_id.empty()) continue;
    with_id.push_back(i);
    keys.push_back(ids_.KeyOf(events[i].customer_id, events[i].event_id));
    received.push_back(events[i].received_ms);
  }
  std::shared_ptr<EventIds::Claim> claim;
  if (!keys.empty()) {
    std::vector<bool> duplicate;
    // An id another request is still writing: this request waits for that
    // one's outcome and is then taken again from the start (its events
    // held where the retry takes them from, before the retry can run).
    auto pending = std::make_shared<std::vector<LiveEvent>>(std::move(events));
    claim = ids_.TryClaim(keys, received, &duplicate, [this, pending, arrival, done] {
      Accept(std::move(*pending), arrival, done);
    });
    if (claim == nullptr) return;
    events = std::move(*pending);  // claimed: the retry was dropped, nobody else holds them
    for (size_t k = 0; k < with_id.size(); ++k) {
      if (duplicate[k]) verdict[with_id[k]] = kDuplicate;
    }
  }
  std::vector<LiveEvent> kept;
  kept.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    switch (verdict[i]) {
      case kNoConsent: ++counts.no_consent; break;
      case kDuplicate: ++counts.duplicates; break;
      default: kept.push_back(std::move(events[i]));
    }
  }
  counts.stored = kept.size();
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    duplicates_ += counts.duplicates;
    no_consent_ += counts.no_consent;
  }
  if (kept.empty()) {
    if (claim != nullptr) ids_.Settle(claim, /*durable=*/true);
    done(counts);
    return;
  }
  std::string lines;
  for (const LiveEvent& e : kept) AppendJournalLine(e, &lines);
  auto shared = std::make_shared<std::vector<LiveEvent>>(std::move(kept));
  journal_->Append(std::move(lines), shared->size(),
                   [this, shared, claim, counts, arrival, done = std::move(done)](absl::Status s, uint64_t segment) {
                     if (!s.ok()) {
                       {
                         std::lock_guard<std::mutex> lock(metrics_mu_);
                         ++write_failures_;
                       }
                       // The ids are unknown again (retries waiting store
                       // the events themselves) before the answer goes.
                       if (claim != nullptr) ids_.Settle(claim, /*durable=*/false);
                       done(s);
                       return;
                     }
                     for (const LiveEvent& e : *shared) {
                       if (!ErasedSince(e.customer_id, e.received_ms)) live_.Add(e, segment, arrival);
                     }
                     {
                       std::lock_guard<std::mutex> lock(metrics_mu_);
                       accepted_ += shared->size();
                     }
                     // Durable: remembered, and retries waiting are duplicates.
                     if (claim != nullptr) ids_.Settle(claim, /*durable=*/true);
                     done(counts);
                   });
}

absl::Status LiveLoop::SetConsent(absl::string_view customer, bool personalization) {
  absl::Status s = ledger_->SetConsent(customer, personalization, NowMs());
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++(personalization ? consent_granted_ : consent_denied_);
  }
  return s;
}

absl::StatusOr<LiveLoop::Receipt> LiveLoop::Erase(absl::string_view customer, const Model* serving,
                                                  ImpressionLog* impressions) {
  Receipt r;
  r.erased_at_ms = NowMs();
  // First what answers use, so that none uses it from here on.
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    erased_ids_[std::string(customer)] = r.erased_at_ms;
    any_erased_ = true;
  }
  r.live_events = live_.Erase(customer);
  r.model_row = serving != nullptr && serving->customers.Find(customer).has_value();
  if (impressions != nullptr) {
    auto n = impressions->Erase(customer);
    if (!n.ok()) return n.status();
    r.impressions = *n;
  }
  auto had = ledger_->Erase(customer, r.erased_at_ms);
  if (!had.ok()) return had.status();
  r.consent_record = *had;
  // Close the segment being written, so that every event of theirs is in a
  // closed segment that compaction rewrites.
  if (absl::Status s = journal_->Rotate(); !s.ok()) return s;
  r.journal_rotated = true;
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++erasures_;
  return r;
}

void LiveLoop::ModelLoading(const Model& model) {
  if (any_erased_.load()) (void)ErasedRows(model);
}

void LiveLoop::ModelServing(const Model& model) {
  std::lock_guard<std::mutex> lock(model_mu_);
  const bool older = model.events_through_segment < horizon_segment_ ||
                     (model.events_through_segment == 0 && horizon_segment_ == 0 && model.last_event_unix < horizon_unix_);
  if (older) {
    // A roll-back: events the newer model held are live again; read them
    // back from the journal.
    live_.Clear();
    (void)Replay(&model, /*ids=*/false, nullptr);
    std::lock_guard<std::mutex> g(metrics_mu_);
    ++rebuilds_;
  } else {
    live_.DropSeenBy(model);
  }
  horizon_segment_ = model.events_through_segment;
  horizon_unix_ = model.last_event_unix;
}

void LiveLoop::RecordRefused(const std::string& reason) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++refused_[reason];
}

std::string LiveLoop::RenderMetrics() const {
  std::string out;
  const LiveEvents::Stats live = live_.stats();
  const EventJournal::Stats j = journal_->stats();
  std::lock_guard<std::mutex> lock(metrics_mu_);
  absl::StrAppend(&out, "# HELP aisle_events_total Storefront events by outcome.\n# TYPE aisle_events_total counter\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"accepted\"} ", accepted_, "\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"duplicate\"} ", duplicates_, "\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"no_consent\"} ", no_consent_, "\n");
  absl::StrAppend(&out, "# HELP aisle_event_requests_refused_total Event requests refused, by reason.\n"
                        "# TYPE aisle_event_requests_refused_total counter\n");
  for (const auto& [reason, n] : refused_) {
    absl::StrAppend(&out, "aisle_event_requests_refused_total{reason=\"", PrometheusLabelValue(reason), "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "aisle_event_requests_refused_total{reason=\"write_failed\"} ", write_failures_, "\n");
  absl::StrAppend(&out, "# HELP aisle_event_ids Event ids remembered for retries.\n# TYPE aisle_event_ids gauge\n",
                  "aisle_event_ids ", ids_.size(), "\n# HELP aisle_event_ids_in_flight Event ids of requests being written.\n",
                  "# TYPE aisle_event_ids_in_flight gauge\naisle_event_ids_in_flight ", ids_.in_flight(),
                  "\n# HELP aisle_event_id_bytes Memory held by the event ids.\n# TYPE aisle_event_id_bytes gauge\n",
                  "aisle_event_id_bytes ", ids_.bytes(), "\n");
  absl::StrAppend(&out, "# TYPE aisle_event_journal_syncs_total counter\naisle_event_journal_syncs_total ", j.syncs,
                  "\n# TYPE aisle_event_journal_appends_total counter\naisle_event_journal_appends_total ", j.appends,
                  "\n# TYPE aisle_event_journal_bytes_total counter\naisle_event_journal_bytes_total ", j.bytes,
                  "\n# TYPE aisle_event_journal_segment gauge\naisle_event_journal_segment ", j.segment, "\n");
  absl::StrAppend(&out, "# HELP aisle_live_customers Customers with live events in memory.\n# TYPE aisle_live_customers gauge\n",
                  "aisle_live_customers ", live.customers, "\n# TYPE aisle_live_events gauge\naisle_live_events ",
                  live.events, "\n# HELP aisle_live_bytes Memory held by live events.\n# TYPE aisle_live_bytes gauge\n",
                  "aisle_live_bytes ", live.bytes, "\n# TYPE aisle_live_bytes_limit gauge\naisle_live_bytes_limit ",
                  options_.live.max_bytes, "\n# TYPE aisle_live_evicted_customers_total counter\n",
                  "aisle_live_evicted_customers_total ", live.evicted_customers, "\n");
  absl::StrAppend(&out, "# TYPE aisle_consent_changes_total counter\naisle_consent_changes_total{personalization=\"granted\"} ",
                  consent_granted_, "\naisle_consent_changes_total{personalization=\"denied\"} ", consent_denied_,
                  "\n# TYPE aisle_erasures_total counter\naisle_erasures_total ", erasures_,
                  "\n# HELP aisle_fold_ins_total Answers re-folded with live events.\n# TYPE aisle_fold_ins_total counter\n",
                  "aisle_fold_ins_total ", fold_ins_, "\n# TYPE aisle_live_rebuilds_total counter\naisle_live_rebuilds_total ",
                  rebuilds_, "\n");
  absl::StrAppend(&out, "# HELP aisle_event_to_answer_seconds Time from an event's request to the first answer that used it.\n"
                        "# TYPE aisle_event_to_answer_seconds histogram\n");
  for (size_t b = 0; b < std::size(kWaitBuckets); ++b) {
    absl::StrAppendFormat(&out, "aisle_event_to_answer_seconds_bucket{le=\"%g\"} %d\n", kWaitBuckets[b], wait_buckets_[b]);
  }
  absl::StrAppendFormat(&out, "aisle_event_to_answer_seconds_bucket{le=\"+Inf\"} %d\n", wait_count_);
  absl::StrAppendFormat(&out, "aisle_event_to_answer_seconds_sum %.6f\naisle_event_to_answer_seconds_count %d\n", wait_sum_,
                        wait_count_);
  return out;
}

}  // namespace aisle
