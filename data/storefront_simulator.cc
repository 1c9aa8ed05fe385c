#include "data/storefront_simulator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace aisle {
namespace {

// A persistent HTTP/1.1 connection to 127.0.0.1 (no Connection header, as
// ordinary clients send).
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  // The status and body; status -1 on a connection error (reconnects next time).
  std::pair<int, std::string> Call(const std::string& method, const std::string& path, const std::string& body,
                                   const std::string& key) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Connect()) return {-1, ""};
      std::string req = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      if (!key.empty()) absl::StrAppend(&req, "X-API-Key: ", key, "\r\n");
      if (!body.empty()) absl::StrAppend(&req, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
      absl::StrAppend(&req, "\r\n", body);
      if (SendAll(req)) {
        auto r = Read();
        if (r.first > 0) return r;
      }
      ::close(fd_);
      fd_ = -1;
      buf_.clear();
    }
    return {-1, ""};
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    return true;
  }
  bool SendAll(const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  std::pair<int, std::string> Read() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return {-1, ""};
    }
    const std::string head = buf_.substr(0, end);
    int status = -1;
    if (head.size() > 12) (void)absl::SimpleAtoi(head.substr(9, 3), &status);
    size_t length = 0;
    for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
      if (absl::StartsWithIgnoreCase(line, "content-length:")) {
        (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &length);
      }
    }
    while (buf_.size() < end + 4 + length) {
      if (!Fill()) return {-1, ""};
    }
    std::string body = buf_.substr(end + 4, length);
    buf_.erase(0, end + 4 + length);
    return {status, std::move(body)};
  }

  uint16_t port_;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace

absl::StatusOr<StorefrontResult> RunStorefront(const SyntheticData& d, const StorefrontOptions& o) {
  if (d.tastes.empty() || d.product_category.empty()) return absl::InvalidArgumentError("no customers or products");
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<uint32_t> pick_customer(0, static_cast<uint32_t>(d.tastes.size() - 1));
  // Products by category, for organic purchases.
  uint32_t categories = 0;
  for (uint32_t c : d.product_category) categories = std::max(categories, c + 1);
  std::vector<std::vector<uint32_t>> by_category(categories);
  for (uint32_t p = 0; p < d.product_category.size(); ++p) by_category[d.product_category[p]].push_back(p);
  int64_t t = o.start_time;
  Client client(o.port);
  StorefrontResult r;
  for (uint64_t v = 0; v < o.visits; ++v, t += t != 0 ? 1 : 0) {
    const uint32_t c = pick_customer(rng);
    const std::string id = SyntheticCustomerId(c);
    const std::vector<uint32_t>& tastes = d.tastes[c];
    auto [status, body] = client.Call("GET", absl::StrCat("/v1/customers/", id, "/recommendations?count=", o.count), "", o.api_key);
    ++r.visits;
    if (status != 200) {
      ++r.errors;
      continue;
    }
    nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
    if (answer.is_discarded() || !answer.contains("recommendations")) {
      ++r.errors;
      continue;
    }
    const std::string rid = answer.value("recommendation_id", "");
    nlohmann::json events = nlohmann::json::array();
    auto event = [&](uint32_t p, const char* type, const std::string& from) {
      nlohmann::json e = {{"customer_id", id}, {"product_id", SyntheticProductId(p)}, {"event", type}};
      if (t != 0) e["timestamp"] = t;  // else the server's clock: events as they happen
      if (std::string(type) == "purchase") e["price"] = d.product_price.empty() ? 10.0 : d.product_price[p];
      if (!from.empty()) e["recommendation_id"] = from;
      events.push_back(std::move(e));
    };
    for (const auto& item : answer["recommendations"]) {
      const std::string pid = item.value("product_id", "");
      uint32_t p = 0;
      if (pid.size() < 2 || !absl::SimpleAtoi(absl::string_view(pid).substr(1), &p) || p >= d.product_category.size()) continue;
      const bool liked = std::find(tastes.begin(), tastes.end(), d.product_category[p]) != tastes.end();
      const double buy = liked ? o.buy_taste : o.buy_other;
      if (u(rng) < std::min(1.0, buy * o.click_factor)) {
        event(p, "click", rid);
        ++r.clicks;
        // Buying, given a click: buy / (buy x click_factor) keeps the purchase rate at `buy`.
        if (u(rng) < 1.0 / o.click_factor) {
          event(p, "purchase", rid);
          ++r.shown_purchases;
        }
      }
    }
    if (!tastes.empty() && u(rng) < o.organic) {
      const auto& pool = by_category[tastes[rng() % tastes.size()]];
      if (!pool.empty()) {
        event(pool[rng() % pool.size()], "purchase", "");
        ++r.organic_purchases;
      }
    }
    if (!events.empty()) {
      auto [s, b] = client.Call("POST", "/v1/events", events.dump(), o.api_key);
      if (s != 200) ++r.errors;
    }
  }
  return r;
}

}  // namespace aisle
