#include "engine/id_map.h"

#include <atomic>
#include <cstring>

namespace aisle {

uint64_t IdHash(absl::string_view id) {
  // 8 bytes at a time, each mixed in with a multiply and a rotate; the
  // length goes in first, the tail zero-padded; a final avalanche.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (id.size() * kMul);
  const char* p = id.data();
  size_t n = id.size();
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ (v * kMul)) * 0xFF51AFD7ED558CCDull;
    h = (h << 29) | (h >> 35);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ (v * kMul)) * 0xFF51AFD7ED558CCDull;
  }
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

void IdMap::Rehash(size_t slots) {
  slots_.assign(slots, 0);
  const size_t mask = slots - 1;
  for (uint32_t i = 0; i < size(); ++i) {
    size_t s = IdHash(id_unchecked(i)) & mask;
    while (slots_[s] != 0) s = (s + 1) & mask;
    slots_[s] = i + 1;
  }
}

void IdMap::Reserve(size_t n) {
  offsets_.reserve(n + 1);
  size_t slots = 16;
  while (slots < 2 * n) slots *= 2;
  if (slots > slots_.size()) Rehash(slots);
}

uint32_t IdMap::Insert(absl::string_view id) {
  if (auto found = Find(id)) return *found;
  const uint32_t index = static_cast<uint32_t>(size());
  bytes_.append(id.data(), id.size());
  offsets_.push_back(bytes_.size());
  if (2 * size() > slots_.size()) {
    Rehash(std::max<size_t>(16, slots_.size() * 2));  // places the new id too
  } else {
    const size_t mask = slots_.size() - 1;
    size_t s = IdHash(id) & mask;
    while (slots_[s] != 0) s = (s + 1) & mask;
    slots_[s] = index + 1;
  }
  return index;
}

std::vector<std::string> IdMap::ids() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (uint32_t i = 0; i < size(); ++i) out.emplace_back(id_unchecked(i));
  return out;
}

bool IdMap::Assign(const std::vector<std::string>& ids) {
  *this = IdMap();
  Reserve(ids.size());
  for (const std::string& s : ids) {
    if (Insert(s) != size() - 1) return false;
  }
  return true;
}

std::optional<std::string> IdMap::FromParts(std::string bytes, std::vector<uint64_t> offsets,
                                            std::vector<uint32_t> slots, IdMap* out) {
  if (offsets.empty() || offsets[0] != 0) return "id offsets do not start at 0";
  const size_t n = offsets.size() - 1;
  if (n >= kMaxSize) return "too many ids";
  for (size_t i = 0; i < n; ++i) {
    if (offsets[i + 1] < offsets[i]) return "id offsets are not ascending";
  }
  if (offsets[n] != bytes.size()) return "id offsets do not end at the ids' size";
  if (n > 0 && (slots.size() < 2 * n || (slots.size() & (slots.size() - 1)) != 0)) {
    return "id table is not a power of two at least twice the ids";
  }
  IdMap m;
  m.bytes_ = std::move(bytes);
  m.offsets_ = std::move(offsets);
  m.slots_ = std::move(slots);
  for (uint32_t v : m.slots_) {
    if (v > n) return "id table holds an index out of range";
  }
  // Every id found at its own index: then each index is in the table once
  // (n ids, n distinct hits) and no id is duplicated (a duplicate would be
  // found at the first of its indexes). Lookups cannot run past the table:
  // it is at most half full, so every probe meets an empty slot.
  std::atomic<bool> ok{true};
#pragma omp parallel for schedule(static, 65536)
  for (long i = 0; i < static_cast<long>(n); ++i) {
    if (!ok.load(std::memory_order_relaxed)) continue;
    const auto found = m.Find(m.id_unchecked(static_cast<uint32_t>(i)));
    if (!found || *found != static_cast<uint32_t>(i)) ok = false;
  }
  if (!ok) return "an id is duplicated or missing from the id table";
  size_t used = 0;
  for (uint32_t v : m.slots_) used += v != 0;
  if (used != n) return "id table holds more entries than ids";
  *out = std::move(m);
  return std::nullopt;
}

}  // namespace aisle
