#include "server/http_request.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/http_response.h"

namespace aisle {

const std::string* HttpRequest::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

const std::string* HttpRequest::Param(absl::string_view name) const {
  for (const auto& [n, value] : params) {
    if (n == name) return &value;
  }
  return nullptr;
}

namespace {

// RFC 9110 5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Host = uri-host [ ":" port ]: reg-name / IPv4 / "[" IPv6 "]" characters.
bool IsHostValue(absl::string_view s) {
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c)) continue;
    if (c == 0 || std::strchr("-._~!$&'()*+,;=:[]%", c) == nullptr) return false;
  }
  return true;
}

// Parses a decimal size without overflow; false when not 1*DIGIT or above `max`.
bool ParseSize(absl::string_view s, size_t max, size_t* out, bool* too_large) {
  *too_large = false;
  // Leading zeros are the same number (as nginx reads them).
  while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);
  if (s.empty() || s.size() > 19) {
    *too_large = s.size() > 19 && std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
    return false;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) {
    *too_large = true;
    return false;
  }
  *out = static_cast<size_t>(v);
  return true;
}

}  // namespace

HttpRequestParser::State HttpRequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return State::kError;
}

void HttpRequestParser::Reset() {
  stage_ = Stage::kHead;
  request_ = HttpRequest();
  skip_ = scanned_ = body_start_ = body_length_ = pos_ = chunk_left_ = consumed_ = 0;
  encoded_released_ = trailer_bytes_ = trailer_fields_ = 0;
  error_status_ = 0;
  error_message_.clear();
}

HttpRequestParser::State HttpRequestParser::Parse(absl::string_view data) {
  if (stage_ == Stage::kHead) {
    // RFC 9112 2.2: empty lines before the request line are ignored.
    while (skip_ < data.size() && (data[skip_] == '\r' || data[skip_] == '\n') && skip_ < 64) ++skip_;
    if (skip_ >= 64) return Fail(400, "too many empty lines before the request line");
    const absl::string_view rest = data.substr(skip_);
    // Find the blank line ending the head: LF (CR)? LF, resuming where the
    // previous call stopped.
    size_t end = absl::string_view::npos;
    size_t head_len = 0;
    for (size_t i = scanned_; i < rest.size(); ++i) {
      if (rest[i] != '\n') continue;
      if (i + 1 < rest.size() && rest[i + 1] == '\n') {
        end = i + 1;
        head_len = i + 2;
        break;
      }
      if (i + 2 < rest.size() && rest[i + 1] == '\r' && rest[i + 2] == '\n') {
        end = i + 1;
        head_len = i + 3;
        break;
      }
    }
    if (end == absl::string_view::npos) {
      // Keep the last two bytes for the next call: the blank line may span reads.
      scanned_ = rest.size() > 2 ? rest.size() - 2 : 0;
      if (rest.size() > limits_.max_header_bytes) {
        return Fail(431, absl::StrCat("the request line and headers exceed ", limits_.max_header_bytes, " bytes"));
      }
      return State::kNeedMore;
    }
    if (head_len > limits_.max_header_bytes) {
      return Fail(431, absl::StrCat("the request line and headers exceed ", limits_.max_header_bytes, " bytes"));
    }
    if (State s = ParseHead(rest.substr(0, end)); s == State::kError) return s;
    body_start_ = skip_ + head_len;
    pos_ = body_start_;
  }
  if (stage_ == Stage::kBody) {
    if (data.size() - body_start_ < body_length_) return State::kNeedMore;
    request_.body = std::string(data.substr(body_start_, body_length_));
    consumed_ = body_start_ + body_length_;
    stage_ = Stage::kDone;
    return State::kComplete;
  }
  if (stage_ == Stage::kChunkSize || stage_ == Stage::kChunkData || stage_ == Stage::kTrailers) {
    return ParseChunked(data);
  }
  if (stage_ == Stage::kDone) return State::kComplete;
  return State::kNeedMore;
}

