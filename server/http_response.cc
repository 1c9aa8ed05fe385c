#include "server/http_response.h"

#include "absl/strings/str_cat.h"
#include "server/recommendation_json.h"

namespace aisle {

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

absl::string_view ErrorCodeFor(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 417: return "expectation_failed";
    case 422: return "unprocessable";
    case 431: return "headers_too_large";
    case 501: return "not_implemented";
    case 503: return "unavailable";
    case 505: return "http_version_not_supported";
    default: return status >= 500 ? "internal" : "bad_request";
  }
}

HttpResponse JsonError(int status, absl::string_view code, absl::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":{\"code\":";
  AppendJsonString(&r.body, code);
  r.body += ",\"message\":";
  AppendJsonString(&r.body, message);
  r.body += "}}";
  // Unavailable is a moment (the live store failing over, a model
  // loading): a client may try again soon.
  if (status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

bool IsSafeHeaderValue(absl::string_view v) {
  for (char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  return true;
}

void AppendResponse(const HttpResponse& r, bool head, ConnectionHeader connection, absl::string_view date,
                    std::string* out) {
  absl::string_view reason = ReasonPhrase(r.status);
  absl::StrAppend(out, "HTTP/1.1 ", r.status, " ", reason.empty() ? "Unknown" : reason, "\r\nDate: ", date,
                  "\r\nServer: aisle\r\n");
  const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
  if (!no_body) {
    if (!r.content_type.empty() && IsSafeHeaderValue(r.content_type)) {
      absl::StrAppend(out, "Content-Type: ", r.content_type, "\r\n");
    }
    absl::StrAppend(out, "Content-Length: ", r.body.size(), "\r\n");
  }
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || !IsSafeHeaderValue(name) || name.find(':') != std::string::npos ||
        name.find(' ') != std::string::npos || !IsSafeHeaderValue(value)) {
      continue;
    }
    absl::StrAppend(out, name, ": ", value, "\r\n");
  }
  if (connection == ConnectionHeader::kClose) out->append("Connection: close\r\n");
  if (connection == ConnectionHeader::kKeepAlive) out->append("Connection: keep-alive\r\n");
  out->append("\r\n");
  if (!head && !no_body) out->append(r.body);
}

}  // namespace aisle
