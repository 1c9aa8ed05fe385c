// LiveEvent: one storefront event as the server accepts it (POST
// /v1/events), and its line in the event journal (events/event_journal.h):
// a row of the trainer's `events` CSV format (data/FORMATS.md) with the
// columns event_id, recommendation_id, received_ms and a CRC-32C of the
// line, so that `aisle-train` reads journal segments as ordinary inputs and
// the server can tell a complete line from a torn or damaged one.
// Thread-safe: plain data and pure functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/event_log.h"

namespace aisle {

struct LiveEvent {
  std::string customer_id;
  std::string product_id;
  EventType type = EventType::kPurchase;
  int64_t timestamp = 0;      // when it happened, Unix seconds (the client's clock)
  float quantity = 1;         // > 0; for a return, the quantity returned
  float price = NAN;          // unit price, NaN unknown
  Channel channel = Channel::kUnknown;
  std::string country;
  std::string event_id;           // the client's id for deduplication, may be empty
  std::string recommendation_id;  // the answer that led to it, may be empty
  int64_t received_ms = 0;    // when the server accepted it, Unix ms
};

// The header line of a journal segment (with its line end).
absl::string_view JournalHeader();

// Appends `e` as one journal line (with its line end). Fields holding the
// separator or quotes are quoted as RFC 4180 says.
void AppendJournalLine(const LiveEvent& e, std::string* out);

// Parses one journal line (without its line end). DataLoss when the CRC
// does not match (a torn or damaged line), InvalidArgument when a field
// does not parse.
absl::StatusOr<LiveEvent> ParseJournalLine(absl::string_view line);

}  // namespace aisle
