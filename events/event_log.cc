#include "events/event_log.h"

namespace aisle {

absl::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kPurchase: return "purchase";
    case EventType::kCart: return "cart";
    case EventType::kView: return "view";
    case EventType::kReturn: return "return";
  }
  return "unknown";
}

absl::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kWeb: return "web";
    case Channel::kApp: return "app";
    case Channel::kStore: return "store";
    case Channel::kUnknown: break;
  }
  return "";
}

}  // namespace aisle
