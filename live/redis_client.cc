#include "live/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/socket.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace aisle {
namespace {


RedisReply Copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Copy(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

// An error reply as a status: what Redis cannot take now is Unavailable.
absl::Status ErrorReply(absl::string_view message) {
  for (absl::string_view transient : {"OOM", "READONLY", "LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "NOREPLICAS",
                                      "CLUSTERDOWN", "MISCONF"}) {
    if (absl::StartsWith(message, transient)) return absl::UnavailableError(absl::StrCat("redis: ", message));
  }
  return absl::InternalError(absl::StrCat("redis: ", message));
}

std::string Sha1Hex(absl::string_view s) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

}  // namespace

absl::StatusOr<RedisAddress> RedisAddress::Parse(absl::string_view url) {
  RedisAddress a;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad Redis URL '", url, "' (", why, "): redis://HOST[:PORT][/DB] or redis+unix:///PATH[?db=N]"));
  };
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "redis+unix://")) {
    absl::string_view path = rest;
    if (size_t q = rest.find('?'); q != absl::string_view::npos) {
      path = rest.substr(0, q);
      absl::string_view query = rest.substr(q + 1);
      if (!absl::ConsumePrefix(&query, "db=") || !absl::SimpleAtoi(query, &a.db) || a.db < 0) return bad("db");
    }
    if (path.empty() || path[0] != '/') return bad("the socket's path must be absolute");
    a.unix_path = std::string(path);
    return a;
  }
  auto host_port = [](absl::string_view hp, std::string* host, int* port) {
    absl::string_view h = hp;
    if (size_t colon = hp.rfind(':'); colon != absl::string_view::npos) {
      h = hp.substr(0, colon);
      if (!absl::SimpleAtoi(hp.substr(colon + 1), port) || *port < 1 || *port > 65535) return false;
    }
    *host = std::string(h);
    return !host->empty();
  };
  if (absl::ConsumePrefix(&rest, "redis-sentinel://")) {
    std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
    if (parts.size() < 2 || parts.size() > 3 || parts[1].empty()) return bad("the primary's name");
    if (absl::StrContains(parts[0], '@')) return bad("put the password in a file (--redis_password_file)");
    for (absl::string_view hp : absl::StrSplit(parts[0], ',')) {
      std::pair<std::string, int> sentinel{"", 26379};
      if (!host_port(hp, &sentinel.first, &sentinel.second)) return bad("a sentinel's host:port");
      a.sentinels.push_back(sentinel);
    }
    a.primary_name = std::string(parts[1]);
    if (parts.size() == 3 && !parts[2].empty() && (!absl::SimpleAtoi(parts[2], &a.db) || a.db < 0)) return bad("db");
    return a;
  }
  if (!absl::ConsumePrefix(&rest, "redis://")) return bad("scheme");
  absl::string_view hostport = rest;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    hostport = rest.substr(0, slash);
    absl::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!absl::SimpleAtoi(db, &a.db) || a.db < 0)) return bad("db");
  }
  if (absl::StrContains(hostport, '@')) return bad("put the password in a file (--redis_password_file)");
  if (!host_port(hostport, &a.host, &a.port)) return bad("host:port");
  return a;
}

std::string RedisAddress::ToString() const {
  if (!sentinels.empty()) {
    std::vector<std::string> hp;
    for (const auto& [h, p] : sentinels) hp.push_back(absl::StrCat(h, ":", p));
    return absl::StrCat("redis-sentinel://", absl::StrJoin(hp, ","), "/", primary_name, "/", db);
  }
  if (!unix_path.empty()) return absl::StrCat("redis+unix://", unix_path, "?db=", db);
  return absl::StrCat("redis://", host, ":", port, "/", db);
}

RedisClient::~RedisClient() { Disconnect(); }

