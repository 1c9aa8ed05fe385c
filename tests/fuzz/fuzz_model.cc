// libFuzzer target: the model loader. The input's checksums and payload size
// are set right before parsing, so the fuzzer explores what a file with
// valid checksums can declare (sizes, counts, sections, metadata) instead of
// stopping at the checksum. A model that loads is served a few requests.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "engine/checksum.h"
#include "engine/model_io.h"
#include "engine/recommender.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= 64) {
    const uint64_t payload = bytes.size() - 64;
    std::memcpy(bytes.data() + 40, &payload, 8);
    const uint32_t crc = aisle::Crc32c(0, bytes.data() + 64, payload);
    std::memcpy(bytes.data() + 48, &crc, 4);
    const uint32_t head = aisle::Crc32c(0, bytes.data(), 60);
    std::memcpy(bytes.data() + 60, &head, 4);
  }
  auto m = aisle::ParseModel(bytes, "fuzz.model");
  if (!m.ok()) return 0;
  aisle::Recommender::Options ro;
  ro.top_list_length = 4;
  auto r = aisle::Recommender::Create(std::make_shared<const aisle::Model>(*std::move(m)), nullptr, ro);
  if (!r.ok()) return 0;
  aisle::RecommendOptions o;
  o.count = 3;
  o.explain = true;
  const aisle::Model& model = (*r)->model();
  if (model.customers.size() > 0) (void)(*r)->Recommend(model.customers.id(0), o);
  (void)(*r)->Recommend("nobody", o);
  if (model.products.size() > 0) (void)(*r)->Similar(model.products.id(0), 3);
  return 0;
}
