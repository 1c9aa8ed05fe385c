#include "events/live_event.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/checksum.h"
#include "engine/csv_reader.h"

namespace aisle {
namespace {

constexpr int kFields = 12;


}  // namespace

absl::string_view JournalHeader() {
  return "customer_id,product_id,timestamp,event,quantity,price,channel,country,event_id,recommendation_id,"
         "received_ms,crc\n";
}

void AppendJournalLine(const LiveEvent& e, std::string* out) {
  const size_t start = out->size();
  AppendCsvField(e.customer_id, out);
  out->push_back(',');
  AppendCsvField(e.product_id, out);
  absl::StrAppend(out, ",", e.timestamp, ",", EventTypeName(e.type), ",");
  absl::StrAppendFormat(out, "%.9g,", e.quantity);
  if (!std::isnan(e.price)) absl::StrAppendFormat(out, "%.9g", e.price);
  absl::StrAppend(out, ",", ChannelName(e.channel), ",");
  AppendCsvField(e.country, out);
  out->push_back(',');
  AppendCsvField(e.event_id, out);
  out->push_back(',');
  AppendCsvField(e.recommendation_id, out);
  absl::StrAppend(out, ",", e.received_ms, ",");
  const uint32_t crc = Crc32c(0, out->data() + start, out->size() - start);
  absl::StrAppendFormat(out, "%08x\n", crc);
}

absl::StatusOr<LiveEvent> ParseJournalLine(absl::string_view line) {
  const size_t comma = line.rfind(',');
  uint32_t crc = 0;
  if (comma == absl::string_view::npos || line.size() - comma - 1 != 8 ||
      !absl::SimpleHexAtoi(line.substr(comma + 1), &crc) ||
      Crc32c(0, line.data(), comma + 1) != crc) {
    return absl::DataLossError("journal line fails its checksum");
  }
  CsvReader reader(line, ',', /*multiline=*/false);
  std::vector<absl::string_view> f;
  if (reader.Next(&f) != CsvReader::Result::kRecord || f.size() != kFields) {
    return absl::InvalidArgumentError("journal line does not have 12 fields");
  }
  LiveEvent e;
  e.customer_id = std::string(f[0]);
  e.product_id = std::string(f[1]);
  auto type = ParseEventType(f[3]);
  auto channel = ParseChannel(f[6]);
  double q = 0, price = NAN;
  if (!absl::SimpleAtoi(f[2], &e.timestamp) || !type || !absl::SimpleAtod(f[4], &q) || !(q > 0) || !channel ||
      (!f[5].empty() && !absl::SimpleAtod(f[5], &price)) || !absl::SimpleAtoi(f[10], &e.received_ms)) {
    return absl::InvalidArgumentError("journal line has a field that does not parse");
  }
  e.type = *type;
  e.quantity = static_cast<float>(q);
  e.price = static_cast<float>(price);
  e.channel = *channel;
  e.country = std::string(f[7]);
  e.event_id = std::string(f[8]);
  e.recommendation_id = std::string(f[9]);
  return e;
}

}  // namespace aisle
