// HttpTransport on a loopback port with a small handler: persistent
// connections, Connection: close and HTTP/1.0, pipelining in order with
// answers arriving out of order from other threads, timeouts, limits,
// HEAD and 100-continue, and answers for connections that are gone.
#include "server/http_transport.h"

#include <malloc.h>

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/http_client.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Connection;
using Answer = ::aisle::testing::HttpResponse;

class TransportTest : public ::testing::Test {
 protected:
  void Start(HttpTransportOptions o = {}) {
    o.port = 0;
    o.threads = 2;
    transport_ = std::make_unique<HttpTransport>(o, [this](HttpRequest req, HttpResponder responder) {
      Handle(std::move(req), std::move(responder));
    });
    ASSERT_TRUE(transport_->Start().ok());
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.clear();
    }
    for (auto& t : threads_) t.join();
    if (transport_) transport_->Shutdown();
  }

  // /echo?x: answers "path?query" at once; /later?ms: from another thread
  // after ms milliseconds; /hold: keeps the responder (answered later by
  // the test); /drop: drops it unanswered.
  void Handle(HttpRequest req, HttpResponder responder) {
    ::aisle::HttpResponse r;
    r.content_type = "text/plain";
    r.body = absl::StrCat(req.method, " ", req.path, "?", req.query, " body=", req.body);
    if (req.path == "/later") {
      int ms = 0;
      (void)absl::SimpleAtoi(req.query, &ms);
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([r, ms, resp = std::make_shared<HttpResponder>(std::move(responder))]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        resp->Send(std::move(r));
      });
      return;
    }
    if (req.path == "/hold") {
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(responder));
      return;
    }
    if (req.path == "/drop") return;
    if (req.path == "/big") r.body.assign(100000, 'x');
    responder.Send(std::move(r));
  }

  uint16_t port() const { return transport_->port(); }

  std::unique_ptr<HttpTransport> transport_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<HttpResponder> held_;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

TEST_F(TransportTest, HttpOneOneConnectionsPersistWithoutAConnectionHeader) {
  Start();
  Connection c(port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Get(absl::StrCat("/echo?", i))));
    Answer r = c.Read();
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, absl::StrCat("GET /echo?", i, " body="));
    EXPECT_EQ(r.headers.count("connection"), 0u);  // persistent: nothing to say
    EXPECT_FALSE(r.headers["date"].empty());
  }
  EXPECT_EQ(transport_->stats().accepted.load(), 1u);
}

TEST_F(TransportTest, ConnectionCloseIsAnsweredThenClosed) {
  Start();
  Connection c(port());
  ASSERT_TRUE(c.Send(Get("/echo?1", "Connection: close\r\n")));
  Answer r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.Closed());
}

