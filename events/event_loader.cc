#include "events/event_loader.h"

#include <charconv>
#include <cstring>
#include <cmath>
#include <limits>
#include <optional>
#include <functional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/mapped_file.h"
#include "engine/csv_reader.h"
#include "events/timestamp.h"

namespace aisle {
namespace {

constexpr const char* kIssueNames[kNumRowIssues] = {
    "wrong number of fields",
    "unterminated quoted field",
    "text after a closing quote",
    "quote inside an unquoted field",
    "empty customer id",
    "empty product id",
    "id longer than the limit",
    "unparseable timestamp",
    "unparseable quantity",
    "unparseable or negative price",
    "unknown event type",
    "unknown channel",
    "unparseable rating",
    "no customer id",
    "non-product stock code",
    "quantity <= 0 outside a cancellation",
    "zero quantity",
    "adjustment invoice",
};

std::optional<double> ParseNumber(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// "17850.0" -> "17850" (spreadsheet exports write integer ids as floats).
absl::string_view StripFloatSuffix(absl::string_view id) {
  size_t dot = id.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == id.size()) return id;
  for (size_t i = dot + 1; i < id.size(); ++i) {
    if (id[i] != '0') return id;
  }
  for (size_t i = 0; i < dot; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(id[i]))) return id;
  }
  return id.substr(0, dot);
}

// Stock codes in Online Retail that are not products (postage, fees, manual
// adjustments, vouchers...). See ../shared/data/README.md.
bool IsNonProductCode(absl::string_view code) {
  static constexpr absl::string_view kExact[] = {
      "POST", "DOT", "M", "m", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK",
      "PADS", "B", "ADJUST", "ADJUST2", "TEST001", "TEST002"};
  for (absl::string_view e : kExact) {
    if (code == e) return true;
  }
  return absl::StartsWith(code, "gift_0001_") || absl::StartsWith(code, "DCGS");
}

// Column positions resolved from the header (or fixed for ncf); -1 = absent.
struct Layout {
  int customer = -1, product = -1, timestamp = -1, quantity = -1, price = -1, event = -1,
      channel = -1, country = -1, invoice = -1, rating = -1;
  size_t min_fields = 0;
};

int FindColumn(const std::vector<std::string>& header, std::initializer_list<absl::string_view> names) {
  for (absl::string_view name : names) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (absl::EqualsIgnoreCase(header[i], name)) return static_cast<int>(i);
    }
  }
  return -1;
}

absl::StatusOr<Layout> ResolveLayout(const std::vector<std::string>& header,
                                     const LoadOptions& options, const std::string& name) {
  Layout l;
  auto missing = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":1: header has no ", what,
                                                   " column (found: ", absl::StrJoin(header, ", "),
                                                   ")"));
  };
  if (options.format == InputFormat::kOnlineRetail) {
    l.invoice = FindColumn(header, {"InvoiceNo", "Invoice"});
    l.product = FindColumn(header, {"StockCode"});
    l.quantity = FindColumn(header, {"Quantity"});
    l.timestamp = FindColumn(header, {"InvoiceDate"});
    l.price = FindColumn(header, {"UnitPrice", "Price"});
    l.customer = FindColumn(header, {"CustomerID", "Customer ID"});
    l.country = FindColumn(header, {"Country"});
    if (l.invoice < 0) return missing("InvoiceNo/Invoice");
    if (l.product < 0) return missing("StockCode");
    if (l.quantity < 0) return missing("Quantity");
    if (l.timestamp < 0) return missing("InvoiceDate");
    if (l.customer < 0) return missing("CustomerID/Customer ID");
  } else {
    const ColumnNames& c = options.columns;
    l.customer = FindColumn(header, {c.customer});
    l.product = FindColumn(header, {c.product});
    l.timestamp = FindColumn(header, {c.timestamp});
    l.quantity = FindColumn(header, {c.quantity});
    l.price = FindColumn(header, {c.price});
    l.event = FindColumn(header, {c.event});
    l.channel = FindColumn(header, {c.channel});
    l.country = FindColumn(header, {c.country});
    if (l.customer < 0) return missing(absl::StrCat("'", c.customer, "'"));
    if (l.product < 0) return missing(absl::StrCat("'", c.product, "'"));
    if (l.timestamp < 0) return missing(absl::StrCat("'", c.timestamp, "'"));
  }
  for (int col : {l.customer, l.product, l.timestamp, l.quantity, l.price, l.event, l.channel,
                  l.country, l.invoice}) {
    if (col >= 0) l.min_fields = std::max(l.min_fields, static_cast<size_t>(col) + 1);
  }
  return l;
}

class RowParser {
 public:
  RowParser(const std::string& name, const LoadOptions& options, const Layout& layout,
            EventLog* log, LoadStats* stats)
      : name_(name), options_(options), layout_(layout), log_(log), stats_(stats) {}

