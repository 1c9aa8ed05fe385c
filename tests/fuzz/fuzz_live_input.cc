// libFuzzer target: what the live loop reads from outside: a POST
// /v1/events body (JSON, then every event checked), a journal segment as
// recovery and the trainer would read it, and a consent ledger file. The
// first byte picks which; or exposure log lines (compaction and experiment
// analysis read them). Nothing may crash, and an accepted event must
// survive the journal's line format unchanged.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/atomic_file.h"
#include "engine/json_text.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "events/event_loader.h"
#include "events/exposure_record.h"
#include "server/exposure_log.h"
#include "server/event_request.h"

namespace {

const std::string& Dir() {
  static std::string* dir = [] {
    char tmpl[] = "/tmp/aisle-fuzz-live-XXXXXX";
    char* p = mkdtemp(tmpl);
    if (p == nullptr) std::abort();
    return new std::string(p);
  }();
  return *dir;
}

void Events(const std::string& text) {
  auto body = aisle::ParseJsonText(text);
  if (!body.ok()) return;
  std::vector<aisle::LiveEvent> events;
  aisle::EventError error;
  if (!aisle::ParseEvents(*body, aisle::EventLimits(), 1764547200123, &events, &error)) return;
  for (const aisle::LiveEvent& e : events) {
    std::string line;
    aisle::AppendJournalLine(e, &line);
    auto back = aisle::ParseJournalLine(absl::string_view(line).substr(0, line.size() - 1));
    if (!back.ok() || back->customer_id != e.customer_id || back->product_id != e.product_id ||
        back->event_id != e.event_id || back->recommendation_id != e.recommendation_id ||
        back->received_ms != e.received_ms || back->type != e.type) {
      std::abort();  // an accepted event would not read back as written
    }
    // And the trainer reads the same ids.
    aisle::EventLog log;
    aisle::LoadStats stats;
    aisle::LoadOptions o;
    o.strict = true;
    const std::string file = std::string(aisle::JournalHeader()) + line;
    if (!aisle::LoadEventsBuffer(file, "segment", o, &log, &stats).ok() || log.events.size() != 1 ||
        log.customers.id(0) != e.customer_id || log.products.id(0) != e.product_id) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      Events(input);
      break;
    case 1: {
      const std::string path = Dir() + "/events-000001.csv";
      if (!aisle::WriteFileAtomically(path, std::string(aisle::JournalHeader()) + input).ok()) std::abort();
      (void)aisle::EventJournal::ReadSegment(path, [](aisle::LiveEvent&&) {});
      break;
    }
    case 2: {
      if (!aisle::WriteFileAtomically(Dir() + "/customers.log", input).ok()) std::abort();
      (void)aisle::CustomerLedger::Read(Dir());
      break;
    }
    case 3: {
      // Exposure log lines, as experiment analysis and erasure compaction
      // read them: a record read back must write the same line.
      for (absl::string_view line : absl::StrSplit(input, '\n')) {
        auto r = aisle::ParseExposureLine(line);
        if (!r.ok()) continue;
        aisle::Exposure e;
        e.recommendation_id = r->recommendation_id;
        e.at_ms = r->at_ms;
        e.endpoint = r->endpoint;
        e.customer = r->customer;
        e.experiment = r->experiment;
        e.variant = r->experiment.empty() ? absl::string_view() : absl::string_view(r->variant);
        for (const std::string& item : r->items) e.items.push_back(item);
        const std::string written = aisle::ExposureLog::Line(e);
        auto back = aisle::ParseExposureLine(absl::string_view(written).substr(0, written.size() - 1));
        if (!back.ok() || back->customer != r->customer || back->at_ms != r->at_ms || back->items != r->items) {
          std::abort();
        }
      }
      break;
    }
  }
  return 0;
}
