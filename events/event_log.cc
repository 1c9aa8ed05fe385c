#include "events/event_log.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace aisle {

absl::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kPurchase: return "purchase";
    case EventType::kCart: return "cart";
    case EventType::kView: return "view";
    case EventType::kReturn: return "return";
    case EventType::kClick: return "click";
  }
  return "unknown";
}

absl::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kWeb: return "web";
    case Channel::kApp: return "app";
    case Channel::kStore: return "store";
    case Channel::kEmail: return "email";
    case Channel::kPhone: return "phone";
    case Channel::kSocial: return "social";
    case Channel::kMarketplace: return "marketplace";
    case Channel::kOther: return "other";
    case Channel::kUnknown: break;
  }
  return "";
}

std::optional<EventType> ParseEventType(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty() || absl::EqualsIgnoreCase(s, "purchase")) return EventType::kPurchase;
  for (EventType t : {EventType::kCart, EventType::kView, EventType::kReturn, EventType::kClick}) {
    if (absl::EqualsIgnoreCase(s, EventTypeName(t))) return t;
  }
  return std::nullopt;
}

std::optional<Channel> ParseChannel(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return Channel::kUnknown;
  for (int c = 1; c < kNumChannels; ++c) {
    if (absl::EqualsIgnoreCase(s, ChannelName(static_cast<Channel>(c)))) return static_cast<Channel>(c);
  }
  return std::nullopt;
}

}  // namespace aisle