  // Returns a non-OK status only in strict mode on a malformed row.
  absl::Status Issue(RowIssue issue, uint64_t line, absl::string_view detail = {}) {
    const int i = static_cast<int>(issue);
    if (stats_->issues[i]++ == 0) stats_->first_location[i] = absl::StrCat(name_, ":", line);
    if (options_.strict && IsMalformed(issue)) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", kIssueNames[i],
                                                     detail.empty() ? "" : ": ", detail));
    }
    return absl::OkStatus();
  }

  absl::Status Row(const std::vector<absl::string_view>& f, uint64_t line) {
    ++stats_->records;
    if (options_.format == InputFormat::kNcf) return NcfRow(f, line);
    if (f.size() < layout_.min_fields) {
      return Issue(RowIssue::kFieldCount, line,
                   absl::StrCat(f.size(), " fields, expected at least ", layout_.min_fields));
    }
    if (options_.format == InputFormat::kOnlineRetail) return RetailRow(f, line);
    return EventsRow(f, line);
  }

 private:
  // Checks and interns ids; returns false after recording the issue.
  bool Ids(absl::string_view customer, absl::string_view product, uint64_t line, absl::Status* st,
           uint32_t* c, uint32_t* p) {
    if (customer.empty()) {
      *st = Issue(RowIssue::kEmptyCustomer, line);
      return false;
    }
    if (product.empty()) {
      *st = Issue(RowIssue::kEmptyProduct, line);
      return false;
    }
    if (customer.size() > options_.max_id_length || product.size() > options_.max_id_length) {
      *st = Issue(RowIssue::kIdTooLong, line,
                  absl::StrCat("limit is ", options_.max_id_length, " bytes"));
      return false;
    }
    *c = log_->customers.Insert(customer);
    *p = log_->products.Insert(product);
    return true;
  }

  uint16_t Country(absl::string_view s) {
    s = absl::StripAsciiWhitespace(s);
    if (s.empty()) return kNoCountry;
    if (log_->countries.size() >= kNoCountry && !log_->countries.Find(s)) return kNoCountry;
    return static_cast<uint16_t>(log_->countries.Insert(s));
  }

  absl::Status Add(uint32_t c, uint32_t p, int64_t ts, double qty, double price, EventType type,
                   Channel channel, uint16_t country) {
    log_->events.push_back(Event{c, p, ts, static_cast<float>(qty), static_cast<float>(price), type,
                                 channel, country});
    ++stats_->loaded;
    return absl::OkStatus();
  }

  absl::Status EventsRow(const std::vector<absl::string_view>& f, uint64_t line) {
    const Layout& l = layout_;
    absl::string_view customer = absl::StripAsciiWhitespace(f[l.customer]);
    absl::string_view product = absl::StripAsciiWhitespace(f[l.product]);
    absl::Status st;
    auto ts = ParseTimestamp(absl::StripAsciiWhitespace(f[l.timestamp]));
    if (!ts) return Issue(RowIssue::kBadTimestamp, line, absl::StrCat("'", f[l.timestamp], "'"));
    double qty = 1;
    if (l.quantity >= 0 && !absl::StripAsciiWhitespace(f[l.quantity]).empty()) {
      auto q = ParseNumber(f[l.quantity]);
      if (!q) return Issue(RowIssue::kBadQuantity, line, absl::StrCat("'", f[l.quantity], "'"));
      qty = *q;
    }
    double price = std::numeric_limits<double>::quiet_NaN();
    if (l.price >= 0 && !absl::StripAsciiWhitespace(f[l.price]).empty()) {
      auto pr = ParseNumber(f[l.price]);
      if (!pr || *pr < 0) return Issue(RowIssue::kBadPrice, line, absl::StrCat("'", f[l.price], "'"));
      price = *pr;
    }
    EventType type = EventType::kPurchase;
    if (l.event >= 0) {
      auto t = ParseEventType(f[l.event]);
      if (!t) return Issue(RowIssue::kBadEvent, line, absl::StrCat("'", f[l.event], "'"));
      type = *t;
    }
    Channel channel = Channel::kUnknown;
    if (l.channel >= 0) {
      auto ch = ParseChannel(f[l.channel]);
      if (!ch) return Issue(RowIssue::kBadChannel, line, absl::StrCat("'", f[l.channel], "'"));
      channel = *ch;
    }
    if (qty == 0) return Issue(RowIssue::kZeroQuantity, line);
    if (qty < 0) {
      // A negative purchase is a return of that many units.
      if (type == EventType::kPurchase || type == EventType::kReturn) {
        type = EventType::kReturn;
        qty = -qty;
      } else {
        return Issue(RowIssue::kBadQuantity, line, "negative quantity for a cart or view event");
      }
    }
    uint32_t c, p;
    if (!Ids(customer, product, line, &st, &c, &p)) return st;
    uint16_t country = l.country >= 0 ? Country(f[l.country]) : kNoCountry;
    return Add(c, p, *ts, qty, price, type, channel, country);
  }

  absl::Status RetailRow(const std::vector<absl::string_view>& f, uint64_t line) {
    const Layout& l = layout_;
    absl::string_view invoice = absl::StripAsciiWhitespace(f[l.invoice]);
    absl::string_view product = absl::StripAsciiWhitespace(f[l.product]);
    absl::string_view customer = StripFloatSuffix(absl::StripAsciiWhitespace(f[l.customer]));
    auto q = ParseNumber(f[l.quantity]);
    if (!q) return Issue(RowIssue::kBadQuantity, line, absl::StrCat("'", f[l.quantity], "'"));
    absl::string_view date = absl::StripAsciiWhitespace(f[l.timestamp]);
    auto ts = ParseTimestamp(date);
    if (!ts) ts = ParseUsDateTime(date);
    if (!ts) return Issue(RowIssue::kBadTimestamp, line, absl::StrCat("'", date, "'"));
    double price = std::numeric_limits<double>::quiet_NaN();
    if (l.price >= 0) {
      auto pr = ParseNumber(f[l.price]);
      if (!pr) return Issue(RowIssue::kBadPrice, line, absl::StrCat("'", f[l.price], "'"));
      price = *pr;
    }
    if (absl::StartsWith(invoice, "A")) return Issue(RowIssue::kAdjustment, line);
    if (IsNonProductCode(product)) return Issue(RowIssue::kNonProduct, line);
    if (customer.empty()) return Issue(RowIssue::kNoCustomer, line);
    const bool cancellation = absl::StartsWith(invoice, "C");
    EventType type = EventType::kPurchase;
    double qty = *q;
    if (cancellation) {
      if (qty == 0) return Issue(RowIssue::kZeroQuantity, line);
      type = EventType::kReturn;
      qty = std::abs(qty);
    } else if (qty <= 0) {
      return Issue(RowIssue::kNonPositiveQuantity, line);
    }
    if (price < 0) return Issue(RowIssue::kBadPrice, line, absl::StrCat("'", f[l.price], "'"));
    absl::Status st;
    uint32_t c, p;
    if (!Ids(customer, product, line, &st, &c, &p)) return st;
    uint16_t country = l.country >= 0 ? Country(f[l.country]) : kNoCountry;
    return Add(c, p, *ts, qty, price, type, Channel::kUnknown, country);
  }

  absl::Status NcfRow(const std::vector<absl::string_view>& f, uint64_t line) {
    if (f.size() < 3 || f.size() > 4) {
      return Issue(RowIssue::kFieldCount, line, absl::StrCat(f.size(), " fields, expected 3 or 4"));
    }
    if (!ParseNumber(f[2])) return Issue(RowIssue::kBadRating, line, absl::StrCat("'", f[2], "'"));
    int64_t ts = 0;
    if (f.size() == 4) {
      auto t = ParseTimestamp(absl::StripAsciiWhitespace(f[3]));
      if (!t) return Issue(RowIssue::kBadTimestamp, line, absl::StrCat("'", f[3], "'"));
      ts = *t;
    }
    absl::Status st;
    uint32_t c, p;
    if (!Ids(absl::StripAsciiWhitespace(f[0]), absl::StripAsciiWhitespace(f[1]), line, &st, &c, &p)) {
      return st;
    }
    return Add(c, p, ts, 1.0, std::numeric_limits<double>::quiet_NaN(), EventType::kPurchase,
               Channel::kUnknown, kNoCountry);
  }

  const std::string& name_;
  const LoadOptions& options_;
  const Layout& layout_;
  EventLog* log_;
  LoadStats* stats_;
};

