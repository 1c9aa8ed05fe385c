#include "server/http_transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/mapped_allocator.h"

namespace aisle {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenerTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kFirstConnectionId = 2;
constexpr size_t kReadChunk = 64 << 10;
constexpr size_t kMaxReadPerEvent = 256 << 10;  // then other connections get their turn
constexpr size_t kKeepCapacity = 64 << 10;     // a connection's idle buffers keep at most this
constexpr auto kLinger = std::chrono::seconds(2);
constexpr int kTickMs = 250;

std::string PeerAddress(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof(buf));
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

// One event loop: the connections it accepted, their parsers and answers.
class HttpLoop : public std::enable_shared_from_this<HttpLoop> {
 public:
  HttpLoop(const HttpTransportOptions& options, const HttpTransport::Handler* handler, int listen_fd,
           std::shared_ptr<HttpTransportStats> stats, std::atomic<uint64_t>* next_id, int index)
      : options_(options), handler_(handler), listen_fd_(listen_fd), stats_(std::move(stats)), next_id_(next_id),
        index_(index) {}

  ~HttpLoop() {
    for (auto& [id, c] : connections_) ::close(c->fd);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return absl::InternalError(absl::StrCat("epoll: ", std::strerror(errno)));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0 || !ListenerInterest(true)) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  void Run() {
    thread_ = std::this_thread::get_id();
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now() + std::chrono::seconds(1);
    while (!stop_.load(std::memory_order_acquire)) {
      const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), kTickMs);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenerTag) {
          Accept();
        } else if (tag == kWakeTag) {
          uint64_t v;
          while (::read(wake_fd_, &v, sizeof(v)) > 0) {
          }
          DrainPosted();
        } else {
          OnEvent(tag, events[i].events);
        }
        FlushDirty();
      }
      const auto now = Clock::now();
      if (accept_paused_ && now >= accept_resume_) ListenerInterest(true);
      if (!accepting_.load(std::memory_order_acquire) && listening_) ListenerInterest(false);
      if (now >= next_sweep) {
        Sweep(now);
        FlushDirty();
        next_sweep = now + std::chrono::seconds(1);
      }
    }
    // Stopping: deliver what was answered, one last write, then close.
    DrainPosted();
    FlushDirty();
    std::vector<uint64_t> ids;
    for (auto& [id, c] : connections_) ids.push_back(id);
    for (uint64_t id : ids) Close(id);
  }

  void StopAccepting() {
    accepting_.store(false, std::memory_order_release);
    Wake();
  }
  void Stop() {
    stop_.store(true, std::memory_order_release);
    Wake();
  }

  // A handler's answer, from any thread.
  void Post(uint64_t connection, uint64_t sequence, HttpResponse response) {
    if (std::this_thread::get_id() == thread_) {
      Complete(connection, sequence, std::move(response));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(posted_mu_);
      posted_.push_back({connection, sequence, std::move(response)});
    }
    Wake();
  }

 private:
  struct Slot {
    explicit Slot(uint64_t s) : sequence(s) {}
    uint64_t sequence;
    bool done = false;
    bool head = false;   // HEAD: no body
    bool close = false;  // the connection closes after this answer
    ConnectionHeader connection = ConnectionHeader::kNone;
    std::string bytes;   // the serialized answer once done
  };
  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    std::string peer;
    // Input and output: large blocks mapped, so that what a client made
    // large is returned to the system when freed (server/mapped_allocator.h).
    MappedBuffer in;
    size_t in_off = 0;  // bytes of `in` already consumed
    HttpRequestParser parser;
    bool sent_continue = false;
    std::deque<Slot> pending;  // requests in flight, in order
    uint64_t next_sequence = 0;
    MappedBuffer out;
    size_t out_off = 0;
    size_t held = 0;           // bytes of finished answers not yet in `out` (behind an unfinished one)
    bool head_checked = false; // head_check ran for the request being read
    int64_t accounted = 0;     // what this connection adds to its loop's buffered bytes
    bool closing = false;    // no more requests are read
    bool read_eof = false;   // the client closed its side
    bool lingering = false;  // our side is shut down; reading until EOF
    uint32_t interest = 0;
    Clock::time_point last_activity, request_start, last_write, linger_until;
    explicit Conn(const HttpRequestParser::Limits& l) : parser(l) {}
    size_t buffered() const { return in.size() - in_off; }
    size_t unsent() const { return out.size() - out_off; }
    size_t backlog() const { return unsent() + held; }
  };
  struct Posted {
    uint64_t connection, sequence;
    HttpResponse response;
  };

  void Wake() {
    const uint64_t one = 1;
    ssize_t r = ::write(wake_fd_, &one, sizeof(one));
    (void)r;  // EAGAIN: the counter is already non-zero, a wake-up is pending
  }

  bool ListenerInterest(bool on) {
    if (on && !accepting_.load(std::memory_order_acquire)) on = false;
    if (on == listening_) {
      accept_paused_ = false;
      return true;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenerTag;
    const bool ok = epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, &ev) == 0;
    if (ok) listening_ = on;
    accept_paused_ = false;
    return ok;
  }

  void Accept() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop accepting for a moment instead of spinning.
          ListenerInterest(false);
          accept_paused_ = true;
          accept_resume_ = Clock::now() + std::chrono::milliseconds(100);
        }
        return;  // EAGAIN, or another loop took it
      }
      if (stats_->open.load(std::memory_order_relaxed) >= options_.max_connections) {
        stats_->refused.fetch_add(1, std::memory_order_relaxed);
        ::close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto c = std::make_unique<Conn>(options_.limits);
      c->fd = fd;
      c->id = next_id_->fetch_add(1, std::memory_order_relaxed);
      c->peer = PeerAddress(addr);
      c->last_activity = c->last_write = Clock::now();
      c->interest = EPOLLIN | EPOLLRDHUP;
      epoll_event ev{};
      ev.events = c->interest;
      ev.data.u64 = c->id;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      stats_->accepted.fetch_add(1, std::memory_order_relaxed);
      stats_->open.fetch_add(1, std::memory_order_relaxed);
      connections_.emplace(c->id, std::move(c));
    }
  }

  // Unparsed input a connection may hold before reading pauses: more than any
  // one request (chunked framing included), so only a pipelined backlog waits.
  size_t InputCap() const {
    return options_.limits.max_header_bytes + 2 * options_.limits.max_body_bytes + (64 << 10);
  }

  Conn* Find(uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  void Close(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    // Counted first: a client that sees the close sees the counters after it.
    stats_->open.fetch_sub(1, std::memory_order_relaxed);
    AddBuffered(-it->second->accounted);
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    ::close(it->second->fd);
    connections_.erase(it);
  }

  void OnEvent(uint64_t id, uint32_t events) {
    Conn* c = Find(id);
    if (c == nullptr) return;
    if (events & EPOLLERR) {
      Close(id);
      return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
      if (!Read(c)) return;
    }
    if (events & EPOLLOUT) {
      if (!Write(c)) return;
    }
    dirty_.push_back(id);
  }

  // Reads what is there; false when the connection was closed. Reads into
  // the loop's buffer and appends what came (growing a connection's buffer
  // by a whole read chunk first would zero 64 KiB per read); a short read
  // means the socket is drained for now (level-triggered epoll says when
  // more arrives), which saves the EAGAIN call per request.
  bool Read(Conn* c) {
    size_t total = 0;
    const size_t cap = InputCap();
    // A connection with requests in flight (pipelining) reads one chunk at
    // a time: what it sent waits in the kernel, not here.
    const size_t max_read = c->pending.empty() ? kMaxReadPerEvent : kReadChunk;
    while (total < max_read && !c->read_eof) {
      if (!c->lingering && c->buffered() >= cap) break;  // parse first
      if (!c->lingering && c->backlog() >= options_.max_output_backlog) break;  // answers not being read
      const ssize_t n = ::recv(c->fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (n > 0) {
        total += static_cast<size_t>(n);
        c->last_activity = Clock::now();
        if (!c->lingering) {
          if (c->in_off > 0 && c->in_off == c->in.size()) {
            c->in.clear();
            c->in_off = 0;
          }
          // A new request begins (not more of a chunked body whose decoded
          // part was released).
          if (c->in.size() == c->in_off && !c->parser.awaiting_body()) c->request_start = c->last_activity;
          c->in.append(read_buffer_.data(), static_cast<size_t>(n));
        }
        if (static_cast<size_t>(n) < read_buffer_.size()) break;
        continue;
      }
      if (n == 0) {
        c->read_eof = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      Close(c->id);
      return false;
    }
    if (c->lingering && c->read_eof) {
      Close(c->id);
      return false;
    }
    return true;
  }

  // Writes what is unsent; false when the connection was closed.
  bool Write(Conn* c) {
    while (c->unsent() > 0) {
      const ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->unsent(), MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<size_t>(n);
        c->last_write = c->last_activity = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(c->id);
      return false;
    }
    if (c->out_off == c->out.size()) {
      if (c->out.capacity() > kKeepCapacity) MappedBuffer().swap(c->out);
      c->out.clear();
      c->out_off = 0;
    } else if (c->out_off > (1 << 20)) {
      c->out.erase(0, c->out_off);
      c->out_off = 0;
    }
    return true;
  }

  void DrainPosted() {
    std::vector<Posted> posted;
    {
      std::lock_guard<std::mutex> lock(posted_mu_);
      posted.swap(posted_);
    }
    for (Posted& p : posted) Complete(p.connection, p.sequence, std::move(p.response));
  }

  // Fills the answer's slot; the connection is flushed after the current event.
  void Complete(uint64_t id, uint64_t sequence, HttpResponse response) {
    Conn* c = Find(id);
    if (c == nullptr) return;  // closed meanwhile: nobody to answer
    for (Slot& s : c->pending) {
      if (s.sequence != sequence) continue;
      if (s.done) return;
      s.done = true;
      AppendResponse(response, s.head, s.connection, Date(), &s.bytes);
      c->held += s.bytes.size();
      dirty_.push_back(id);
      return;
    }
  }

  const std::string& Date() {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    if (now != date_second_) {
      date_second_ = now;
      date_ = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromUnixSeconds(now), absl::UTCTimeZone());
    }
    return date_;
  }

  void FlushDirty() {
    // Flushing may hand new requests to handlers that answer at once and add to dirty_.
    for (size_t i = 0; i < dirty_.size(); ++i) Flush(dirty_[i]);
    dirty_.clear();
  }

  // Moves finished answers (in order) to the output, writes, reads on.
  void Flush(uint64_t id) {
    Conn* c = Find(id);
    if (c == nullptr) return;
    for (int round = 0; round < 2; ++round) {
      while (!c->pending.empty() && c->pending.front().done) {
        Slot& s = c->pending.front();
        c->out.append(s.bytes.data(), s.bytes.size());
        c->held -= s.bytes.size();
        const bool close = s.close;
        c->pending.pop_front();
        if (close) {
          c->closing = true;
          c->pending.clear();  // nothing after it is answered
          c->held = 0;
          break;
        }
      }
      if (!Write(c)) return;
      if (round == 0) ProcessInput(c);  // answered requests made room for more
    }
    if (c->closing && c->pending.empty() && c->unsent() == 0 && !c->lingering) {
      // Lingering close: stop sending, read what the client still sends
      // until it closes (or kLinger passes), so that our last answer is not
      // destroyed by a reset.
      ::shutdown(c->fd, SHUT_WR);
      c->lingering = true;
      c->linger_until = Clock::now() + kLinger;
      c->in.clear();
      c->in_off = 0;
      if (c->read_eof) {
        Close(id);
        return;
      }
    }
    if (c->read_eof && c->pending.empty() && c->unsent() == 0) {
      Close(id);
      return;
    }
    Account(c);
    UpdateInterest(c);
  }

  // Brings this loop's buffered bytes up to date with the connection.
  void Account(Conn* c) {
    const int64_t now = static_cast<int64_t>(c->buffered() + c->backlog() + c->parser.body_bytes());
    if (now != c->accounted) {
      AddBuffered(now - c->accounted);
      c->accounted = now;
    }
  }
  // Only this loop's thread writes its counter: a plain load and store.
  void AddBuffered(int64_t delta) {
    std::atomic<int64_t>& b = stats_->loop_buffered[index_].bytes;
    b.store(b.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  // Queues a final answer of the transport's own (a parse error, a refused
  // head, over budget) and stops reading requests from the connection.
  void Refuse(Conn* c, const HttpResponse& response) {
    Slot s(c->next_sequence++);
    s.done = true;
    s.close = true;
    s.connection = ConnectionHeader::kClose;
    AppendResponse(response, false, ConnectionHeader::kClose, Date(), &s.bytes);
    c->held += s.bytes.size();
    c->pending.push_back(std::move(s));
    c->closing = true;
    c->in.clear();
    c->in_off = 0;
  }

  void UpdateInterest(Conn* c) {
    const size_t cap = InputCap();
    uint32_t want = 0;
    // Read (and hear of the peer's EOF) only when there is room: a level-
    // triggered EOF we would not act on would wake the loop forever.
    if (!c->read_eof && (c->lingering || (!c->closing && c->buffered() < cap &&
                                          c->pending.size() < options_.max_pipelined &&
                                          c->backlog() < options_.max_output_backlog))) {
      want |= EPOLLIN | EPOLLRDHUP;
    }
    if (c->unsent() > 0) want |= EPOLLOUT;
    if (want == c->interest) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c->id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->interest = want;
  }

  void ProcessInput(Conn* c) {
    Account(c);
    while (!c->closing && !c->lingering && c->pending.size() < options_.max_pipelined &&
           c->backlog() < options_.max_output_backlog && c->buffered() > 0) {
      const absl::string_view data(c->in.data() + c->in_off, c->buffered());
      const HttpRequestParser::State st = c->parser.Parse(data);
      if (st == HttpRequestParser::State::kNeedMore) {
        HttpRequest& r = c->parser.request();
        if (c->parser.awaiting_body() && !c->head_checked) {
          // The head is here and the body is not: refused now, or never
          // (before 100 Continue invites the body).
          c->head_checked = true;
          if (options_.head_check) {
            if (std::optional<HttpResponse> refused = options_.head_check(r)) {
              stats_->refused_at_head.fetch_add(1, std::memory_order_relaxed);
              Refuse(c, *refused);
              break;
            }
          }
        }
        if (stats_->buffered_bytes() > static_cast<int64_t>(options_.max_buffered_bytes)) {
          // Requests still arriving are what a slow sender can hold: refused
          // while the process is over its budget.
          stats_->over_budget.fetch_add(1, std::memory_order_relaxed);
          Refuse(c, JsonError(503, ErrorCodeFor(503),
                              "the server holds too many requests in progress; retry"));
          break;
        }
        if (c->parser.awaiting_body() && r.expect_continue && !c->sent_continue && c->pending.empty() &&
            r.minor_version == 1) {
          c->out.append("HTTP/1.1 100 Continue\r\n\r\n");
          c->sent_continue = true;
        }
        c->in_off += c->parser.ReleaseConsumed();  // a chunked body's decoded part
        if (c->read_eof) c->closing = true;  // the rest of the request will never come
        break;
      }
      if (st == HttpRequestParser::State::kError) {
        stats_->parse_errors.fetch_add(1, std::memory_order_relaxed);
        const int status = c->parser.error_status();
        Refuse(c, JsonError(status, ErrorCodeFor(status), c->parser.error_message()));
        break;
      }
      c->in_off += c->parser.consumed();
      HttpRequest request = std::move(c->parser.request());
      c->parser.Reset();
      c->sent_continue = false;
      c->head_checked = false;
      if (c->buffered() > 0) c->request_start = Clock::now();
      Slot s(c->next_sequence++);
      s.head = request.method == "HEAD";
      s.close = !request.keep_alive;
      s.connection = !request.keep_alive          ? ConnectionHeader::kClose
                     : request.minor_version == 0 ? ConnectionHeader::kKeepAlive
                                                  : ConnectionHeader::kNone;
      if (s.close) c->closing = true;
      const uint64_t sequence = s.sequence;
      c->pending.push_back(std::move(s));
      request.peer = c->peer;
      (*handler_)(std::move(request), HttpResponder(shared_from_this(), c->id, sequence));
    }
    if (c->in_off > 0 && (c->in_off == c->in.size() || c->in_off > (256 << 10))) {
      c->in.erase(0, c->in_off);
      c->in_off = 0;
    }
    if (c->in.empty() && c->in.capacity() > kKeepCapacity) MappedBuffer().swap(c->in);
    Account(c);
  }

  void Sweep(Clock::time_point now) {
    std::vector<uint64_t> close;
    for (auto& [id, cp] : connections_) {
      Conn* c = cp.get();
      if (c->lingering) {
        if (now >= c->linger_until) close.push_back(id);
      } else if (c->unsent() > 0) {
        if (now - c->last_write > options_.send_timeout) {
          stats_->timed_out.fetch_add(1, std::memory_order_relaxed);
          close.push_back(id);
        }
      } else if (c->pending.empty() && !c->closing) {
        if (c->buffered() > 0 || c->parser.awaiting_body()) {
          if (now - c->request_start > options_.request_timeout) {
            // A request begun and never finished: 408, then close.
            stats_->timed_out.fetch_add(1, std::memory_order_relaxed);
            Refuse(c, JsonError(408, ErrorCodeFor(408), "the request was not received in time"));
            dirty_.push_back(id);
          }
        } else if (now - c->last_activity > options_.keepalive_timeout) {
          stats_->idle_closed.fetch_add(1, std::memory_order_relaxed);
          close.push_back(id);
        }
      }
    }
    for (uint64_t id : close) Close(id);
  }

  const HttpTransportOptions& options_;
  const HttpTransport::Handler* handler_;
  const int listen_fd_;
  std::shared_ptr<HttpTransportStats> stats_;
  std::atomic<uint64_t>* next_id_;
  const int index_;  // this loop's counters in stats_
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread::id thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> accepting_{true};
  bool listening_ = false;
  bool accept_paused_ = false;
  Clock::time_point accept_resume_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> connections_;
  std::vector<uint64_t> dirty_;
  std::vector<char> read_buffer_ = std::vector<char>(kReadChunk);
  std::mutex posted_mu_;
  std::vector<Posted> posted_;
  int64_t date_second_ = -1;
  std::string date_;
};

HttpResponder::HttpResponder(HttpResponder&& other) noexcept
    : loop_(std::move(other.loop_)), connection_(other.connection_), sequence_(other.sequence_) {
  other.loop_.reset();
}

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    if (loop_) Send(JsonError(500, "internal", "no answer was produced"));
    loop_ = std::move(other.loop_);
    other.loop_.reset();
    connection_ = other.connection_;
    sequence_ = other.sequence_;
  }
  return *this;
}

HttpResponder::~HttpResponder() {
  if (loop_) Send(JsonError(500, "internal", "no answer was produced"));
}

void HttpResponder::Send(HttpResponse response) {
  if (!loop_) return;
  std::shared_ptr<HttpLoop> loop = std::move(loop_);
  loop_.reset();
  loop->Post(connection_, sequence_, std::move(response));
}

HttpTransport::HttpTransport(HttpTransportOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)), stats_(std::make_shared<HttpTransportStats>()) {}

