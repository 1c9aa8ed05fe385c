// libFuzzer target: the product catalog, CSV (first byte even) or JSON
// lines (odd).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto c = data[0] % 2 ? aisle::Catalog::ParseJsonLines(text, "fuzz.jsonl") : aisle::Catalog::ParseCsv(text, "fuzz.csv");
  if (c.ok()) (void)c->Find("p1");
  return 0;
}