RowIssue CsvErrorIssue(const std::string& error) {
  if (absl::StartsWith(error, "unterminated quoted field")) return RowIssue::kUnterminatedQuote;
  if (error == "text after a closing quote") return RowIssue::kTextAfterQuote;
  return RowIssue::kQuoteInField;
}

}  // namespace

absl::string_view RowIssueName(RowIssue issue) { return kIssueNames[static_cast<int>(issue)]; }

absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name) {
  if (name == "events") return InputFormat::kEvents;
  if (name == "online_retail") return InputFormat::kOnlineRetail;
  if (name == "ncf") return InputFormat::kNcf;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", name, "' (expected events, online_retail or ncf)"));
}

uint64_t LoadStats::malformed() const {
  uint64_t n = 0;
  for (int i = 0; i < kFirstFilteredIssue; ++i) n += issues[i];
  return n;
}

uint64_t LoadStats::filtered() const {
  uint64_t n = 0;
  for (int i = kFirstFilteredIssue; i < kNumRowIssues; ++i) n += issues[i];
  return n;
}

void LoadStats::Merge(const LoadStats& o) {
  records += o.records;
  loaded += o.loaded;
  for (int i = 0; i < kNumRowIssues; ++i) {
    if (issues[i] == 0) first_location[i] = o.first_location[i];
    issues[i] += o.issues[i];
  }
}

