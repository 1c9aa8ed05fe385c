// HttpTransport: HTTP/1.1 connections over TCP (RFC 9112): the listening
// socket, one epoll loop per thread owning the connections it accepted,
// request parsing (HttpRequestParser), and responses written in request
// order. Connections persist by default for HTTP/1.1 and close after
// "Connection: close", after an HTTP/1.0 request without keep-alive, after
// a request that could not be parsed, and when idle longer than the
// keep-alive timeout; pipelined requests are all answered, in order;
// a request that is not complete within the request timeout gets 408.
// A handler answers through its HttpResponder, on the loop thread or any
// other thread, now or later: an answer for a connection that has closed
// meanwhile is dropped (connections are named by a 64-bit id that is never
// reused, not by their descriptor).
// (Pistache 0.0.5, which this replaces, answered "Connection: Close"
// without closing, dropped pipelined requests and addressed late answers by
// descriptor number: docs/API.md, "HTTP".)
// Thread-safe: Start/Shutdown from one thread; responders from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/http_request.h"
#include "server/http_response.h"

namespace aisle {

class HttpLoop;

// Answers one request, exactly once. Move-only; a responder destroyed
// without answering answers 500, so no request is left without a reply.
class HttpResponder {
 public:
  HttpResponder() = default;
  HttpResponder(HttpResponder&& other) noexcept;
  HttpResponder& operator=(HttpResponder&& other) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;
  ~HttpResponder();

  void Send(HttpResponse response);
  bool valid() const { return loop_ != nullptr; }

 private:
  friend class HttpLoop;
  HttpResponder(std::shared_ptr<HttpLoop> loop, uint64_t connection, uint64_t sequence)
      : loop_(std::move(loop)), connection_(connection), sequence_(sequence) {}
  std::shared_ptr<HttpLoop> loop_;
  uint64_t connection_ = 0;
  uint64_t sequence_ = 0;
};

struct HttpTransportOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int threads = 2;       // event loops, at most HttpTransportStats::kMaxLoops
  HttpRequestParser::Limits limits;
  std::chrono::milliseconds keepalive_timeout{75000};  // idle between requests (nginx's default)
  std::chrono::milliseconds request_timeout{60000};    // to receive a whole request once begun
  std::chrono::milliseconds send_timeout{60000};       // without progress writing an answer
  size_t max_pipelined = 64;       // requests of one connection in flight at once
  size_t max_connections = 10000;  // more are accepted and closed at once
  // Answers a connection may have queued (written to it but not taken by
  // the client, or finished behind one still being computed) before no
  // more of its requests are parsed and nothing more is read from it: a
  // client that sends requests and never reads the answers costs this
  // much, plus one read's worth of input, not megabytes.
  size_t max_output_backlog = 64 << 10;
  // All connections' buffered input and queued answers together. Past it,
  // a connection still receiving a request (a head or a body) is answered
  // 503 and closed, so that slow senders cannot hold the memory of the
  // process; requests already read are answered as usual.
  size_t max_buffered_bytes = size_t{256} << 20;
  // Called on the loop thread once a request's head is parsed and its body
  // is still to come: an answer refuses the request before its body is
  // read (a client without a key never makes the server buffer a body);
  // the connection then closes, discarding what the client still sends.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> head_check;
};

// Counters for /metrics.
struct HttpTransportStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> refused{0};        // over max_connections
  std::atomic<uint64_t> idle_closed{0};    // keep-alive timeout
  std::atomic<uint64_t> timed_out{0};      // request or send timeout
  std::atomic<uint64_t> parse_errors{0};   // requests answered 4xx/5xx by the transport
  std::atomic<uint64_t> refused_at_head{0};  // refused by head_check before their body was read
  std::atomic<uint64_t> over_budget{0};    // requests refused (503) over max_buffered_bytes
  // Input buffered and answers queued, all connections: one counter per
  // event loop, each written by its loop alone (no contended atomic per
  // request), summed when read.
  static constexpr int kMaxLoops = 64;
  struct alignas(64) LoopBytes {
    std::atomic<int64_t> bytes{0};
  };
  LoopBytes loop_buffered[kMaxLoops];
  int64_t buffered_bytes() const {
    int64_t sum = 0;
    for (const LoopBytes& b : loop_buffered) sum += b.bytes.load(std::memory_order_relaxed);
    return sum;
  }
};

class HttpTransport {
 public:
  using Handler = std::function<void(HttpRequest request, HttpResponder responder)>;

  HttpTransport(HttpTransportOptions options, Handler handler);
  ~HttpTransport();

  // Binds and starts the loops. InvalidArgument for a bad address,
  // Unavailable when the port cannot be bound.
  absl::Status Start();
  uint16_t port() const { return port_; }
  // Stops accepting new connections (existing ones are still served).
  void StopAccepting();
  // Writes what is answered, closes every connection and joins the loops.
  void Shutdown();
  const HttpTransportStats& stats() const { return *stats_; }

 private:
  HttpTransportOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::shared_ptr<HttpTransportStats> stats_;
  std::vector<std::shared_ptr<HttpLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace aisle
