#include "server/event_request.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/utf8.h"
#include "events/timestamp.h"

namespace aisle {
namespace {

using json = nlohmann::json;

// An error for the event being read.
struct Bad {
  std::string reason;
};

std::string Text(const json& e, const char* key, size_t max, bool required) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) {
    if (required) throw Bad{absl::StrCat("'", key, "' is required")};
    return "";
  }
  if (!it->is_string()) throw Bad{absl::StrCat("'", key, "' must be a string")};
  // Surrounding spaces are not part of an id (the trainer's reader trims them too).
  const std::string s(absl::StripAsciiWhitespace(it->get_ref<const std::string&>()));
  if (s.empty() && required) throw Bad{absl::StrCat("'", key, "' is empty")};
  if (s.size() > max) throw Bad{absl::StrCat("'", key, "' is longer than ", max, " bytes")};
  if (!IsPrintableUtf8(s)) throw Bad{absl::StrCat("'", key, "' holds control characters or invalid UTF-8")};
  return s;
}

double Number(const json& v, const char* key, double lo, double hi) {
  if (!v.is_number()) throw Bad{absl::StrCat("'", key, "' must be a number")};
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) throw Bad{absl::StrCat("'", key, "' must be in [", lo, ", ", hi, "]")};
  return x;
}

LiveEvent ReadEvent(const json& e, const EventLimits& limits, int64_t now_ms) {
  if (!e.is_object()) throw Bad{"an event must be a JSON object"};
  static const char* kKnown[] = {"customer_id", "product_id", "event",    "timestamp", "quantity",        "price",
                                 "channel",     "country",    "event_id", "recommendation_id"};
  for (const auto& [k, v] : e.items()) {
    bool known = false;
    for (const char* n : kKnown) known = known || k == n;
    if (!known) throw Bad{absl::StrCat("unknown field '", IsPrintableUtf8(k) ? k : "?", "'")};
  }
  LiveEvent out;
  out.customer_id = Text(e, "customer_id", limits.max_id_length, true);
  out.product_id = Text(e, "product_id", limits.max_id_length, true);
  const std::string type = Text(e, "event", 16, true);
  auto t = ParseEventType(type);
  if (!t || type.empty()) throw Bad{"'event' must be purchase, cart, view, return or click"};
  out.type = *t;
  const int64_t now_s = now_ms / 1000;
  out.timestamp = now_s;
  if (auto it = e.find("timestamp"); it != e.end() && !it->is_null()) {
    if (it->is_string()) {
      auto ts = ParseTimestamp(it->get_ref<const std::string&>());
      if (!ts) throw Bad{"'timestamp' must be RFC 3339 (2026-12-01T10:00:00Z) or Unix seconds"};
      out.timestamp = *ts;
    } else {
      out.timestamp = static_cast<int64_t>(Number(*it, "timestamp", 0, 253402300799.0));
    }
    if (out.timestamp < 0) throw Bad{"'timestamp' is before 1970"};
    if (out.timestamp > now_s + limits.max_future_seconds) {
      throw Bad{absl::StrCat("'timestamp' is more than ", limits.max_future_seconds, " s in the future")};
    }
  }
  if (auto it = e.find("quantity"); it != e.end() && !it->is_null()) {
    out.quantity = static_cast<float>(Number(*it, "quantity", 0, 1e6));
    if (!(out.quantity > 0)) throw Bad{"'quantity' must be > 0 (a return is event \"return\")"};
  }
  if (auto it = e.find("price"); it != e.end() && !it->is_null()) {
    out.price = static_cast<float>(Number(*it, "price", 0, 1e9));
  }
  const std::string channel = Text(e, "channel", 32, false);
  auto c = ParseChannel(channel);
  if (!c) throw Bad{"'channel' must be web, app, store, email, phone, social, marketplace or other"};
  out.channel = *c;
  out.country = Text(e, "country", limits.max_tag_length, false);
  out.event_id = Text(e, "event_id", limits.max_tag_length, false);
  out.recommendation_id = Text(e, "recommendation_id", limits.max_tag_length, false);
  out.received_ms = now_ms;
  return out;
}

}  // namespace

bool ParseEvents(const json& body, const EventLimits& limits, int64_t now_ms, std::vector<LiveEvent>* out,
                 EventError* error) {
  const json* list = &body;
  if (body.is_object() && body.size() == 1 && body.contains("events")) list = &body["events"];
  if (!list->is_array()) {
    *error = {std::numeric_limits<size_t>::max(), "the body must be a JSON array of events (or {\"events\": [...]})"};
    return false;
  }
  if (list->empty()) {
    *error = {std::numeric_limits<size_t>::max(), "no events"};
    return false;
  }
  if (list->size() > limits.max_events) {
    *error = {std::numeric_limits<size_t>::max(), absl::StrCat("more than ", limits.max_events, " events in one request")};
    return false;
  }
  out->clear();
  out->reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    try {
      out->push_back(ReadEvent((*list)[i], limits, now_ms));
    } catch (const Bad& b) {
      *error = {i, b.reason};
      out->clear();
      return false;
    }
  }
  return true;
}

}  // namespace aisle
