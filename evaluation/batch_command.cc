// aisle-eval batch: every customer's recommendations (and offers) in one
// file, for campaigns (evaluation/batch_export.h). Its flags; the shared
// ones (--model, --count, --customers, --catalog, --offers, --n) are
// eval_main.cc's.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/atomic_file.h"
#include "engine/batch_scoring.h"
#include "engine/catalog.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "engine/offer_catalog.h"
#include "evaluation/batch_export.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "events/live_events.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(int, count);
ABSL_DECLARE_FLAG(std::string, customers);
ABSL_DECLARE_FLAG(std::string, catalog);
ABSL_DECLARE_FLAG(std::string, offers);
ABSL_DECLARE_FLAG(int, n);

ABSL_FLAG(std::string, output, "", "batch, experiment --json: the output file (written atomically), '-' for stdout.");
ABSL_FLAG(std::string, output_format, "",
          "batch: jsonl (one JSON object per customer) or csv (one row per recommendation); default from the "
          "--output name (.csv: csv), else jsonl.");
ABSL_FLAG(std::string, customers_file, "",
          "batch: a file of customer ids, one per line (default: every customer of the model).");
ABSL_FLAG(int, offer_count, 0, "batch: offers per customer with --offers (0: --n).");
ABSL_FLAG(std::string, category, "", "batch: only these categories (comma-separated; needs --catalog).");
ABSL_FLAG(std::string, exclude_category, "", "batch: never these categories (comma-separated).");
ABSL_FLAG(double, min_price, -1, "batch: lowest price (needs --catalog); -1: none.");
ABSL_FLAG(double, max_price, -1, "batch: highest price; -1: none.");
ABSL_FLAG(bool, in_stock, false, "batch: only products in stock.");
ABSL_FLAG(std::string, events_dir, "",
          "batch: the server's live-loop directory: live events the model has not seen are folded in, "
          "customers without consent get the popularity ranking (flagged no_consent), erased ones are left out.");
ABSL_FLAG(std::string, default_consent, "granted", "batch: with --events_dir, as the server's --default_consent.");
ABSL_FLAG(std::string, scoring, aisle::Bf16ScoringIsNative() ? "bf16" : "float32",
          "batch: float32, bf16 or int8, as the server's --scoring (the answers are float32's).");