std::string LoadStats::Summary() const {
  std::string out = absl::StrCat(records, " rows read, ", loaded, " events loaded, ", filtered(),
                                 " left out by the format's rules, ", malformed(), " malformed\n");
  for (int i = 0; i < kNumRowIssues; ++i) {
    if (issues[i] == 0) continue;
    absl::StrAppend(&out, "  ", IsMalformed(static_cast<RowIssue>(i)) ? "malformed" : "left out", ": ",
                    kIssueNames[i], ": ", issues[i], " (first at ", first_location[i], ")\n");
  }
  return out;
}

namespace {

// Bytes parsed between calls of a caller's `consumed` hook.
constexpr size_t kConsumedStep = size_t{64} << 20;

absl::Status LoadBuffer(absl::string_view data, const std::string& name, const LoadOptions& options, EventLog* log,
                        LoadStats* stats, std::vector<absl::string_view>* records, absl::string_view* header,
                        const std::function<void(const char*)>& consumed) {
  char sep = options.separator;
  if (sep == '\0') sep = options.format == InputFormat::kNcf ? '\t' : ',';
  CsvReader reader(data, sep, /*multiline=*/false);  // an unbalanced quote costs its line only
  std::vector<absl::string_view> fields;
  Layout layout;
  if (options.format != InputFormat::kNcf) {
    CsvReader::Result r = reader.Next(&fields);
    if (r == CsvReader::Result::kEnd) return absl::OkStatus();  // empty file: no events
    if (r == CsvReader::Result::kMalformed) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", reader.record_line(), ": bad header: ", reader.error()));
    }
    if (header != nullptr) *header = reader.raw_record();
    std::vector<std::string> names;
    for (absl::string_view f : fields) names.emplace_back(absl::StripAsciiWhitespace(f));
    auto resolved = ResolveLayout(names, options, name);
    if (!resolved.ok()) return resolved.status();
    layout = *resolved;
  }
  // One event per line at most: reserve once instead of growing (page faults
  // on fresh memory are a large share of loading time).
  {
    size_t lines = 0;
    const char* next_step = data.data() + kConsumedStep;
    for (const char* p = data.data(); (p = static_cast<const char*>(std::memchr(p, '\n', data.data() + data.size() - p))) != nullptr; ++p) {
      ++lines;
      if (consumed && p >= next_step) {
        consumed(p);
        next_step = p + kConsumedStep;
      }
    }
    log->events.reserve(log->events.size() + lines + 1);
  }
  const char* next_step = data.data() + kConsumedStep;
  LoadStats local;
  RowParser parser(name, options, layout, log, &local);
  absl::Status status;
  while (status.ok()) {
    CsvReader::Result r = reader.Next(&fields);
    if (r == CsvReader::Result::kEnd) break;
    if (r == CsvReader::Result::kMalformed) {
      ++local.records;
      status = parser.Issue(CsvErrorIssue(reader.error()), reader.record_line());
      continue;
    }
    const size_t before = log->events.size();
    status = parser.Row(fields, reader.record_line());
    if (records != nullptr && log->events.size() > before) records->push_back(reader.raw_record());
    if (consumed && reader.raw_record().data() >= next_step) {
      consumed(reader.raw_record().data());
      next_step = reader.raw_record().data() + kConsumedStep;
    }
  }
  stats->Merge(local);
  return status;
}

}  // namespace

absl::Status LoadEventsBuffer(absl::string_view data, const std::string& name,
                              const LoadOptions& options, EventLog* log, LoadStats* stats,
                              std::vector<absl::string_view>* records, absl::string_view* header) {
  return LoadBuffer(data, name, options, log, stats, records, header, {});
}

absl::Status LoadEventsFile(const std::string& path, const LoadOptions& options, EventLog* log,
                            LoadStats* stats) {
  // Streamed: the file is mapped without reading it in first, and the pages
  // behind the parser are let go as it goes, so a file of many gigabytes
  // never sits in this process's memory (ids and events are copied out).
  auto file = MappedFile::Open(path, /*guard=*/true, MappedFile::Access::kSequential);
  if (!file.ok()) return file.status();
  const MappedFile& f = *file;
  return LoadBuffer(f.data(), path, options, log, stats, nullptr, nullptr,
                    [&f](const char* up_to) { f.DropPagesBefore(up_to); });
}

}  // namespace aisle
