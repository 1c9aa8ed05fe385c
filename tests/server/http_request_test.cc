// HttpRequestParser: requests as clients send them, split anywhere, and
// every malformed or oversized head answered with the right status.
#include "server/http_request.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "absl/strings/string_view.h"

namespace aisle {
namespace {

using State = HttpRequestParser::State;

// Parses `raw` whole; the parser's state after it.
State ParseAll(HttpRequestParser& p, const std::string& raw) { return p.Parse(raw); }

TEST(HttpRequestParserTest, ParsesARequestWithTrimmedLowerCasedHeaders) {
  HttpRequestParser p({});
  const std::string raw =
      "GET /v1/customers/c%201/recommendations?count=3&category=a HTTP/1.1\r\n"
      "Host: shop.example:8080\r\nX-API-Key:   key-with-spaces \t\r\nAccept: */*\r\n\r\n";
  ASSERT_EQ(ParseAll(p, raw), State::kComplete);
  EXPECT_EQ(p.consumed(), raw.size());
  const HttpRequest& r = p.request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/v1/customers/c%201/recommendations");
  EXPECT_EQ(r.query, "count=3&category=a");
  EXPECT_EQ(r.minor_version, 1);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_NE(r.Header("x-api-key"), nullptr);
  EXPECT_EQ(*r.Header("x-api-key"), "key-with-spaces");
  EXPECT_EQ(r.Header("X-API-Key"), nullptr);  // names are looked up in lower case
}

TEST(HttpRequestParserTest, SameResultWhateverTheSplit) {
  const std::string raw =
      "\r\nPOST /v1/recommendations HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n{\"products\": [\"p1\"]}";
  for (size_t step : {1, 2, 3, 7, 64}) {
    HttpRequestParser p({});
    State st = State::kNeedMore;
    size_t given = 0;
    while (st == State::kNeedMore && given < raw.size()) {
      given = std::min(raw.size(), given + step);
      st = p.Parse(absl::string_view(raw).substr(0, given));
    }
    ASSERT_EQ(st, State::kComplete) << "step " << step;
    EXPECT_EQ(p.request().body, "{\"products\": [\"p1\"]}");
    EXPECT_EQ(p.consumed(), raw.size());
  }
}

TEST(HttpRequestParserTest, PipelinedRequestsAreParsedOneAfterAnother) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b = "GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const std::string raw = a + b + "GET /c HT";
  HttpRequestParser p({});
  ASSERT_EQ(p.Parse(raw), State::kComplete);
  EXPECT_EQ(p.request().path, "/a");
  EXPECT_EQ(p.consumed(), a.size());
  p.Reset();
  absl::string_view rest = absl::string_view(raw).substr(a.size());
  ASSERT_EQ(p.Parse(rest), State::kComplete);
  EXPECT_EQ(p.request().path, "/b");
  EXPECT_FALSE(p.request().keep_alive);
  p.Reset();
  EXPECT_EQ(p.Parse(rest.substr(b.size())), State::kNeedMore);
}

TEST(HttpRequestParserTest, ConnectionPersistenceFollowsTheVersion) {
  struct Case {
    const char* raw;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    HttpRequestParser p({});
    ASSERT_EQ(p.Parse(c.raw), State::kComplete) << c.raw;
    EXPECT_EQ(p.request().keep_alive, c.keep_alive) << c.raw;
  }
}

TEST(HttpRequestParserTest, AbsoluteFormAndOptionsStar) {
  HttpRequestParser p({});
  ASSERT_EQ(p.Parse("GET http://h:1/healthz?x=1 HTTP/1.1\r\nHost: h:1\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.request().path, "/healthz");
  EXPECT_EQ(p.request().query, "x=1");
  p.Reset();
  ASSERT_EQ(p.Parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.request().path, "*");
}

TEST(HttpRequestParserTest, ChunkedBodiesAreDecoded) {
  HttpRequestParser p({});
  const std::string raw =
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\nB\r\n, chunked!!\r\n0\r\nTrailer: v\r\n\r\nGET";
  ASSERT_EQ(p.Parse(raw), State::kComplete);
  EXPECT_EQ(p.request().body, "hello, chunked!!");
  EXPECT_EQ(raw.substr(p.consumed()), "GET");
  // Split anywhere.
  HttpRequestParser q({});
  State st = State::kNeedMore;
  for (size_t n = 1; n <= raw.size() && st == State::kNeedMore; ++n) st = q.Parse(absl::string_view(raw).substr(0, n));
  ASSERT_EQ(st, State::kComplete);
  EXPECT_EQ(q.request().body, "hello, chunked!!");
}

TEST(HttpRequestParserTest, AwaitsTheBodyAfterExpectContinue) {
  HttpRequestParser p({});
  EXPECT_EQ(p.Parse("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
            State::kNeedMore);
  EXPECT_TRUE(p.awaiting_body());
  EXPECT_TRUE(p.request().expect_continue);
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct BadCase {
  std::string raw;
  int status;
};

class HttpRequestParserErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(HttpRequestParserErrorTest, IsRefusedWithItsStatus) {
  HttpRequestParser::Limits limits;
  limits.max_header_bytes = 1024;
  limits.max_headers = 10;
  limits.max_body_bytes = 100;
  HttpRequestParser p(limits);
  ASSERT_EQ(p.Parse(GetParam().raw), State::kError) << GetParam().raw;
  EXPECT_EQ(p.error_status(), GetParam().status) << GetParam().raw << ": " << p.error_message();
  EXPECT_FALSE(p.error_message().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, HttpRequestParserErrorTest,
    ::testing::Values(
        BadCase{"GET / HTTP/1.1\r\n\r\n", 400},                                  // no Host
        BadCase{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},            // two Hosts
        BadCase{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},                     // bad Host
        BadCase{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        BadCase{"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        BadCase{"GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
        BadCase{"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},                      // two spaces
        BadCase{"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                       // bad method token
        BadCase{"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},                   // control in target
        BadCase{"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", 400},                   // raw byte in target
        BadCase{"GET relative HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        BadCase{"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},                       // * is OPTIONS only
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", 400},              // space before colon
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 400},   // obs-fold
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400},       // control in value
        BadCase{"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},                 // bare CR
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400},
        BadCase{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417},
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", 431},
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'a'), 431},  // no end yet
        BadCase{"GET / HTTP/1.1\r\nHost: h\r\n" + Repeat("A: b\r\n", 11) + "\r\n", 431},
        // Where nginx is strict: whitespace before a chunk size, a bare CR
        // in a chunk extension or a trailer, trailers past the header limits.
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\t5\r\nhello\r\n0\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\rc\r\nhello\r\n0\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\rb\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT : a\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + Repeat("T: a\r\n", 11) + "\r\n", 431},
        BadCase{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
                    Repeat("T: " + std::string(500, 'a') + "\r\n", 3) + "\r\n", 431}));

// Leading zeros are the same number, in Content-Length and chunk sizes (as
// nginx reads them): 20 of them are no reason for 413.
TEST(HttpRequestParserTest, LeadingZerosAreTheSameNumber) {
  HttpRequestParser p({});
  ASSERT_EQ(p.Parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 000000000000000000005\r\n\r\nhello"),
            State::kComplete);
  EXPECT_EQ(p.request().body, "hello");
  HttpRequestParser q({});
  ASSERT_EQ(q.Parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "00000000000000000000005 ;x=y\r\nhello\r\n00\r\n\r\n"),
            State::kComplete);
  EXPECT_EQ(q.request().body, "hello");
}

// A body of the largest size in 1-byte chunks is a body of that size: with
// the decoded part released as it arrives, the raw bytes held stay small.
TEST(HttpRequestParserTest, TinyChunksUpToTheBodyLimitAreAccepted) {
  HttpRequestParser::Limits limits;
  limits.max_body_bytes = 300 << 10;
  HttpRequestParser p(limits);
  std::string pending = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  State st = p.Parse(pending);
  ASSERT_EQ(st, State::kNeedMore);
  pending.erase(0, p.ReleaseConsumed());
  size_t most_held = 0;
  for (size_t i = 0; i < limits.max_body_bytes; ++i) {
    pending += "1\r\n";
    pending.push_back(static_cast<char>('a' + i % 26));
    pending += "\r\n";
    if (i % 1000 != 999) continue;
    st = p.Parse(pending);
    ASSERT_EQ(st, State::kNeedMore) << p.error_message();
    pending.erase(0, p.ReleaseConsumed());
    most_held = std::max(most_held, pending.size());
  }
  pending += "0\r\n\r\n";
  ASSERT_EQ(p.Parse(pending), State::kComplete) << p.error_message();
  EXPECT_EQ(p.request().body.size(), limits.max_body_bytes);
  EXPECT_EQ(p.consumed(), pending.size());
  EXPECT_LT(most_held, 8000u);
  // One byte more is over the limit, with the limit's own message.
  HttpRequestParser q(limits);
  std::string raw = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i <= limits.max_body_bytes; ++i) raw += "1\r\nx\r\n";
  ASSERT_EQ(q.Parse(raw), State::kError);
  EXPECT_EQ(q.error_status(), 413);
  EXPECT_NE(q.error_message().find("the body exceeds 307200 bytes"), std::string::npos) << q.error_message();
}

TEST(HttpRequestParserTest, AHugeHeadIsRefusedAsSoonAsItPassesTheLimit) {
  HttpRequestParser p({});  // 16 KiB
  std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  State st = State::kNeedMore;
  // Fed 4 KiB at a time, as reads arrive: refused within one read of the limit.
  while (st == State::kNeedMore) {
    raw.append(4096, 'a');
    st = p.Parse(raw);
    ASSERT_LE(raw.size(), (16u << 10) + 8192);
  }
  EXPECT_EQ(st, State::kError);
  EXPECT_EQ(p.error_status(), 431);
}

}  // namespace
}  // namespace aisle
