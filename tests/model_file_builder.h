// Test helper: model files with valid checksums and whatever contents a
// test wants (engine/model_io.h layout), to check that the loader trusts
// nothing a file declares.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/checksum.h"

namespace aisle::testing {

struct RawSection {
  std::string tag;  // four characters
  std::string body;
};

template <typename T>
void PutRaw(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// A file with this header and these sections, every checksum right.
inline std::string BuildModelFile(uint64_t customers, uint64_t products, uint32_t factors,
                                  const std::vector<RawSection>& sections, uint32_t version = 1) {
  std::string payload;
  for (const RawSection& s : sections) {
    payload.append(s.tag.data(), 4);
    PutRaw<uint32_t>(&payload, 0);
    PutRaw<uint64_t>(&payload, s.body.size());
    payload += s.body;
    payload.append((8 - s.body.size() % 8) % 8, '\0');
  }
  std::string h = "AISLEMDL";
  PutRaw<uint32_t>(&h, version);
  PutRaw<uint32_t>(&h, 64);
  PutRaw<uint64_t>(&h, customers);
  PutRaw<uint64_t>(&h, products);
  PutRaw<uint32_t>(&h, factors);
  PutRaw<uint32_t>(&h, static_cast<uint32_t>(sections.size()));
  PutRaw<uint64_t>(&h, payload.size());
  PutRaw<uint32_t>(&h, Crc32c(0, payload.data(), payload.size()));
  PutRaw<uint64_t>(&h, 0);
  PutRaw<uint32_t>(&h, Crc32c(0, h.data(), h.size()));
  return h + payload;
}

// An id table section body.
inline std::string IdsBody(const std::vector<std::string>& ids, uint64_t declared) {
  std::string b;
  PutRaw<uint64_t>(&b, declared);
  for (const std::string& id : ids) {
    PutRaw<uint32_t>(&b, static_cast<uint32_t>(id.size()));
    b += id;
  }
  return b;
}

// The sections of a valid 2 customers x 2 products x 1 factor model, with
// `meta` as its metadata.
inline std::vector<RawSection> SmallModelSections(const std::string& meta) {
  std::string ufac, ifac, purc, ipop;
  for (float f : {0.5f, -0.5f}) PutRaw(&ufac, f);
  for (float f : {1.0f, 2.0f}) PutRaw(&ifac, f);
  PutRaw<uint64_t>(&purc, 1);
  for (uint64_t p : {0, 1, 1}) PutRaw(&purc, p);
  PutRaw<uint32_t>(&purc, 1);
  for (float f : {1.0f, 1.0f}) PutRaw(&ipop, f);
  return {{"META", meta},
          {"CIDS", IdsBody({"c0", "c1"}, 2)},
          {"PIDS", IdsBody({"p0", "p1"}, 2)},
          {"UFAC", ufac},
          {"IFAC", ifac},
          {"PURC", purc},
          {"IPOP", ipop}};
}

}  // namespace aisle::testing
