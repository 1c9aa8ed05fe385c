// Test helper: a minimal blocking HTTP/1.1 client for loopback tests:
// one-shot calls (Connection: close, read to EOF) and a persistent
// connection that reads answers one at a time (10 s socket timeouts).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace aisle::testing {

struct HttpResponse {
  int status = -1;  // -1: no response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A persistent connection: send bytes, read answers one by one.
class Connection {
 public:
  explicit Connection(uint16_t port, int timeout_ms = 10000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool ok() const { return fd_ >= 0; }

  bool Send(const std::string& raw) {
    size_t sent = 0;
    while (sent < raw.size()) {
      ssize_t n = ::send(fd_, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Closes with a reset (SO_LINGER 0), as a client that gives up does.
  void Reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd_);
    fd_ = -1;
  }
  // Half-closes the sending side (the server sees EOF after what was sent).
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads one answer (status -1 when none came). `head`: no body follows.
  HttpResponse Read(bool head = false) {
    HttpResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::vector<std::string> lines = absl::StrSplit(buf_.substr(0, end), "\r\n");
    std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
    if (status.size() < 2 || !absl::SimpleAtoi(status[1], &r.status)) return r;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    buf_.erase(0, end + 4);
    size_t len = 0;
    if (!head && r.status != 204 && r.status >= 200 && r.headers.count("content-length") &&
        absl::SimpleAtoi(r.headers["content-length"], &len)) {
      while (buf_.size() < len) {
        if (!Fill()) break;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, std::min(len, buf_.size()));
    }
    return r;
  }
  // True when the server closed the connection (EOF) with nothing more to read.
  bool Closed() {
    if (!buf_.empty()) return false;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n == 1) buf_.push_back(c);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool Fill() {
    char tmp[8192];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

// Sends `raw` as is on a new connection and parses the first answer.
inline HttpResponse SendRaw(uint16_t port, const std::string& raw) {
  Connection c(port);
  if (!c.ok() || !c.Send(raw)) return HttpResponse();
  return c.Read();
}

inline HttpResponse Call(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& api_key = "") {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!api_key.empty()) raw += "X-API-Key: " + api_key + "\r\n";
  if (!body.empty() || method == "POST") {
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n" + body;
  return SendRaw(port, raw);
}

}  // namespace aisle::testing
