// HttpRequest and HttpRequestParser: one HTTP/1.x request (RFC 9112) as the
// server sees it, and the incremental parser that reads it from a
// connection's bytes. The parser is strict where leniency would let a
// request mean two things (several Content-Length values, Content-Length
// with Transfer-Encoding, obs-fold, bare CR, a missing or repeated Host in
// HTTP/1.1) and bounds everything it holds: header bytes (431 past the
// limit), header count, body bytes (413). Its cost is linear in the bytes
// given, however they are split across reads. Transfer-Encoding: chunked
// is decoded; other codings are 501.
// Not thread-safe; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace aisle {

struct HttpRequest {
  std::string method;  // as sent: methods are case-sensitive
  std::string target;  // the request-target as sent
  std::string path;    // the target's path, still percent-encoded ("*" for OPTIONS *)
  std::string query;   // the target's query, without '?', still percent-encoded
  int minor_version = 1;  // HTTP/1.<minor_version>
  // Names lower-cased, values without surrounding whitespace, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded (chunked bodies are joined)
  bool keep_alive = true;  // the connection persists after this request
  bool expect_continue = false;  // Expect: 100-continue
  std::string peer;  // the client's address, set by the transport
  // Path parameters set by the router (":id" -> raw, still percent-encoded).
  std::vector<std::pair<std::string, std::string>> params;

  // The first value of a header (name in lower case), or null.
  const std::string* Header(absl::string_view lower_name) const;
  // A path parameter set by the router, or null.
  const std::string* Param(absl::string_view name) const;
};

class HttpRequestParser {
 public:
  struct Limits {
    size_t max_header_bytes = 16 << 10;  // request line and headers
    size_t max_headers = 100;
    size_t max_body_bytes = 1 << 20;
  };
  enum class State {
    kNeedMore,  // more bytes are needed
    kComplete,  // request() holds a whole request; consumed() bytes were used
    kError,     // error_status()/error_message(); the connection must be closed
  };

  explicit HttpRequestParser(Limits limits) : limits_(limits) {}

  // Parses `data`: every unconsumed byte of the connection, the same prefix
  // as the previous call plus what arrived since (the parser remembers how
  // far it got, so each byte is examined a bounded number of times).
  State Parse(absl::string_view data);
  // After kComplete: the bytes of `data` this request took.
  size_t consumed() const { return consumed_; }
  // After kNeedMore: the request line and headers are parsed and the body
  // is awaited (when to answer "Expect: 100-continue").
  bool awaiting_body() const { return stage_ == Stage::kBody || stage_ == Stage::kChunkSize ||
                                      stage_ == Stage::kChunkData || stage_ == Stage::kTrailers; }
  HttpRequest& request() { return request_; }
  // Bytes of body decoded so far (a chunked body in progress), which the
  // caller no longer holds after ReleaseConsumed().
  size_t body_bytes() const { return request_.body.size(); }
  // After kNeedMore while a chunked body arrives: the number of leading
  // bytes of `data` the parser no longer needs (decoded into the body, or
  // framing), which the caller drops before the next Parse() (passing the
  // data after them). Bounds the raw bytes held for a body sent in tiny
  // chunks by what is still undecoded. 0 at other stages.
  size_t ReleaseConsumed();
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // Ready for the next request on the same connection.
  void Reset();

 private:
  enum class Stage { kHead, kBody, kChunkSize, kChunkData, kTrailers, kDone };
  State Fail(int status, std::string message);
  State ParseHead(absl::string_view head);
  State ParseChunked(absl::string_view data);

  Limits limits_;
  Stage stage_ = Stage::kHead;
  HttpRequest request_;
  size_t skip_ = 0;         // leading empty lines before the request line
  size_t scanned_ = 0;      // head bytes already searched for the blank line
  size_t body_start_ = 0;   // offset of the body in `data`
  size_t body_length_ = 0;  // Content-Length
  size_t pos_ = 0;          // chunked: offset of the next unparsed byte
  size_t chunk_left_ = 0;   // chunked: bytes left in the current chunk
  size_t consumed_ = 0;
  size_t encoded_released_ = 0;  // chunked: encoded bytes released by ReleaseConsumed
  size_t trailer_bytes_ = 0, trailer_fields_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace aisle
