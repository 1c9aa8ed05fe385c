// Helpers shared by the tests: a temporary directory removed at the end.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace aisle::testing {

// Built with AddressSanitizer or ThreadSanitizer (GCC's macros; clang's
// __has_feature): the allocator and the resident memory are the sanitizer's,
// so tests of allocation sizes skip.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aisle-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Path(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  const std::string& path() const { return path_; }
  // Writes `contents` to `name` inside the directory; returns its path.
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = Path(name);
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct ExecResult {
  int status;          // exit status, -1 when killed or not run
  std::string output;  // stdout and stderr
};

// Runs a shell command line, capturing its output.
inline ExecResult Exec(const std::string& args) {
  std::string cmd = args + " 2>&1";
  ExecResult r{-1, ""};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A process to kill for crash tests: `body(fd)` runs in a forked child
// (which exits after it; `fd` is the write end of a pipe to the parent, for
// acknowledgements), and the parent reads the other end (fd()). Kill()
// sends SIGKILL and reaps the child; the destructor kills it if still alive.
class CrashChild {
 public:
  explicit CrashChild(const std::function<void(int fd)>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      body(fds[1]);
      ::_exit(0);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~CrashChild() {
    Kill();
    if (fd_ >= 0) ::close(fd_);
  }
  CrashChild(const CrashChild&) = delete;
  CrashChild& operator=(const CrashChild&) = delete;
  bool ok() const { return pid_ > 0 && fd_ >= 0; }
  int fd() const { return fd_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace aisle::testing