HttpTransport::~HttpTransport() { Shutdown(); }

absl::Status HttpTransport::Start() {
  if (options_.threads < 1 || options_.threads > HttpTransportStats::kMaxLoops) {
    return absl::InvalidArgumentError(absl::StrCat("1 to ", HttpTransportStats::kMaxLoops, " HTTP threads"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int e = getaddrinfo(options_.bind.empty() ? nullptr : options_.bind.c_str(), port.c_str(), &hints, &res);
      e != 0 || res == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", options_.bind, ": ", gai_strerror(e)));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
    const std::string why = std::strerror(errno);
    freeaddrinfo(res);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot serve on ", options_.bind, ":", options_.port, ": ", why));
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                            : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  listen_fd_ = fd;
  static std::atomic<uint64_t> next_id{kFirstConnectionId};
  for (int i = 0; i < options_.threads; ++i) {
    auto loop = std::make_shared<HttpLoop>(options_, &handler_, listen_fd_, stats_, &next_id, i);
    if (absl::Status s = loop->Init(); !s.ok()) {
      Shutdown();
      return s;
    }
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->Run(); });
  return absl::OkStatus();
}

void HttpTransport::StopAccepting() {
  for (auto& loop : loops_) loop->StopAccepting();
}

void HttpTransport::Shutdown() {
  for (auto& loop : loops_) loop->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  loops_.clear();  // responders still held elsewhere keep their loop object alive, unused
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

}  // namespace aisle
