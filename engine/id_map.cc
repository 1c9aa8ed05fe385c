#include "engine/id_map.h"

#include <atomic>
#include <algorithm>
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
  tags_.assign(slots, 0);
  const size_t mask = slots - 1;
  for (uint32_t i = 0; i < size(); ++i) {
    const uint64_t h = IdHash(id_unchecked(i));
    size_t s = h & mask;
    while (slots_[s] != 0) s = (s + 1) & mask;
    slots_[s] = i + 1;
    tags_[s] = Tag(h);
  }
}

void IdMap::Reserve(size_t n) {
  offsets_.reserve(n + 1);
  size_t slots = 16;
  while (slots < 2 * n) slots *= 2;
  if (slots > slots_.size()) Rehash(slots);
}

uint32_t IdMap::InsertHashed(absl::string_view id, uint64_t h) {
  if (2 * (size() + 1) > slots_.size()) Rehash(std::max<size_t>(16, slots_.size() * 2));
  // One probe: the id's slot, or the empty one where it goes.
  const size_t mask = slots_.size() - 1;
  const uint8_t tag = Tag(h);
  size_t s = h & mask;
  for (; slots_[s] != 0; s = (s + 1) & mask) {
    if (tags_[s] == tag && id_unchecked(slots_[s] - 1) == id) return slots_[s] - 1;
  }
  const uint32_t index = static_cast<uint32_t>(size());
  bytes_.append(id.data(), id.size());
  offsets_.push_back(bytes_.size());
  slots_[s] = index + 1;
  tags_[s] = tag;
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
  m.tags_.assign(m.slots_.size(), 0);  // filled by the walk below
  // Slot values in range, and as many entries as ids (each index then found
  // once below), on all threads.
  size_t used = 0;
  bool in_range = true;
#pragma omp parallel for reduction(+ : used) reduction(&& : in_range) schedule(static)
  for (long s = 0; s < static_cast<long>(m.slots_.size()); ++s) {
    const uint32_t v = m.slots_[s];
    in_range = in_range && v <= n;
    used += v != 0;
  }
  if (!in_range) return "id table holds an index out of range";
  if (used != n) return "id table holds more or fewer entries than ids";
  {
    std::vector<char> seen(n, 0);
    for (uint32_t v : m.slots_) {
      if (v == 0) continue;
      if (seen[v - 1]) return "id table holds an index twice";
      seen[v - 1] = 1;
    }
  }
  // Every index is in the table once; every id is found at its own index,
  // so none is unreachable or duplicated (a duplicate would be found at the
  // first of its indexes). Lookups cannot run past the table: it is at most
  // half full, so every probe meets an empty slot.
  // One pass over the table in slot order, run by run (a run: consecutive
  // entries between empty slots), on all threads: each entry's home slot
  // (its id's hash) must lie in its run at or before it, so a lookup
  // reaches it; entries of a run with equal hashes must hold different ids
  // (a duplicate has the same hash, so it lands in the same run). The ids'
  // bytes are read at random, prefetched a batch ahead.
  std::atomic<bool> ok{true};
  const size_t size = m.slots_.size(), mask = size - 1;
  size_t origin = 0;  // an empty slot: runs never wrap past it
  while (origin < size && m.slots_[origin] != 0) ++origin;
  if (n > 0 && origin == size) return "id table has no empty slot";
  const int chunks = n == 0 ? 0 : 64;
#pragma omp parallel for schedule(dynamic, 1)
  for (int c = 0; c < chunks; ++c) {
    // This chunk's runs: those starting (after an empty slot) in its share
    // of the table, counted from `origin`.
    size_t begin = origin + size * c / chunks, end = origin + size * (c + 1) / chunks;
    if (m.slots_[(begin - 1) & mask] != 0) {
      while (begin < end && m.slots_[begin & mask] != 0) ++begin;  // a run begun before: the previous chunk's
    }
    std::vector<std::pair<uint64_t, uint32_t>> run;  // (hash, index) of the current run's entries
    std::vector<uint64_t> hashes;
    for (size_t t = begin; ok.load(std::memory_order_relaxed);) {
      // Skip empty slots; stop at the first run starting at or after `end`.
      while (t < begin + size && m.slots_[t & mask] == 0) ++t;
      if (t >= end || t >= begin + size) break;
      const size_t start = t;
      run.clear();
      while (m.slots_[t & mask] != 0) run.push_back({0, m.slots_[t++ & mask] - 1});
      for (const auto& e : run) __builtin_prefetch(&m.offsets_[e.second]);
      for (const auto& e : run) __builtin_prefetch(m.bytes_.data() + m.offsets_[e.second]);
      for (size_t i = 0; i < run.size(); ++i) {
        const uint64_t h = IdHash(m.id_unchecked(run[i].second));
        run[i].first = h;
        m.tags_[(start + i) & mask] = Tag(h);
        // The home slot, as a distance back from this entry's slot.
        const size_t back = ((start + i) - h) & mask;
        if (back > i) ok = false;  // an empty slot lies between home and entry: unreachable
      }
      if (run.size() > 1) {
        std::sort(run.begin(), run.end());
        for (size_t i = 1; i < run.size(); ++i) {
          if (run[i].first == run[i - 1].first && m.id_unchecked(run[i].second) == m.id_unchecked(run[i - 1].second)) {
            ok = false;
          }
        }
      }
    }
  }
  if (!ok) return "an id is duplicated or missing from the id table";
  *out = std::move(m);
  return std::nullopt;
}

}  // namespace aisle
