// HttpResponse: what a handler answers, and its serialization as HTTP/1.1
// (status line, Date, Content-Type, Content-Length, the handler's headers,
// Connection when the connection closes or an HTTP/1.0 client keeps it).
// Header values that could split the response (CR, LF, other control
// characters) are never written: such a header is dropped.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace aisle {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the ones above
};

// The reason phrase of a status code ("" for codes we never send).
absl::string_view ReasonPhrase(int status);

// {"error": {"code": ..., "message": ...}} as a response (valid UTF-8 whatever `message` holds);
// a 503 says Retry-After: 1.
HttpResponse JsonError(int status, absl::string_view code, absl::string_view message);
// The error code name for a status ("bad_request", "not_found", ...).
absl::string_view ErrorCodeFor(int status);

enum class ConnectionHeader { kNone, kClose, kKeepAlive };

// Appends the response to `out`. `head`: headers only (a HEAD request),
// Content-Length still that of the body. `date`: an IMF-fixdate.
void AppendResponse(const HttpResponse& r, bool head, ConnectionHeader connection, absl::string_view date,
                    std::string* out);

// Whether `v` is a valid header field value (RFC 9110 5.5: VCHAR, obs-text,
// SP, HTAB; no other control characters): what the parser accepts and the
// writer writes.
bool IsSafeHeaderValue(absl::string_view v);

}  // namespace aisle