TEST_F(TransportTest, HttpOneZeroClosesUnlessKeepAlive) {
  Start();
  {
    Connection c(port());
    ASSERT_TRUE(c.Send("GET /echo HTTP/1.0\r\n\r\n"));
    EXPECT_EQ(c.Read().status, 200);
    EXPECT_TRUE(c.Closed());
  }
  Connection c(port());
  ASSERT_TRUE(c.Send("GET /echo?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  Answer r = c.Read();
  EXPECT_EQ(r.headers["connection"], "keep-alive");
  ASSERT_TRUE(c.Send("GET /echo?b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(c.Read().body, "GET /echo?b body=");
}

TEST_F(TransportTest, PipelinedRequestsAreAnsweredInOrderWhateverOrderTheyFinishIn) {
  Start();
  Connection c(port());
  std::string burst;
  std::mt19937 rng(7);
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    // Half answered at once, half later from other threads, after random delays.
    burst += i % 2 ? Get(absl::StrCat("/later?", rng() % 30)) : Get(absl::StrCat("/echo?", i));
  }
  burst += Get("/echo?last", "Connection: close\r\n");
  ASSERT_TRUE(c.Send(burst));
  rng.seed(7);
  for (int i = 0; i < n; ++i) {
    Answer r = c.Read();
    ASSERT_EQ(r.status, 200) << i;
    const std::string want = i % 2 ? absl::StrCat("GET /later?", rng() % 30, " body=") : absl::StrCat("GET /echo?", i, " body=");
    EXPECT_EQ(r.body, want) << i;
  }
  EXPECT_EQ(c.Read().body, "GET /echo?last body=");
  EXPECT_TRUE(c.Closed());
}

TEST_F(TransportTest, RequestsSentBeforeAHalfCloseAreAllAnswered) {
  Start();
  Connection c(port());
  ASSERT_TRUE(c.Send(Get("/later?20") + Get("/echo?2")));
  c.ShutdownWrite();
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(c.Read().body, "GET /echo?2 body=");
  EXPECT_TRUE(c.Closed());
}

TEST_F(TransportTest, IdleConnectionsAreClosedAfterTheKeepAliveTimeout) {
  HttpTransportOptions o;
  o.keepalive_timeout = std::chrono::milliseconds(200);
  Start(o);
  Connection c(port());
  ASSERT_TRUE(c.Send(Get("/echo")));
  EXPECT_EQ(c.Read().status, 200);
  // The sweep runs every second: closed within the timeout plus one sweep.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.Closed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(transport_->stats().idle_closed.load(), 1u);
  EXPECT_EQ(transport_->stats().open.load(), 0u);
}

TEST_F(TransportTest, AnUnfinishedRequestGets408) {
  HttpTransportOptions o;
  o.request_timeout = std::chrono::milliseconds(200);
  Start(o);
  Connection c(port());
  ASSERT_TRUE(c.Send("GET /echo HTTP/1.1\r\nHost: x\r\n"));  // no blank line, ever
  Answer r = c.Read();
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find("\"code\":\"request_timeout\""), std::string::npos) << r.body;
  EXPECT_TRUE(c.Closed());
}

TEST_F(TransportTest, MalformedAndOversizedRequestsGetJsonErrorsAndAClose) {
  Start();
  struct Case {
    std::string raw;
    int status;
  } cases[] = {
      {"GET /echo HTTP/1.1\r\nHost: h\r\nX: " + std::string(1 << 20, 'a') + "\r\n\r\n", 431},
      {"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 413},
      {"GET /echo HTTP/1.1\r\nContent-Length: zz\r\nHost: h\r\n\r\n", 400},
      {"HELLO\r\n\r\n", 400},
      {"GET /echo HTTP/1.1\r\n\r\n", 400},
  };
  for (const Case& k : cases) {
    Connection c(port());
    c.Send(k.raw);
    Answer r = c.Read();
    EXPECT_EQ(r.status, k.status) << k.raw.substr(0, 60);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_NE(r.body.find("{\"error\":{\"code\":"), std::string::npos) << r.body;
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.Closed());
  }
  Connection c(port());
  c.Send(Get("/echo"));
  EXPECT_EQ(c.Read().status, 200);  // and the server lives on
}

TEST_F(TransportTest, HeadHasHeadersButNoBody) {
  Start();
  Connection c(port());
  ASSERT_TRUE(c.Send("HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n" + Get("/echo?next")));
  Answer head = c.Read(/*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], std::to_string(std::string("HEAD /echo? body=").size()));
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(c.Read().body, "GET /echo?next body=");  // nothing of a body was sent in between
}

TEST_F(TransportTest, ExpectContinueGetsAnInterimAnswer) {
  Start();
  Connection c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  Answer interim = c.Read(/*head=*/true);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.Send("hello"));
  EXPECT_EQ(c.Read().body, "POST /echo? body=hello");
}

TEST_F(TransportTest, AnswersForClosedConnectionsAreDroppedAndOthersUnaffected) {
  Start();
  {
    Connection c(port());
    ASSERT_TRUE(c.Send(Get("/hold")));
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!held_.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    c.Reset();  // the client leaves before the answer
  }
  for (int i = 0; i < 400 && transport_->stats().open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(transport_->stats().open.load(), 0u);
  // A new connection (which may get the same descriptor) must not receive the old answer.
  Connection next(port());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_EQ(held_.size(), 1u);
    ::aisle::HttpResponse stale;
    stale.body = "stale";
    held_[0].Send(stale);
  }
  ASSERT_TRUE(next.Send(Get("/echo?fresh")));
  EXPECT_EQ(next.Read().body, "GET /echo?fresh body=");
}

TEST_F(TransportTest, AResponderDroppedUnansweredAnswers500) {
  Start();
  Connection c(port());
  ASSERT_TRUE(c.Send(Get("/drop") + Get("/echo")));
  Answer r = c.Read();
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("internal"), std::string::npos);
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(TransportTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  HttpTransportOptions o;
  o.max_connections = 2;
  Start(o);
  Connection a(port()), b(port());
  ASSERT_TRUE(a.Send(Get("/echo")));
  ASSERT_TRUE(b.Send(Get("/echo")));
  EXPECT_EQ(a.Read().status, 200);
  EXPECT_EQ(b.Read().status, 200);
  Connection c(port());
  c.Send(Get("/echo"));
  EXPECT_TRUE(c.Closed());
  EXPECT_GE(transport_->stats().refused.load(), 1u);
}

// Resident memory of this process, bytes.
size_t Rss() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Clients that pipeline requests for large answers and never read them: each
// costs a bounded backlog of answers and one read of input, not the answers
// of every pipelined request (they once cost ~4 MB each).
TEST_F(TransportTest, AClientThatNeverReadsItsAnswersCostsABoundedBacklog) {
  Start();
  constexpr int kClients = 24;
  std::string requests;
  for (int i = 0; i < 400; ++i) requests += Get("/big");
  const size_t rss_before = Rss();
  std::vector<std::unique_ptr<Connection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Connection>(port(), /*timeout_ms=*/300));
    ASSERT_TRUE(clients.back()->ok());
    (void)clients.back()->Send(requests);  // may stop short: the server stopped reading
  }
  // Until the backlog stops growing.
  int64_t buffered = -1;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t now = transport_->stats().buffered_bytes();
    if (now == buffered && i > 5) break;
    buffered = now;
  }
  const size_t per_client_bound = (64 << 10) + 100000 + (64 << 10) + (32 << 10);  // backlog, one answer, one read
  EXPECT_LE(static_cast<size_t>(buffered), kClients * per_client_bound);
  const size_t rss_growth = Rss() > rss_before ? Rss() - rss_before : 0;
  if (!::aisle::testing::kSanitizerBuild) {
    EXPECT_LT(rss_growth, size_t{kClients} * (512 << 10)) << "RSS grew by " << rss_growth;
  }
  // They are still answered, in order, when they read.
  Answer a = clients[0]->Read();
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body.size(), 100000u);
  clients.clear();
  for (int i = 0; i < 100 && transport_->stats().open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(transport_->stats().buffered_bytes(), 0) << "closed connections hold nothing";
}

