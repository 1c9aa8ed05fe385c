// Reading customer events from CSV files into an EventLog.
//
// Formats:
//  - events (default): a header row naming the columns; customer_id,
//    product_id and timestamp are required; quantity (default 1), price,
//    event (purchase|cart|view|return), channel (web|app|store) and country
//    are optional; any order; names and separator configurable.
//  - online_retail: the UCI Online Retail and Online Retail II files as
//    published (InvoiceNo/Invoice, StockCode, Quantity, InvoiceDate,
//    UnitPrice/Price, CustomerID/Customer ID, Country).
//  - ncf: the header-less, tab-separated user item rating [timestamp] files of
//    the Neural Collaborative Filtering paper; every rating is a purchase.
// See data/FORMATS.md for the full rules. Thread-safe: free functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/event_log.h"

namespace aisle {

enum class InputFormat { kEvents, kOnlineRetail, kNcf };

// "events", "online_retail" or "ncf"; InvalidArgument otherwise.
absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name);

struct ColumnNames {
  std::string customer = "customer_id";
  std::string product = "product_id";
  std::string timestamp = "timestamp";
  std::string quantity = "quantity";
  std::string price = "price";
  std::string event = "event";
  std::string channel = "channel";
  std::string country = "country";
};

struct LoadOptions {
  InputFormat format = InputFormat::kEvents;
  // Field separator; '\0' means the format's own (',' or '\t' for ncf).
  char separator = '\0';
  ColumnNames columns;  // used by the events format only; matched case-insensitively
  // Stop at the first malformed row with file, line and reason.
  bool strict = false;
  // Longer customer or product ids are malformed.
  size_t max_id_length = 256;
};

// Why a row was not loaded. Malformed rows are errors in the data; filtered
// rows are left out by the format's rules (e.g. no customer id).
enum class RowIssue : uint8_t {
  // malformed
  kFieldCount,
  kUnterminatedQuote,
  kTextAfterQuote,
  kQuoteInField,
  kEmptyCustomer,
  kEmptyProduct,
  kIdTooLong,
  kBadTimestamp,
  kBadQuantity,
  kBadPrice,
  kBadEvent,
  kBadChannel,
  kBadRating,
  // filtered
  kNoCustomer,
  kNonProduct,
  kNonPositiveQuantity,
  kZeroQuantity,
  kAdjustment,
  kCount
};
inline constexpr int kNumRowIssues = static_cast<int>(RowIssue::kCount);
inline constexpr int kFirstFilteredIssue = static_cast<int>(RowIssue::kNoCustomer);

absl::string_view RowIssueName(RowIssue issue);
inline bool IsMalformed(RowIssue issue) { return static_cast<int>(issue) < kFirstFilteredIssue; }

struct LoadStats {
  uint64_t records = 0;  // data rows read (header excluded)
  uint64_t loaded = 0;   // events added to the log
  std::array<uint64_t, kNumRowIssues> issues{};
  std::array<std::string, kNumRowIssues> first_location{};  // "file:line" of the first case

  uint64_t malformed() const;
  uint64_t filtered() const;
  void Merge(const LoadStats& other);
  // Human-readable summary, one line per non-zero reason.
  std::string Summary() const;
};

// Appends the events in `path` to `log` (ids shared across calls, so several
// files can feed one log) and adds to `stats`. NotFound when the file is
// missing; InvalidArgument when the header lacks a required column, or in
// strict mode at the first malformed row ("file:line: reason ...").
absl::Status LoadEventsFile(const std::string& path, const LoadOptions& options, EventLog* log,
                            LoadStats* stats);

// Same, from a buffer; `name` stands for the file in messages. When
// `records` is not null, it receives, for each event added, the raw text of
// its CSV record (views into `data`), and `header` the header row's text.
absl::Status LoadEventsBuffer(absl::string_view data, const std::string& name,
                              const LoadOptions& options, EventLog* log, LoadStats* stats,
                              std::vector<absl::string_view>* records = nullptr,
                              absl::string_view* header = nullptr);

}  // namespace aisle
