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
  if (!absl::ConsumePrefix(&rest, "redis://")) return bad("scheme");
  absl::string_view hostport = rest;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    hostport = rest.substr(0, slash);
    absl::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!absl::SimpleAtoi(db, &a.db) || a.db < 0)) return bad("db");
  }
  if (absl::StrContains(hostport, '@')) return bad("put the password in a file (--redis_password_file)");
  absl::string_view host = hostport;
  if (size_t colon = hostport.rfind(':'); colon != absl::string_view::npos && hostport.find(']') == absl::string_view::npos) {
    host = hostport.substr(0, colon);
    if (!absl::SimpleAtoi(hostport.substr(colon + 1), &a.port) || a.port < 1 || a.port > 65535) return bad("port");
  }
  if (host.empty()) return bad("host");
  a.host = std::string(host);
  return a;
}

std::string RedisAddress::ToString() const {
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
  const timeval tv = absl::ToTimeval(timeout_);
  redisContext* c = address_.unix_path.empty() ? redisConnectWithTimeout(address_.host.c_str(), address_.port, tv)
                                                : redisConnectUnixWithTimeout(address_.unix_path.c_str(), tv);
  if (c == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
  if (c->err) {
    absl::Status s = absl::UnavailableError(absl::StrCat("redis ", address_.ToString(), ": ", c->errstr));
    redisFree(c);
    return s;
  }
  redisSetTimeout(c, tv);
  if (address_.unix_path.empty()) redisEnableKeepAlive(c);
  ctx_ = c;
  fd_ = c->fd;
  std::vector<std::vector<std::string>> hello;
  if (!address_.password.empty()) hello.push_back({"AUTH", address_.password});
  if (address_.db != 0) hello.push_back({"SELECT", absl::StrCat(address_.db)});
  if (!hello.empty()) {
    auto r = RunAll(hello);
    if (!r.ok()) {
      Disconnect();
      return r.status();
    }
  }
  return absl::OkStatus();
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
  if (!first_error.ok()) return first_error;
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
