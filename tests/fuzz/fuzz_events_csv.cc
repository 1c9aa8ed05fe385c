// libFuzzer target: the event file reader, in each input format. The first
// byte picks the format and the separator; the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "events/event_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  aisle::LoadOptions o;
  const uint8_t mode = data[0];
  o.format = mode % 3 == 0 ? aisle::InputFormat::kEvents
             : mode % 3 == 1 ? aisle::InputFormat::kOnlineRetail
                             : aisle::InputFormat::kNcf;
  if (mode & 0x10) o.separator = ';';
  o.strict = (mode & 0x20) != 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  aisle::EventLog log;
  aisle::LoadStats stats;
  std::vector<absl::string_view> records;
  absl::string_view header;
  (void)aisle::LoadEventsBuffer(text, "fuzz.csv", o, &log, &stats, &records, &header);
  (void)stats.Summary();
  return 0;
}