HttpRequestParser::State HttpRequestParser::ParseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (auto& l : lines) {
    if (absl::EndsWith(l, "\r")) l.remove_suffix(1);
    if (l.find('\r') != absl::string_view::npos) return Fail(400, "a bare CR in the request head");
  }
  if (lines.empty()) return Fail(400, "no request line");
  // request-line = method SP request-target SP HTTP-version
  const absl::string_view line = lines[0];
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos || line.find(' ', sp2 + 1) != absl::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  const absl::string_view method = line.substr(0, sp1);
  const absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const absl::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed method");
  if (version == "HTTP/1.1") {
    request_.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request_.minor_version = 0;
  } else if (version.size() == 8 && absl::StartsWith(version, "HTTP/") && absl::ascii_isdigit(version[5]) &&
             version[6] == '.' && absl::ascii_isdigit(version[7])) {
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  } else {
    return Fail(400, "malformed HTTP version");
  }
  if (target.empty()) return Fail(400, "empty request target");
  for (char ch : target) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return Fail(400, "invalid character in the request target");
  }
  request_.method = std::string(method);
  request_.target = std::string(target);
  absl::string_view path = target;
  if (target == "*") {
    if (method != "OPTIONS") return Fail(400, "the target * is for OPTIONS only");
  } else if (target[0] != '/') {
    // absolute-form (RFC 9112 3.2.2): http://authority/path?query
    const size_t scheme = target.find("://");
    if (scheme == absl::string_view::npos || !(absl::EqualsIgnoreCase(target.substr(0, scheme), "http") ||
                                              absl::EqualsIgnoreCase(target.substr(0, scheme), "https"))) {
      return Fail(400, "the request target must be a path");
    }
    const size_t slash = target.find('/', scheme + 3);
    path = slash == absl::string_view::npos ? absl::string_view("/") : target.substr(slash);
  }
  if (const size_t hash = path.find('#'); hash != absl::string_view::npos) path = path.substr(0, hash);
  const size_t q = path.find('?');
  request_.path = std::string(path.substr(0, q));
  if (q != absl::string_view::npos) request_.query = std::string(path.substr(q + 1));

  if (lines.size() - 1 > limits_.max_headers) {
    return Fail(431, absl::StrCat("more than ", limits_.max_headers, " header fields"));
  }
  request_.headers.reserve(lines.size() - 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view l = lines[i];
    if (l.empty()) return Fail(400, "an empty header line");
    if (l[0] == ' ' || l[0] == '\t') return Fail(400, "obsolete header line folding");
    const size_t colon = l.find(':');
    if (colon == absl::string_view::npos) return Fail(400, "a header line without ':'");
    const absl::string_view name = l.substr(0, colon);
    if (!IsToken(name)) return Fail(400, "malformed header name");
    const absl::string_view value = TrimOws(l.substr(colon + 1));
    if (!IsSafeHeaderValue(value)) return Fail(400, "a control character in a header value");
    request_.headers.emplace_back(absl::AsciiStrToLower(name), std::string(value));
  }

  // Host: exactly one in HTTP/1.1 (RFC 9112 3.2), at most one in HTTP/1.0.
  int hosts = 0;
  bool chunked = false, has_length = false, has_te = false;
  size_t length = 0;
  bool close = false, keep_alive = false;
  for (const auto& [name, value] : request_.headers) {
    if (name == "host") {
      ++hosts;
      if (!IsHostValue(value)) return Fail(400, "malformed Host header");
    } else if (name == "content-length") {
      // A list of identical values is one value (RFC 9110 8.6); different ones are an error.
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        size_t v = 0;
        bool too_large = false;
        if (!ParseSize(TrimOws(part), limits_.max_body_bytes, &v, &too_large)) {
          if (too_large) return Fail(413, absl::StrCat("the body exceeds ", limits_.max_body_bytes, " bytes"));
          return Fail(400, "malformed Content-Length");
        }
        if (has_length && v != length) return Fail(400, "conflicting Content-Length values");
        has_length = true;
        length = v;
      }
    } else if (name == "transfer-encoding") {
      has_te = true;
      for (absl::string_view coding : absl::StrSplit(value, ',')) {
        coding = TrimOws(coding);
        if (coding.empty()) continue;
        if (!absl::EqualsIgnoreCase(coding, "chunked") || chunked) {
          return Fail(501, "only the chunked transfer coding is supported");
        }
        chunked = true;
      }
    } else if (name == "connection") {
      for (absl::string_view option : absl::StrSplit(value, ',')) {
        option = TrimOws(option);
        if (absl::EqualsIgnoreCase(option, "close")) close = true;
        if (absl::EqualsIgnoreCase(option, "keep-alive")) keep_alive = true;
      }
    } else if (name == "expect") {
      if (!absl::EqualsIgnoreCase(value, "100-continue")) return Fail(417, "only Expect: 100-continue is supported");
      request_.expect_continue = true;
    }
  }
  if (request_.minor_version == 1 && hosts != 1) return Fail(400, "an HTTP/1.1 request needs exactly one Host header");
  if (hosts > 1) return Fail(400, "more than one Host header");
  if (has_te && has_length) return Fail(400, "both Transfer-Encoding and Content-Length");
  if (has_te && !chunked) return Fail(400, "malformed Transfer-Encoding");
  if (has_te && request_.minor_version == 0) return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  request_.keep_alive = request_.minor_version == 1 ? !close : (keep_alive && !close);
  if (chunked) {
    stage_ = Stage::kChunkSize;
  } else {
    body_length_ = has_length ? length : 0;
    stage_ = Stage::kBody;
  }
  return State::kNeedMore;
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1);
// chunk extensions ignored, trailers read and dropped.
size_t HttpRequestParser::ReleaseConsumed() {
  if (stage_ != Stage::kChunkSize && stage_ != Stage::kChunkData && stage_ != Stage::kTrailers) return 0;
  // Everything before pos_ is decoded into request_.body (or was framing).
  const size_t n = pos_;
  encoded_released_ += pos_ - body_start_;
  body_start_ = pos_ = 0;
  return n;
}

