// Request parsing for the API handlers: the typed parameters of a request
// from its query string (GET) or JSON body (POST), path ids, and the
// client errors they raise. Everything that reaches the engine from here is
// checked: strict percent-decoding, valid UTF-8 without control
// characters for ids and strings, finite numbers in range, bounded lists.
// A client error is thrown as HttpError inside a handler and turned into a
// JSON 4xx at the handler's edge (HttpServer::Handle).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/recommender.h"
#include "server/http_request.h"

namespace aisle {

// A client (or server) error carried out of a handler.
struct HttpError {
  int status;
  std::string code;
  std::string message;
};

[[noreturn]] void Fail(int status, std::string code, std::string message);
// NotFound 404, InvalidArgument 400, Unavailable 503, the rest 500.
[[noreturn]] void FailStatus(const absl::Status& s);
int HttpStatusFor(const absl::Status& s);
std::string ErrorCodeForStatus(const absl::Status& s);

// Percent-decoding (RFC 3986): nullopt for a '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(absl::string_view s);

// The parameters of a request: the query string's, or a JSON object's.
class Params {
 public:
  // Throws HttpError 400 for malformed percent-encoding or invalid UTF-8.
  static Params FromQuery(absl::string_view query);
  static Params FromJson(const nlohmann::json& body) { return Params(&body); }

  std::optional<std::string> String(const std::string& name) const;
  // Comma-separated in a query string; a string or an array of strings in JSON.
  std::vector<std::string> List(const std::string& name, size_t max_items, size_t max_len) const;
  // A finite number (within float range when `as_float`).
  std::optional<double> Number(const std::string& name, bool as_float = false) const;
  bool Bool(const std::string& name, bool def) const;

 private:
  explicit Params(const nlohmann::json* body) : body_(body) {}
  Params() = default;
  absl::flat_hash_map<std::string, std::string> query_;
  const nlohmann::json* body_ = nullptr;
};

// The ":id" path parameter, decoded: 400 when empty, too long, badly
// encoded, or not printable UTF-8.
std::string PathId(const HttpRequest& req, size_t max_len);
// Who an anonymous request is, for experiment assignment: "visitor_id" (or
// "customer_id") when given, else empty. 400 when too long or not printable.
std::string VisitorId(const Params& p, size_t max_len);
// The body as a JSON object: 413 past `limit`, 400 when not a JSON object.
nlohmann::json ParseBody(const HttpRequest& req, size_t limit, bool object = true);
// "count": an integer in [1, max_count], `def` when absent.
size_t CountParam(const Params& p, size_t def, size_t max_count);
// The filters and options every recommendation endpoint takes.
RecommendOptions OptionsFrom(const Params& p, size_t max_count, size_t max_id);

}  // namespace aisle
