#include "events/event_ids.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace aisle {

EventIds::EventIds(Options options) : options_(options) {
  std::random_device rd;
  uint64_t w[4];
  for (uint64_t& x : w) x = (uint64_t{rd()} << 32) ^ rd();
  salt_ = absl::MakeUint128(w[0] ^ w[2], w[1] ^ w[3]);
}

EventIds::Key EventIds::KeyOf(absl::string_view customer, absl::string_view event_id) const {
  // Two hashes seeded with the halves of the process's random key; the
  // pair of strings is hashed with their lengths, so no two pairs alias.
  const uint64_t hi = absl::HashOf(absl::Uint128High64(salt_), customer, event_id);
  const uint64_t lo = absl::HashOf(event_id, absl::Uint128Low64(salt_), customer);
  return absl::MakeUint128(hi, lo);
}

std::shared_ptr<EventIds::Claim> EventIds::TryClaim(absl::Span<const Key> keys, absl::Span<const int64_t> received_ms,
                                                     std::vector<bool>* duplicate, std::function<void()> retry) {
  duplicate->assign(keys.size(), false);
  auto claim = std::make_shared<Claim>();
  std::lock_guard<std::mutex> lock(mu_);
  for (const Key& k : keys) {
    auto it = in_flight_.find(k);
    if (it != in_flight_.end()) {
      it->second->waiting_.push_back(std::move(retry));
      return nullptr;
    }
  }
  // A key twice in the request: a duplicate the second time (a set only
  // for requests of many ids).
  absl::flat_hash_set<Key> mine;
  auto repeated = [&](size_t i) {
    if (keys.size() > 16) return !mine.insert(keys[i]).second;
    const auto end = keys.begin() + static_cast<ptrdiff_t>(i);
    return std::find(keys.begin(), end, keys[i]) != end;
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    if (repeated(i) || ids_.contains(keys[i])) {
      (*duplicate)[i] = true;
      continue;
    }
    claim->keys_.push_back(keys[i]);
    claim->received_ms_.push_back(received_ms[i]);
  }
  for (const Key& k : claim->keys_) in_flight_.emplace(k, claim);
  return claim;
}

void EventIds::Settle(const std::shared_ptr<Claim>& claim, bool durable) {
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (claim->settled_) return;
    claim->settled_ = true;
    int64_t now = 0;
    for (int64_t ms : claim->received_ms_) now = std::max(now, ms);
    for (size_t i = 0; i < claim->keys_.size(); ++i) {
      in_flight_.erase(claim->keys_[i]);
      if (durable) InsertLocked(claim->keys_[i], claim->received_ms_[i], now);
    }
    waiting.swap(claim->waiting_);
  }
  for (auto& w : waiting) w();
}

void EventIds::InsertLocked(Key key, int64_t received_ms, int64_t now_ms) {
  if (options_.max_ids == 0) return;
  ExpireLocked(now_ms, /*room=*/1);
  if (ids_.try_emplace(key, received_ms).second) order_.push_back({received_ms, key});
}

void EventIds::ExpireLocked(int64_t now_ms, size_t room) {
  // Forgets the oldest until `room` more fit under max_ids, and all older
  // than the window. An entry of order_ whose time no longer matches its
  // id's (it was remembered again) only leaves the queue.
  while (!order_.empty() &&
         (order_.front().first < now_ms - options_.window_ms || ids_.size() + room > options_.max_ids)) {
    auto it = ids_.find(order_.front().second);
    if (it != ids_.end() && it->second == order_.front().first) ids_.erase(it);
    order_.pop_front();
  }
}

void EventIds::Remember(Key key, int64_t received_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = ids_.try_emplace(key, received_ms);
  if (inserted) {
    order_.push_back({received_ms, key});
  } else if (received_ms > it->second) {
    it->second = received_ms;  // the newest time: its order_ entry is the last of the id's
    order_.push_back({received_ms, key});
  }
}

void EventIds::Finish(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::sort(order_.begin(), order_.end());
  ExpireLocked(now_ms, /*room=*/0);
}

size_t EventIds::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ids_.size();
}

size_t EventIds::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

size_t EventIds::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  // A flat_hash_map holds one control byte and one slot per unit of
  // capacity (plus a group of cloned control bytes); a deque, its blocks
  // and their map.
  using Slot = std::pair<const Key, int64_t>;
  const size_t table = ids_.capacity() == 0 ? 0 : ids_.capacity() * (sizeof(Slot) + 1) + 16;
  constexpr size_t kEntry = sizeof(std::pair<int64_t, Key>);
  constexpr size_t kBlock = 512;  // libstdc++'s deque block bytes (at least one entry)
  const size_t per_block = std::max<size_t>(1, kBlock / kEntry);
  const size_t blocks = order_.size() / per_block + 1;
  const size_t queue = blocks * std::max(kBlock, kEntry) + blocks * sizeof(void*) * 2;
  const size_t flight = in_flight_.capacity() * (sizeof(std::pair<const Key, std::shared_ptr<Claim>>) + 1);
  return table + queue + flight;
}

}  // namespace aisle
