#include "live/live_loop.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "live/file_live_store.h"
#include "live/impression_log.h"

namespace aisle {
namespace {

// The end of the model's data, in Unix ms: erasures after it are not in it.
int64_t ModelCutoffMs(const Model& m) { return m.last_event_unix * 1000 + 999; }

}  // namespace

absl::StatusOr<std::unique_ptr<LiveLoop>> LiveLoop::Open(LiveLoopOptions options, const Model* model,
                                                         OpenStats* stats) {
  OpenStats local;
  if (stats == nullptr) stats = &local;
  std::unique_ptr<LiveLoop> l(new LiveLoop(options));
  const auto arrival = std::chrono::steady_clock::now();
  // What the model holds, known before the store is open (its events are
  // read back through it).
  LiveEvents::Horizon horizon;
  if (model != nullptr) horizon = LiveEvents::HorizonOf(*model);
  if (options.redis && horizon.through > 0) {
    auto through = RedisLiveStore::ArchivedThrough(*options.redis, horizon.through);
    if (!through.ok()) return through.status();
    horizon.through = *through;
  }
  if (model != nullptr) l->horizons_[model->instance.value()] = horizon;
  const LiveStore::EventFn on_live = [&](LiveEvent&& e, LiveStore::Position at) {
    stats->replayed += l->AddUnseen(model, e, at, arrival);
  };
  if (options.redis) {
    RedisLiveStore::Options ro = *options.redis;
    ro.event_id_window_ms = options.event_id_window_ms;
    auto store = RedisLiveStore::Open(ro, horizon.through, on_live);
    if (!store.ok()) return store.status();
    l->store_ = std::move(*store);
  } else {
    FileLiveStore::Options so;
    so.journal = options.journal;
    so.ids = {options.event_id_window_ms, options.max_event_ids};
    FileLiveStore::OpenStats opened;
    auto store = FileLiveStore::Open(options.dir, so, model == nullptr ? 0 : model->events_through_segment, on_live,
                                     &opened);
    if (!store.ok()) return store.status();
    stats->journal = opened.journal;
    stats->damaged_lines = opened.damaged_lines;
    l->store_ = std::move(*store);
  }
  // What other servers sharing the store do, as it arrives: their events
  // are new to every model this server has; their erasures hold here at once.
  LiveLoop* lp = l.get();
  l->store_->Follow({[lp](LiveEvent&& e, LiveStore::Position at) {
                       if (!lp->ErasedSince(e.customer_id, e.received_ms)) {
                         lp->live_.Add(e, at, std::chrono::steady_clock::now());
                       }
                     },
                     [lp](const std::string& customer, int64_t at_ms) {
                       lp->EraseInMemory(customer, at_ms);
                       std::lock_guard<std::mutex> lock(lp->metrics_mu_);
                       ++lp->followed_erasures_;
                     },
                     [lp](const absl::flat_hash_map<std::string, int64_t>& at_ms_by_pseudonym, const std::string& key) {
                       lp->EraseByPseudonym(at_ms_by_pseudonym, key);
                     }});
  l->any_erased_ = l->store_->erasures() > 0;
  if (model != nullptr) {
    l->horizon_segment_ = model->events_through_segment;
    l->horizon_unix_ = model->last_event_unix;
  }
  return l;
}

LiveLoop::~LiveLoop() {
  // The store first: an append it is answering applies events to live
  // state and counts them here.
  store_.reset();
}

bool LiveLoop::AddUnseen(const Model* model, const LiveEvent& e, LiveStore::Position at,
                         std::chrono::steady_clock::time_point arrival) {
  if (ErasedSince(e.customer_id, e.received_ms)) return false;
  if (model != nullptr && LiveEvents::SeenBy(HorizonFor(*model), at, e.received_ms)) return false;
  live_.Add(e, at, arrival);
  return true;
}

absl::Status LiveLoop::Replay(const Model* model) {
  const auto arrival = std::chrono::steady_clock::now();
  return store_->ReadEvents(model == nullptr ? 0 : HorizonFor(*model).through,
                            [&](LiveEvent&& e, LiveStore::Position at) { AddUnseen(model, e, at, arrival); });
}

bool LiveLoop::Personalize(absl::string_view customer) const {
  auto c = store_->Consent(customer);
  return c ? c->personalization : options_.default_consent;
}

std::optional<ConsentRecord> LiveLoop::ConsentOf(absl::string_view customer) const { return store_->Consent(customer); }

std::shared_ptr<const absl::flat_hash_set<uint32_t>> LiveLoop::ErasedRows(const Model& model) {
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    if (auto it = erased_rows_.find(model.instance.value()); it != erased_rows_.end()) return it->second;
  }
  // Customers erased after the model's data whose rows it holds: the
  // pseudonyms of the model's customers against the ledger's.
  const CustomerLedger::State state = store_->Snapshot();
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
  std::shared_ptr<const LiveProfile> p = live_.Profile(customer, model, HorizonFor(model), &waited);
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
  std::vector<LiveEvent> kept;
  kept.reserve(events.size());
  for (LiveEvent& e : events) {
    if (!Personalize(e.customer_id)) {
      ++counts.no_consent;
      continue;
    }
    kept.push_back(std::move(e));
  }
  if (kept.empty()) {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    no_consent_ += counts.no_consent;
    done(counts);
    return;
  }
  store_->Append(std::move(kept), [this, counts, arrival, done = std::move(done)](
                                      absl::StatusOr<LiveStore::Appended> a) mutable {
    if (!a.ok()) {
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++write_failures_;
        no_consent_ += counts.no_consent;
      }
      done(a.status());
      return;
    }
    // Durable: into live state before anyone is answered.
    for (size_t i = 0; i < a->events.size(); ++i) {
      const LiveEvent& e = a->events[i];
      if (!a->stored[i]) {
        ++counts.duplicates;
        continue;
      }
      ++counts.stored;
      if (!ErasedSince(e.customer_id, e.received_ms)) live_.Add(e, a->at, arrival);
    }
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      accepted_ += counts.stored;
      duplicates_ += counts.duplicates;
      no_consent_ += counts.no_consent;
    }
    done(counts);
  });
}

