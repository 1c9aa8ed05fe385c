// RedisClient: one blocking connection to Redis (hiredis): the address
// from a URL (redis://HOST:PORT/DB, redis+unix:///PATH?db=N, or
// redis-sentinel://HOST:PORT,HOST:PORT/NAME/DB: the primary Sentinel names,
// asked again at every reconnect, so a failover moves the connection to
// the promoted replica), AUTH and SELECT at connect, replies copied out of hiredis into plain values, Lua
// scripts run by their SHA-1 (loaded again after a NOSCRIPT: a promoted
// replica may not have them), and a reconnect on the next call after a
// failure.
// Errors as values: the connection failing, timing out, or Redis refusing
// a write it cannot take now (OOM, READONLY, LOADING, NOREPLICAS, ...) is
// Unavailable (retry later); any other error reply is Internal.
// The first connection ignores SIGPIPE (when it is left at its default):
// Redis going away is an error of the call, never the end of the process.
// Not thread-safe: one per thread; Interrupt() alone may be called from
// another thread (it wakes a blocked call, which then fails).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct redisContext;

namespace aisle {

struct RedisAddress {
  std::string host;       // TCP host, or empty with unix_path
  int port = 6379;
  std::string unix_path;  // a Unix socket
  int db = 0;
  std::string password;   // AUTH when not empty
  // With Sentinel: where the sentinels listen, and the primary's name.
  std::vector<std::pair<std::string, int>> sentinels;
  std::string primary_name;
  // redis://HOST[:PORT][/DB], redis+unix:///PATH[?db=N] or
  // redis-sentinel://HOST:PORT[,HOST:PORT...]/NAME[/DB].
  static absl::StatusOr<RedisAddress> Parse(absl::string_view url);
  std::string ToString() const;  // without the password
};

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus
  int64_t integer = 0;
  std::vector<RedisReply> elements;
  bool nil() const { return type == Type::kNil; }
};

class RedisClient {
 public:
  RedisClient(RedisAddress address, absl::Duration timeout) : address_(std::move(address)), timeout_(timeout) {}
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (connecting first when needed).
  absl::StatusOr<RedisReply> Run(const std::vector<std::string>& argv);
  // Runs the commands pipelined: one round trip; the first error fails all
  // (the commands before it may have run).
  absl::StatusOr<std::vector<RedisReply>> RunAll(const std::vector<std::vector<std::string>>& commands);

  // A Lua script, loaded once per connection and run by its SHA-1.
  struct Script {
    std::string source;
    std::string sha;  // filled by the first Eval
  };
  absl::StatusOr<RedisReply> Eval(Script& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // Closes the connection; the next call connects again.
  void Disconnect();
  bool connected() const { return ctx_ != nullptr; }
  // Wakes a call blocked on the socket (from any thread): it fails as
  // Unavailable.
  void Interrupt();
  // Per-call timeout from now on (a blocking XREAD needs a longer one).
  void set_timeout(absl::Duration t);
  const RedisAddress& address() const { return address_; }

 private:
  absl::Status Connect();
  // Connects to `host:port` (or the Unix socket) into ctx_.
  absl::Status ConnectTo(const std::string& host, int port, const std::string& unix_path);
  // The primary's address as the sentinels name it now.
  absl::StatusOr<std::pair<std::string, int>> AskSentinels();

  const RedisAddress address_;
  absl::Duration timeout_;
  redisContext* ctx_ = nullptr;
  std::atomic<int> fd_{-1};
};

}  // namespace aisle
