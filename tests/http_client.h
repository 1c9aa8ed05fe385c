// Test helper: a minimal blocking HTTP/1.1 client for loopback tests
// (Connection: close, read to EOF, 10 s socket timeouts).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Sends `raw` as is and parses whatever comes back.
inline HttpResponse SendRaw(uint16_t port, const std::string& raw) {
  HttpResponse r;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return r;
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[8192];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    // Stop once a complete response with Content-Length has arrived.
    size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = absl::AsciiStrToLower(in.substr(0, end));
      size_t cl = head.find("content-length:");
      size_t len;
      if (cl != std::string::npos &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(head.substr(cl + 15, head.find("\r\n", cl) - cl - 15)), &len) &&
          in.size() >= end + 4 + len) {
        break;
      }
    }
  }
  ::close(fd);
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  std::vector<std::string> lines = absl::StrSplit(in.substr(0, end), "\r\n");
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &r.status)) return r;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  r.body = in.substr(end + 4);
  return r;
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