namespace aisle {

int BatchCommand() {
  auto fail = [](const std::string& msg, int code = 1) {
    std::fprintf(stderr, "aisle-eval batch: %s\n", msg.c_str());
    return code;
  };
  const std::string output = absl::GetFlag(FLAGS_output);
  if (absl::GetFlag(FLAGS_model).empty() || output.empty()) return fail("needs --model and --output", 2);
  if (absl::GetFlag(FLAGS_count) < 1 || absl::GetFlag(FLAGS_count) > 1000) return fail("--count must be in [1, 1000]", 2);
  BatchExportOptions o;
  std::string format = absl::GetFlag(FLAGS_output_format);
  if (format.empty()) format = absl::EndsWith(output, ".csv") ? "csv" : "jsonl";
  if (format != "jsonl" && format != "csv") return fail("--output_format must be jsonl or csv", 2);
  o.format = format == "csv" ? BatchFormat::kCsv : BatchFormat::kJsonLines;
  o.recommend.count = static_cast<size_t>(absl::GetFlag(FLAGS_count));
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_category), ',', absl::SkipEmpty())) {
    o.recommend.categories.emplace_back(c);
  }
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_exclude_category), ',', absl::SkipEmpty())) {
    o.recommend.exclude_categories.emplace_back(c);
  }
  if (absl::GetFlag(FLAGS_min_price) >= 0) o.recommend.min_price = static_cast<float>(absl::GetFlag(FLAGS_min_price));
  if (absl::GetFlag(FLAGS_max_price) >= 0) o.recommend.max_price = static_cast<float>(absl::GetFlag(FLAGS_max_price));
  o.recommend.in_stock_only = absl::GetFlag(FLAGS_in_stock);
  Recommender::Options ro;
  if (const std::string s = absl::GetFlag(FLAGS_scoring); s == "bf16") {
    ro.scoring = Recommender::Scoring::kBf16;
  } else if (s == "int8") {
    ro.scoring = Recommender::Scoring::kInt8;
  } else if (s != "float32") {
    return fail("--scoring must be float32, bf16 or int8", 2);
  }

  const absl::Time start = absl::Now();
  std::string model_path = absl::GetFlag(FLAGS_model);
  if (auto current = CurrentModelPath(model_path); current.ok()) model_path = *current;  // a publish directory
  auto model = ReadModel(model_path);
  if (!model.ok()) return fail(std::string(model.status().message()));
  std::shared_ptr<const Catalog> catalog;
  if (const std::string c = absl::GetFlag(FLAGS_catalog); !c.empty()) {
    auto cat = Catalog::Load(c);
    if (!cat.ok()) return fail(std::string(cat.status().message()));
    catalog = std::make_shared<const Catalog>(std::move(*cat));
  }
  auto shared_model = std::make_shared<const Model>(std::move(*model));
  auto rec = Recommender::Create(shared_model, catalog, ro);
  if (!rec.ok()) return fail(std::string(rec.status().message()));
  std::shared_ptr<const OfferRanker> ranker;
  if (const std::string f = absl::GetFlag(FLAGS_offers); !f.empty()) {
    auto oc = OfferCatalog::Load(f);
    if (!oc.ok()) return fail(std::string(oc.status().message()));
    auto r = OfferRanker::Create(*rec, std::make_shared<const OfferCatalog>(std::move(*oc)));
    if (!r.ok()) return fail(std::string(r.status().message()));
    ranker = *r;
    o.offer_count = static_cast<size_t>(absl::GetFlag(FLAGS_offer_count) > 0 ? absl::GetFlag(FLAGS_offer_count)
                                                                             : absl::GetFlag(FLAGS_n));
    o.offers.now = absl::Now();
  }

  // Whom: a list, or every customer of the model.
  std::vector<std::string> ids;
  if (const std::string f = absl::GetFlag(FLAGS_customers_file); !f.empty()) {
    std::string text;
    if (absl::Status s = ReadFileToString(f, &text); !s.ok()) return fail(std::string(s.message()));
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
      ids.emplace_back(absl::StripAsciiWhitespace(line));
    }
  } else if (!absl::GetFlag(FLAGS_customers).empty()) {
    for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_customers), ',', absl::SkipEmpty())) ids.emplace_back(c);
  } else {
    ids = shared_model->customers.ids();
  }

  // What the live loop knows.
  BatchCustomerState state;
  LiveEvents live(LiveEvents::Options{.max_bytes = size_t{64} << 30});
  CustomerLedger::State ledger;
  const std::string events_dir = absl::GetFlag(FLAGS_events_dir);
  if (!events_dir.empty()) {
    auto l = CustomerLedger::Read(events_dir);
    if (!l.ok()) return fail(std::string(l.status().message()));
    ledger = *std::move(l);
    auto segments = EventJournal::ListSegments(events_dir, /*include_open=*/true);
    if (!segments.ok()) return fail(std::string(segments.status().message()));
    uint64_t n = 0;
    for (const EventJournal::Segment& seg : *segments) {
      if (shared_model->events_through_segment > 0 && seg.number <= shared_model->events_through_segment) continue;
      absl::Status s = EventJournal::ReadSegment(seg.path, [&](LiveEvent&& e) {
        if (LiveEvents::SeenBy(*shared_model, seg.number, e.received_ms)) return;
        if (auto at = ledger.ErasedAt(e.customer_id); at && *at >= e.received_ms) return;
        live.Add(e, seg.number, std::chrono::steady_clock::now());
        ++n;
      });
      if (!s.ok()) return fail(std::string(s.message()));
    }
    const bool default_consent = absl::GetFlag(FLAGS_default_consent) != "denied";
    const int64_t cutoff_ms = shared_model->last_event_unix * 1000 + 999;
    state.consent = [&ledger, default_consent](absl::string_view id) {
      auto it = ledger.consent.find(id);
      return it != ledger.consent.end() ? it->second.personalization : default_consent;
    };
    state.live = [&live, &shared_model](absl::string_view id) { return live.Profile(id, *shared_model); };
    if (!ledger.erased.empty()) {
      state.skip = [&ledger, cutoff_ms](absl::string_view id) {
        auto at = ledger.ErasedAt(id);
        return at.has_value() && *at > cutoff_ms;
      };
    }
    std::fprintf(stderr, "batch: %llu live events of %llu customers from %s\n", static_cast<unsigned long long>(n),
                 static_cast<unsigned long long>(live.stats().customers), events_dir.c_str());
  }

  // Out: buffered, atomically (or to stdout).
  AtomicFileWriter file;
  const bool to_stdout = output == "-";
  if (!to_stdout) {
    if (absl::Status s = file.Open(output); !s.ok()) return fail(std::string(s.message()));
  }
  std::string buffer;
  auto flush = [&]() -> absl::Status {
    if (buffer.empty()) return absl::OkStatus();
    absl::Status s = to_stdout ? (std::fwrite(buffer.data(), 1, buffer.size(), stdout) == buffer.size()
                                      ? absl::OkStatus()
                                      : absl::InternalError("cannot write to stdout"))
                               : file.Append(buffer);
    buffer.clear();
    return s;
  };
  auto write = [&](absl::string_view text) -> absl::Status {
    buffer.append(text.data(), text.size());
    return buffer.size() >= (4u << 20) ? flush() : absl::OkStatus();
  };
  const absl::Time scoring_start = absl::Now();
  const bool tty = isatty(fileno(stderr));
  o.progress = [&](size_t done, size_t total) {
    const double s = absl::ToDoubleSeconds(absl::Now() - scoring_start);
    const double rate = s > 0 ? done / s : 0;
    std::fprintf(stderr, "%sbatch: %zu/%zu customers (%.0f%%), %.1fk/s, eta %.0f s%s", tty ? "\r" : "", done, total,
                 total ? 100.0 * done / total : 100.0, rate / 1e3, rate > 0 ? (total - done) / rate : 0.0,
                 tty ? "" : "\n");
  };
  auto stats = ExportBatch(**rec, ranker.get(), ids, state, o, write);
  if (tty) std::fprintf(stderr, "\n");
  if (!stats.ok()) return fail(std::string(stats.status().message()));
  if (absl::Status s = flush(); !s.ok()) return fail(std::string(s.message()));
  if (!to_stdout) {
    if (absl::Status s = file.Commit(); !s.ok()) return fail(std::string(s.message()));
  } else {
    std::fflush(stdout);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double scoring = absl::ToDoubleSeconds(absl::Now() - scoring_start);
  std::fprintf(stderr,
               "batch: %llu customers in %.1f s (%.1f s answering and writing, %.0f customers/s): %llu personalized "
               "(%llu with live events), %llu unknown (popularity), %llu without consent, %llu erased left out; "
               "%.1f MB to %s\n",
               static_cast<unsigned long long>(stats->customers), seconds, scoring, stats->customers / scoring,
               static_cast<unsigned long long>(stats->personalized), static_cast<unsigned long long>(stats->live),
               static_cast<unsigned long long>(stats->popularity), static_cast<unsigned long long>(stats->no_consent),
               static_cast<unsigned long long>(stats->skipped), stats->bytes / 1e6, output.c_str());
  return 0;
}

}  // namespace aisle