absl::Status LiveLoop::SetConsent(absl::string_view customer, bool personalization) {
  absl::Status s = store_->SetConsent(customer, personalization, absl::ToUnixMillis(absl::Now()));
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++(personalization ? consent_granted_ : consent_denied_);
  }
  return s;
}

absl::StatusOr<LiveLoop::Receipt> LiveLoop::Erase(absl::string_view customer, const Model* serving,
                                                  ImpressionCounts* impressions) {
  Receipt r;
  r.erased_at_ms = absl::ToUnixMillis(absl::Now());
  // First what answers use, so that none uses it from here on.
  r.live_events = EraseInMemory(customer, r.erased_at_ms);
  r.model_row = serving != nullptr && serving->customers.Find(customer).has_value();
  if (impressions != nullptr) {
    auto n = impressions->Erase(customer);
    if (!n.ok()) return n.status();
    r.impressions = *n;
  }
  auto erased = store_->Erase(customer, r.erased_at_ms);
  if (!erased.ok()) return erased.status();
  r.consent_record = erased->consent_record;
  r.journal_rotated = erased->events_sealed;
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++erasures_;
  return r;
}

uint64_t LiveLoop::EraseInMemory(absl::string_view customer, int64_t at_ms) {
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    int64_t& at = erased_ids_[std::string(customer)];
    at = std::max(at, at_ms);
    any_erased_ = true;
  }
  return live_.Erase(customer);
}

void LiveLoop::EraseByPseudonym(const absl::flat_hash_map<std::string, int64_t>& at_ms_by_pseudonym,
                                const std::string& key) {
  for (const std::string& id : live_.CustomerIds()) {
    auto it = at_ms_by_pseudonym.find(CustomerLedger::Pseudonym(key, id));
    if (it != at_ms_by_pseudonym.end()) EraseInMemory(id, it->second);
  }
  {
    // The model rows to forget are found again from the store's erasures.
    std::lock_guard<std::mutex> lock(erased_mu_);
    erased_rows_.clear();
    erased_rows_order_.clear();
    any_erased_ = true;
  }
  std::lock_guard<std::mutex> lock(metrics_mu_);
  followed_erasures_ += at_ms_by_pseudonym.size();
}