// The head is checked before the body is read: a refused client never makes
// the transport buffer its body.
TEST_F(TransportTest, AHeadRefusedIsAnsweredBeforeItsBody) {
  HttpTransportOptions o;
  int checked = 0;
  o.head_check = [&checked](const HttpRequest& head) -> std::optional<::aisle::HttpResponse> {
    ++checked;
    if (head.Header("x-api-key") != nullptr) return std::nullopt;
    return JsonError(401, "unauthenticated", "send an X-API-Key header");
  };
  Start(o);
  Connection c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'a')));
  Answer r = c.Read();  // without the other 999,000 bytes
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(transport_->stats().refused_at_head.load(), 1u);
  // With a key: the body is read and the request handled.
  Connection k(port());
  ASSERT_TRUE(k.Send("POST /echo HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Length: 5\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(k.Send("hello"));
  Answer ok = k.Read();
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("body=hello"), std::string::npos);
  // Expect: 100-continue is refused instead of continued.
  Connection e(port());
  ASSERT_TRUE(e.Send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"));
  EXPECT_EQ(e.Read().status, 401);
}

// Over the budget for all connections, requests still arriving get 503;
// complete ones are served.
TEST_F(TransportTest, RequestsStillArrivingOverTheBudgetGet503) {
  HttpTransportOptions o;
  o.max_buffered_bytes = 256 << 10;
  Start(o);
  Connection slow(port());
  ASSERT_TRUE(slow.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" +
                        std::string(300 << 10, 'a')));
  Answer r = slow.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(transport_->stats().over_budget.load(), 1u);
  Connection fine(port());
  ASSERT_TRUE(fine.Send(Get("/echo?x")));
  EXPECT_EQ(fine.Read().status, 200);
}

// 300 KB in 1-byte chunks (1.8 MB on the wire) is a 300 KB body: accepted
// under the 1 MB limit, the decoded part released as it arrives.
TEST_F(TransportTest, ABodyInOneByteChunksIsItsDecodedSize) {
  Start();
  Connection c(port());
  std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < (300 << 10); ++i) raw += "1\r\nz\r\n";
  raw += "0\r\n\r\n";
  ASSERT_TRUE(c.Send(raw));
  Answer r = c.Read();
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(r.body.size(), std::string("POST /echo? body=").size() + (300 << 10));
}

TEST_F(TransportTest, ManyClientsAtOnce) {
  Start();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      Connection c(port());
      for (int i = 0; i < 50; ++i) {
        const std::string path = i % 5 == 0 ? "/later?1" : absl::StrCat("/echo?", t, "-", i);
        if (!c.Send(Get(path))) return;
        Answer r = c.Read();
        if (r.status == 200 && r.body.find(path) != std::string::npos) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 16 * 50);
}

// Memory that connections held is returned once they close, also with the
// malloc settings of aisle-server (freed memory kept up to 256 MB for reuse,
// which kept 2 GB of partial bodies after 3,000 clients left). Last in this
// file: it changes the process's malloc settings.
TEST_F(TransportTest, MemoryOfClosedConnectionsIsReturned) {
  if (::aisle::testing::kSanitizerBuild) GTEST_SKIP() << "the sanitizer's allocator";
  mallopt(M_MMAP_THRESHOLD, 64 << 20);  // as aisle-server's main()
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  Start();
  const size_t rss0 = Rss();
  size_t peak = 0;
  {
    std::vector<std::unique_ptr<Connection>> clients;
    for (int i = 0; i < 24; ++i) {
      clients.push_back(std::make_unique<Connection>(port()));
      ASSERT_TRUE(clients.back()->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" +
                                       std::string(900000, 'b')));
    }
    for (int i = 0; i < 200 && transport_->stats().buffered_bytes() < 24 * 900000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    peak = Rss();
  }  // the clients leave without finishing their bodies
  for (int i = 0; i < 200 && transport_->stats().open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const size_t after = Rss();
  ASSERT_GT(peak, rss0 + (16 << 20)) << "the partial bodies were buffered";
  EXPECT_LT(after, rss0 + (peak - rss0) / 4) << "RSS " << rss0 << " -> " << peak << " -> " << after;
}

}  // namespace
}  // namespace aisle
