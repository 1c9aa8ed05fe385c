// libFuzzer target: what a client sends, from bytes to engine options: the
// HTTP request parser (fed in two pieces, split where the first byte says),
// then routing, the path id, the query parameters and the JSON body; and the
// same bytes parsed in small pieces as the transport feeds a chunked body
// (its decoded part released), which must give the same request.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/http_request.h"
#include "server/http_response.h"
#include "server/request_params.h"
#include "server/router.h"

namespace {

const aisle::Router& Routes() {
  static aisle::Router* r = [] {
    auto* router = new aisle::Router();
    router->Add("GET", "/v1/customers/:id/recommendations");
    router->Add("POST", "/v1/recommendations");
    router->Add("POST", "/v1/customers/:id/rank");
    router->Add("GET", "/v1/products/:id/similar");
    return router;
  }();
  return *r;
}

// Parses `input` as the transport does, `step` bytes at a time, dropping
// what ReleaseConsumed() gives back: the state at the end, and the body.
aisle::HttpRequestParser::State Streamed(const std::string& input, size_t step,
                                         const aisle::HttpRequestParser::Limits& limits, std::string* body) {
  aisle::HttpRequestParser p(limits);
  std::string held;
  aisle::HttpRequestParser::State st = aisle::HttpRequestParser::State::kNeedMore;
  for (size_t at = 0; at < input.size() && st == aisle::HttpRequestParser::State::kNeedMore;) {
    const size_t n = std::min(step, input.size() - at);
    held.append(input, at, n);
    at += n;
    st = p.Parse(held);
    if (st == aisle::HttpRequestParser::State::kNeedMore) held.erase(0, p.ReleaseConsumed());
  }
  if (st == aisle::HttpRequestParser::State::kComplete) *body = p.request().body;
  return st;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  aisle::HttpRequestParser::Limits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 8192;
  aisle::HttpRequestParser parser(limits);
  const size_t split = input.empty() ? 0 : data[0] % (input.size() + 1);
  aisle::HttpRequestParser::State st = parser.Parse(absl::string_view(input).substr(0, split));
  if (st == aisle::HttpRequestParser::State::kNeedMore) st = parser.Parse(input);
  // Fed in small pieces with the decoded part of a chunked body released:
  // the same request, or the same refusal.
  std::string streamed_body;
  const aisle::HttpRequestParser::State streamed = Streamed(input, 1 + data[0] % 13, limits, &streamed_body);
  if ((streamed == aisle::HttpRequestParser::State::kComplete) != (st == aisle::HttpRequestParser::State::kComplete) ||
      (st == aisle::HttpRequestParser::State::kComplete && streamed_body != parser.request().body)) {
    __builtin_trap();
  }
  if (st == aisle::HttpRequestParser::State::kError) {
    std::string out;
    aisle::AppendResponse(aisle::JsonError(parser.error_status(), "e", parser.error_message()), false,
                          aisle::ConnectionHeader::kClose, "date", &out);
    return 0;
  }
  if (st != aisle::HttpRequestParser::State::kComplete) return 0;
  aisle::HttpRequest req = std::move(parser.request());
  aisle::Router::Match m = Routes().Find(req.method, req.path);
  req.params = m.params;
  try {
    if (m.route >= 0 && req.Param(":id") != nullptr) (void)aisle::PathId(req, 256);
    (void)aisle::OptionsFrom(aisle::Params::FromQuery(req.query), 1000, 256);
    if (!req.body.empty()) {
      nlohmann::json body = aisle::ParseBody(req, 8192);
      (void)aisle::OptionsFrom(aisle::Params::FromJson(body), 1000, 256);
      (void)aisle::Params::FromJson(body).List("products", 1000, 256);
    }
  } catch (const aisle::HttpError& e) {
    // The one way a handler refuses a request: a 4xx.
    if (e.status < 400 || e.status >= 500) __builtin_trap();
  }
  return 0;
}