LiveEvents::Horizon LiveLoop::HorizonFor(const Model& model) {
  {
    std::lock_guard<std::mutex> lock(horizon_mu_);
    if (auto it = horizons_.find(model.instance.value()); it != horizons_.end()) return it->second;
  }
  LiveEvents::Horizon h = LiveEvents::HorizonOf(model);
  if (h.through > 0) h.through = store_->PositionOfSegment(h.through);
  std::lock_guard<std::mutex> lock(horizon_mu_);
  if (horizons_.size() >= 8) horizons_.erase(horizons_.begin());  // the oldest model's
  horizons_.try_emplace(model.instance.value(), h);
  return h;
}

void LiveLoop::ModelLoading(const Model& model) {
  (void)HorizonFor(model);
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
    (void)Replay(&model);
    std::lock_guard<std::mutex> g(metrics_mu_);
    ++rebuilds_;
  } else {
    live_.DropSeenBy(HorizonFor(model));
  }
  horizon_segment_ = model.events_through_segment;
  horizon_unix_ = model.last_event_unix;
}

void LiveLoop::RecordRefused(const std::string& reason) {
  // A label value as it is: the callers' reasons are fixed identifiers.
  const bool identifier = !reason.empty() && std::all_of(reason.begin(), reason.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++refused_[identifier ? reason : "other"];
}

std::string LiveLoop::RenderMetrics() const {
  std::string out;
  const LiveEvents::Stats live = live_.stats();
  std::lock_guard<std::mutex> lock(metrics_mu_);
  absl::StrAppend(&out, "# HELP aisle_events_total Storefront events by outcome.\n# TYPE aisle_events_total counter\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"accepted\"} ", accepted_, "\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"duplicate\"} ", duplicates_, "\n");
  absl::StrAppend(&out, "aisle_events_total{outcome=\"no_consent\"} ", no_consent_, "\n");
  absl::StrAppend(&out, "# HELP aisle_event_requests_refused_total Event requests refused, by reason.\n"
                        "# TYPE aisle_event_requests_refused_total counter\n");
  for (const auto& [reason, n] : refused_) {
    absl::StrAppend(&out, "aisle_event_requests_refused_total{reason=\"", reason, "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "aisle_event_requests_refused_total{reason=\"write_failed\"} ", write_failures_, "\n");
  absl::StrAppend(&out, store_->RenderMetrics());
  absl::StrAppend(&out, "# HELP aisle_live_customers Customers with live events in memory.\n# TYPE aisle_live_customers gauge\n",
                  "aisle_live_customers ", live.customers, "\n# TYPE aisle_live_events gauge\naisle_live_events ",
                  live.events, "\n# HELP aisle_live_bytes Memory held by live events.\n# TYPE aisle_live_bytes gauge\n",
                  "aisle_live_bytes ", live.bytes, "\n# TYPE aisle_live_bytes_limit gauge\naisle_live_bytes_limit ",
                  options_.live.max_bytes, "\n# TYPE aisle_live_evicted_customers_total counter\n",
                  "aisle_live_evicted_customers_total ", live.evicted_customers, "\n");
  absl::StrAppend(&out, "# TYPE aisle_consent_changes_total counter\naisle_consent_changes_total{personalization=\"granted\"} ",
                  consent_granted_, "\naisle_consent_changes_total{personalization=\"denied\"} ", consent_denied_,
                  "\n# TYPE aisle_erasures_total counter\naisle_erasures_total ", erasures_,
                  "\n# HELP aisle_erasures_followed_total Erasures through other servers sharing the live store.\n"
                  "# TYPE aisle_erasures_followed_total counter\naisle_erasures_followed_total ", followed_erasures_,
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