void RedisClient::Disconnect() {
  if (ctx_ != nullptr) {
    fd_ = -1;
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

void RedisClient::Interrupt() {
  const int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void RedisClient::set_timeout(absl::Duration t) {
  timeout_ = t;
  if (ctx_ != nullptr) redisSetTimeout(ctx_, absl::ToTimeval(t));
}

absl::Status RedisClient::Connect() {
  if (ctx_ != nullptr) return absl::OkStatus();
  // hiredis write()s to the socket: Redis gone must be an error, not a
  // SIGPIPE that ends the process. Left alone when the program handles it.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  if (address_.sentinels.empty()) {
    if (absl::Status st = ConnectTo(address_.host, address_.port, address_.unix_path); !st.ok()) return st;
  } else {
    auto primary = AskSentinels();
    if (!primary.ok()) return primary.status();
    if (absl::Status st = ConnectTo(primary->first, primary->second, ""); !st.ok()) return st;
  }
  std::vector<std::vector<std::string>> hello;
  if (!address_.password.empty()) hello.push_back({"AUTH", address_.password});
  if (address_.db != 0) hello.push_back({"SELECT", absl::StrCat(address_.db)});
  // Behind Sentinel: the address named may have been demoted since.
  if (!address_.sentinels.empty()) hello.push_back({"ROLE"});
  if (!hello.empty()) {
    auto r = RunAll(hello);
    if (!r.ok()) {
      Disconnect();
      return r.status();
    }
    if (!address_.sentinels.empty() && (r->back().elements.empty() || r->back().elements[0].str != "master")) {
      Disconnect();
      return absl::UnavailableError(absl::StrCat("redis: the primary '", address_.primary_name,
                                                 "' the sentinels named is not a primary (a failover under way)"));
    }
  }
  return absl::OkStatus();
}

absl::Status RedisClient::ConnectTo(const std::string& host, int port, const std::string& unix_path) {
  const timeval tv = absl::ToTimeval(timeout_);
  redisContext* c = unix_path.empty() ? redisConnectWithTimeout(host.c_str(), port, tv)
                                      : redisConnectUnixWithTimeout(unix_path.c_str(), tv);
  if (c == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
  if (c->err) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("redis ", unix_path.empty() ? absl::StrCat(host, ":", port) : unix_path, ": ", c->errstr));
    redisFree(c);
    return s;
  }
  redisSetTimeout(c, tv);
  if (unix_path.empty()) redisEnableKeepAlive(c);
  ctx_ = c;
  fd_ = c->fd;
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, int>> RedisClient::AskSentinels() {
  std::string errors;
  for (const auto& [host, port] : address_.sentinels) {
    RedisAddress sentinel;
    sentinel.host = host;
    sentinel.port = port;
    RedisClient c(sentinel, timeout_);
    auto r = c.Run({"SENTINEL", "get-master-addr-by-name", address_.primary_name});
    int primary_port = 0;
    if (r.ok() && r->elements.size() == 2 && absl::SimpleAtoi(r->elements[1].str, &primary_port)) {
      return std::make_pair(r->elements[0].str, primary_port);
    }
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", host, ":", port, ": ",
                    r.ok() ? "does not know the primary" : r.status().message());
  }
  return absl::UnavailableError(
      absl::StrCat("redis: no sentinel names the primary '", address_.primary_name, "' (", errors, ")"));
}

absl::StatusOr<RedisReply> RedisClient::Run(const std::vector<std::string>& argv) {
  auto r = RunAll({argv});
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::RunAll(const std::vector<std::vector<std::string>>& commands) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& cmd : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
      absl::Status s = absl::UnavailableError(absl::StrCat("redis: ", ctx_->errstr));
      Disconnect();
      return s;
    }
  }
  std::vector<RedisReply> out;
  out.reserve(commands.size());
  absl::Status first_error;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      absl::Status s = absl::UnavailableError(absl::StrCat("redis ", address_.ToString(), ": ",
                                                           ctx_->errstr[0] ? ctx_->errstr : "connection lost"));
      Disconnect();
      return s;
    }
    auto* r = static_cast<redisReply*>(raw);
    if (r->type == REDIS_REPLY_ERROR && first_error.ok()) first_error = ErrorReply(absl::string_view(r->str, r->len));
    out.push_back(Copy(r));
    freeReplyObject(r);
  }
  if (!first_error.ok()) {
    // A primary demoted under us (READONLY): the next call asks the
    // sentinels again.
    if (!address_.sentinels.empty() && absl::StrContains(first_error.message(), "READONLY")) Disconnect();
    return first_error;
  }
  return out;
}

absl::StatusOr<RedisReply> RedisClient::Eval(Script& script, const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args) {
  if (script.sha.empty()) script.sha = Sha1Hex(script.source);
  std::vector<std::string> argv = {"EVALSHA", script.sha, absl::StrCat(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Run(argv);
  if (!r.ok() && absl::StrContains(r.status().message(), "NOSCRIPT")) {
    auto loaded = Run({"SCRIPT", "LOAD", script.source});
    if (!loaded.ok()) return loaded.status();
    r = Run(argv);
  }
  return r;
}

}  // namespace aisle
