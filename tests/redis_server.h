// A real redis-server (Debian's redis-server package) for tests: its own
// process on a Unix socket in a temporary directory, append-only file
// fsync'ed always (the settings docs/OPERATIONS.md asks for), stopped (or
// killed: Kill()) and started again on the same directory, as a crash and
// restart of Redis would be.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "live/redis_client.h"
#include "tests/test_util.h"

namespace aisle::testing {

// A free TCP port on loopback (for servers that need one: replicas and
// sentinels address each other by host and port).
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class RedisServer {
 public:
  // Starts redis-server with `extra` arguments appended; ok() says whether
  // it answers. `tcp_port` > 0: on 127.0.0.1:tcp_port as well.
  explicit RedisServer(std::vector<std::string> extra = {}, int tcp_port = 0)
      : extra_(std::move(extra)), tcp_port_(tcp_port) {
    Start();
  }
  ~RedisServer() { Stop(SIGTERM); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return pid_ > 0; }
  std::string socket() const { return dir_.Path("redis.sock"); }
  std::string url() const { return "redis+unix://" + socket(); }
  int tcp_port() const { return tcp_port_; }
  RedisAddress address() const { return *RedisAddress::Parse(url()); }

  // Stops it (SIGKILL: as a crash) and starts it again on the same files.
  void Restart(int signal = SIGTERM) {
    Stop(signal);
    Start();
  }
  void Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    // Redis may refuse a SIGTERM (while it writes its first AOF): then a kill.
    for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) != pid_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (i == 499) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    pid_ = -1;
  }
  void Start() {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(tcp_port_), "--bind", "127.0.0.1", "--unixsocket", socket(), "--unixsocketperm", "700",
                                     "--dir", dir_.path(), "--appendonly", "yes", "--appendfsync", "always",
                                     "--save", "", "--maxmemory-policy", "noeviction", "--logfile",
                                     dir_.Path("redis.log"), "--daemonize", "no"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_t pid = ::fork();
    if (pid == 0) {
      // Gone with the test, however it ends; its output away from the test's.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    // Up once it answers PING (NOAUTH too: it answers).
    for (int i = 0; i < 500; ++i) {
      RedisClient c(address(), absl::Seconds(1));
      auto r = c.Run({"PING"});
      if (r.ok() || !absl::IsUnavailable(r.status())) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited (not installed?)
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Stop(SIGKILL);
  }
  // One command on a connection of its own.
  absl::StatusOr<RedisReply> Run(const std::vector<std::string>& argv) const {
    RedisClient c(address(), absl::Seconds(5));
    return c.Run(argv);
  }
  std::string log() const { return ReadAll(dir_.Path("redis.log")); }

 private:
  const std::vector<std::string> extra_;
  const int tcp_port_;
  TempDir dir_;
  pid_t pid_ = -1;
};

// A Redis Sentinel watching the primary at 127.0.0.1:`primary_port` as
// `name` (quorum 1, down after 1 s), on 127.0.0.1:port().
class RedisSentinel {
 public:
  RedisSentinel(const std::string& name, int primary_port) : port_(FreePort()) {
    const std::string conf = dir_.Write(
        "sentinel.conf", absl::StrCat("port ", port_, "\nbind 127.0.0.1\ndir ", dir_.path(), "\nlogfile ",
                                      dir_.Path("sentinel.log"), "\nsentinel monitor ", name, " 127.0.0.1 ",
                                      primary_port, " 1\nsentinel down-after-milliseconds ", name,
                                      " 1000\nsentinel failover-timeout ", name, " 3000\n"));
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execlp("redis-server", "redis-server", conf.c_str(), "--sentinel", nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      RedisAddress a;
      a.host = "127.0.0.1";
      a.port = port_;
      RedisClient c(a, absl::Seconds(1));
      if (c.Run({"PING"}).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~RedisSentinel() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  std::string log() const { return ReadAll(dir_.Path("sentinel.log")); }

 private:
  const int port_;
  TempDir dir_;
  pid_t pid_ = -1;
};

}  // namespace aisle::testing
