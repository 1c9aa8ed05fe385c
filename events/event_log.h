// EventLog: customer events (purchases, carts, views, returns) read from the
// store's files, with customer and product ids mapped to dense indexes.
// Plain data; not thread-safe for writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/id_map.h"

namespace aisle {

// A click: the customer followed a recommendation or offer (weak interest, weighted below a view).
enum class EventType : uint8_t { kPurchase = 0, kCart = 1, kView = 2, kReturn = 3, kClick = 4 };
// Where an event happened; every channel counts the same in training
// (omnichannel: a store purchase is as much a purchase as a web one).
enum class Channel : uint8_t {
  kUnknown = 0, kWeb = 1, kApp = 2, kStore = 3, kEmail = 4, kPhone = 5, kSocial = 6, kMarketplace = 7, kOther = 8
};
inline constexpr int kNumChannels = 9;

absl::string_view EventTypeName(EventType t);
absl::string_view ChannelName(Channel c);  // "" for kUnknown
// Case-insensitive names; empty is a purchase (event) or kUnknown (channel).
std::optional<EventType> ParseEventType(absl::string_view s);
std::optional<Channel> ParseChannel(absl::string_view s);

inline constexpr uint16_t kNoCountry = 0xFFFF;

// A signed 64-bit count of Unix seconds held as two 32-bit halves, so that an
// Event is 4-aligned and 28 bytes instead of 32 (100M events: 2.8 GB instead
// of 3.2 GB, the trainer's peak at the reference size). Converts to and from
// int64_t implicitly; read it by value (there is no int64_t to bind to).
class PackedSeconds {
 public:
  PackedSeconds() = default;
  constexpr PackedSeconds(int64_t s)  // NOLINT: implicit by design
      : lo_(static_cast<uint32_t>(static_cast<uint64_t>(s))),
        hi_(static_cast<uint32_t>(static_cast<uint64_t>(s) >> 32)) {}
  constexpr operator int64_t() const {  // NOLINT
    return static_cast<int64_t>((static_cast<uint64_t>(hi_) << 32) | lo_);
  }

 private:
  uint32_t lo_;
  uint32_t hi_;
};

struct Event {
  uint32_t customer;   // index into EventLog::customers
  uint32_t product;    // index into EventLog::products
  PackedSeconds timestamp;  // Unix seconds, UTC (0 when the input has none)
  float quantity;      // > 0; for returns, the quantity returned
  float price;         // unit price, or NaN when unknown
  EventType type;
  Channel channel;
  uint16_t country;    // index into EventLog::countries, or kNoCountry
};
static_assert(sizeof(Event) == 28 && alignof(Event) == 4);
static_assert(std::is_trivially_copyable_v<Event>);

struct EventLog {
  IdMap customers;
  IdMap products;
  IdMap countries;
  std::vector<Event> events;
  // The server's event journal segments 1..N are among the inputs (0: none);
  // a model records it so the server knows which live events it holds.
  uint64_t journal_through_segment = 0;
};

}  // namespace aisle