HttpRequestParser::State HttpRequestParser::ParseChunked(absl::string_view data) {
  // The encoded body may carry framing and extensions: bounded too, loosely
  // enough for a body of the largest size in 1-byte chunks ("1\r\nX\r\n").
  const size_t max_encoded = 8 * limits_.max_body_bytes + limits_.max_header_bytes;
  while (true) {
    if (encoded_released_ + pos_ - body_start_ > max_encoded) {
      return Fail(413, absl::StrCat("the chunked body with its framing exceeds ", max_encoded,
                                    " bytes (send larger chunks)"));
    }
    if (stage_ == Stage::kChunkData) {
      const size_t avail = data.size() - pos_;
      if (chunk_left_ > 0) {
        const size_t take = std::min(avail, chunk_left_);
        request_.body.append(data.data() + pos_, take);
        pos_ += take;
        chunk_left_ -= take;
        if (chunk_left_ > 0) return State::kNeedMore;
      }
      // CRLF after the chunk data.
      if (data.size() - pos_ < 1) return State::kNeedMore;
      if (data[pos_] == '\n') {
        pos_ += 1;
      } else if (data[pos_] == '\r') {
        if (data.size() - pos_ < 2) return State::kNeedMore;
        if (data[pos_ + 1] != '\n') return Fail(400, "malformed chunk");
        pos_ += 2;
      } else {
        return Fail(400, "malformed chunk");
      }
      stage_ = Stage::kChunkSize;
      continue;
    }
    const size_t nl = data.find('\n', pos_);
    if (nl == absl::string_view::npos) {
      if (data.size() - pos_ > 4096) return Fail(400, "a chunk size line over 4096 bytes");
      return State::kNeedMore;
    }
    absl::string_view line = data.substr(pos_, nl - pos_);
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (line.find('\r') != absl::string_view::npos) return Fail(400, "a bare CR in the chunked body's framing");
    pos_ = nl + 1;
    if (stage_ == Stage::kTrailers) {
      if (line.empty()) {
        consumed_ = pos_;
        stage_ = Stage::kDone;
        return State::kComplete;
      }
      // Trailer fields count against the header limits.
      trailer_bytes_ += line.size() + 2;
      if (++trailer_fields_ > limits_.max_headers) {
        return Fail(431, absl::StrCat("more than ", limits_.max_headers, " trailer fields"));
      }
      if (trailer_bytes_ > limits_.max_header_bytes) {
        return Fail(431, absl::StrCat("the trailer fields exceed ", limits_.max_header_bytes, " bytes"));
      }
      const size_t colon = line.find(':');
      if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon)) ||
          !IsSafeHeaderValue(TrimOws(line.substr(colon + 1)))) {
        return Fail(400, "malformed trailer");
      }
      continue;
    }
    // chunk-size [ BWS chunk-ext ]: no whitespace before the size (as nginx).
    const size_t semicolon = line.find(';');
    if (semicolon != absl::string_view::npos && !IsSafeHeaderValue(line.substr(semicolon))) {
      return Fail(400, "a control character in a chunk extension");
    }
    absl::string_view size_text = line.substr(0, semicolon);
    while (!size_text.empty() && (size_text.back() == ' ' || size_text.back() == '\t')) size_text.remove_suffix(1);
    while (size_text.size() > 1 && size_text[0] == '0') size_text.remove_prefix(1);
    if (size_text.empty() || size_text.size() > 15) return Fail(400, "malformed chunk size");
    size_t size = 0;
    for (char c : size_text) {
      if (!absl::ascii_isxdigit(c)) return Fail(400, "malformed chunk size");
      size = size * 16 + static_cast<size_t>(absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
    }
    if (size > limits_.max_body_bytes || request_.body.size() + size > limits_.max_body_bytes) {
      return Fail(413, absl::StrCat("the body exceeds ", limits_.max_body_bytes, " bytes"));
    }
    if (size == 0) {
      stage_ = Stage::kTrailers;
      continue;
    }
    chunk_left_ = size;
    stage_ = Stage::kChunkData;
  }
}

}  // namespace aisle
