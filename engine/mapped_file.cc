#include "engine/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"

namespace aisle {
namespace {

// Guarded maps: [begin, end) address ranges, read by the signal handler
// (lock-free: atomics only).
constexpr int kGuardSlots = 64;
std::atomic<uintptr_t> g_begin[kGuardSlots];
std::atomic<uintptr_t> g_end[kGuardSlots];
std::atomic<uint64_t> g_faults{0};
uintptr_t g_page = 4096;
struct sigaction g_previous;

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  for (int i = 0; i < kGuardSlots; ++i) {
    const uintptr_t b = g_begin[i].load(std::memory_order_acquire);
    if (b == 0 || a < b || a >= g_end[i].load(std::memory_order_acquire)) continue;
    // A page of a guarded map past the end of its (truncated) file: zeros
    // from now on. mmap is a plain system call, safe here.
    void* page = reinterpret_cast<void*>(a & ~(g_page - 1));
    if (::mmap(page, g_page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      g_faults.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  // Not ours: what would have happened without this handler.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  ::signal(SIGBUS, SIG_DFL);
  ::raise(SIGBUS);
}

void InstallHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

int Register(void* addr, size_t size) {
  InstallHandler();
  const uintptr_t b = reinterpret_cast<uintptr_t>(addr);
  for (int i = 0; i < kGuardSlots; ++i) {
    uintptr_t expected = 0;
    // Claim the slot with a placeholder end first, so the handler never sees
    // a begin without its end.
    if (g_end[i].load() == 0 && g_begin[i].load() == 0) {
      uintptr_t zero = 0;
      if (g_end[i].compare_exchange_strong(zero, b + size)) {
        g_begin[i].compare_exchange_strong(expected, b);
        return i;
      }
    }
  }
  return -1;  // more than 64 guarded maps at once: this one is unguarded
}

void Unregister(int slot) {
  if (slot < 0) return;
  g_begin[slot].store(0, std::memory_order_release);
  g_end[slot].store(0, std::memory_order_release);
}

}  // namespace

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path, bool guard, Access access) {
  const bool populate = access == Access::kPopulate;
  struct stat sb;
  auto opened = OpenRegularFile(path, &sb);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  if (sb.st_size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0, -1);
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(sb.st_size), PROT_READ,
                      MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
  int err = errno;
  if (addr != MAP_FAILED && !populate) {
    ::madvise(addr, static_cast<size_t>(sb.st_size), access == Access::kSequential ? MADV_SEQUENTIAL : MADV_WILLNEED);
  }
  if (addr == MAP_FAILED) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot map ", path, ": ", std::strerror(err)));
  }
  const size_t size = static_cast<size_t>(sb.st_size);
  MappedFile m(addr, size, guard ? Register(addr, size) : -1);
  // The descriptor stays open: CheckUnchanged() asks it about the very
  // file mapped, wherever its path now leads.
  m.fd_ = fd;
  m.path_ = path;
  m.mtime_ns_ = int64_t{sb.st_mtim.tv_sec} * 1'000'000'000 + sb.st_mtim.tv_nsec;
  return m;
}

absl::Status MappedFile::CheckUnchanged() const {
  if (fd_ < 0) return absl::OkStatus();
  struct stat sb;
  if (::fstat(fd_, &sb) != 0) return absl::InternalError(absl::StrCat("cannot stat ", path_, ": ", std::strerror(errno)));
  const int64_t mtime_ns = int64_t{sb.st_mtim.tv_sec} * 1'000'000'000 + sb.st_mtim.tv_nsec;
  if (static_cast<uint64_t>(sb.st_size) == size_ && mtime_ns == mtime_ns_) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(path_, " was changed in place while mapped (", size_, " bytes -> ",
                                          static_cast<int64_t>(sb.st_size),
                                          mtime_ns == mtime_ns_ ? "" : ", modified again",
                                          "): its contents can no longer be trusted"));
}

void MappedFile::DropPagesOutside(const std::vector<std::pair<const void*, size_t>>& keep) const {
  if (addr_ == nullptr) return;
  const uintptr_t base = reinterpret_cast<uintptr_t>(addr_), end = base + size_;
  std::vector<std::pair<uintptr_t, uintptr_t>> k;
  for (const auto& [p, n] : keep) {
    if (p == nullptr || n == 0) continue;
    const uintptr_t b = reinterpret_cast<uintptr_t>(p);
    k.push_back({b & ~(g_page - 1), (b + n + g_page - 1) & ~(g_page - 1)});  // pages touching a kept range
  }
  std::sort(k.begin(), k.end());
  uintptr_t at = base;
  auto drop = [&](uintptr_t b, uintptr_t e) {
    b = (b + g_page - 1) & ~(g_page - 1);
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
  };
  for (const auto& [b, e] : k) {
    if (b > at) drop(at, std::min(b, end));
    at = std::max(at, e);
  }
  if (at < end) drop(at, end & ~(g_page - 1));
}

uint64_t MappedFile::GuardedFaults() { return g_faults.load(std::memory_order_relaxed); }

MappedFile::MappedFile(MappedFile&& o) noexcept
    : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)),
      guard_slot_(std::exchange(o.guard_slot_, -1)), fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)),
      mtime_ns_(o.mtime_ns_) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    Unmap();
    addr_ = std::exchange(o.addr_, nullptr);
    size_ = std::exchange(o.size_, 0);
    guard_slot_ = std::exchange(o.guard_slot_, -1);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    mtime_ns_ = o.mtime_ns_;
  }
  return *this;
}

void MappedFile::Unmap() {
  Unregister(guard_slot_);
  guard_slot_ = -1;
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

MappedFile::~MappedFile() { Unmap(); }

}  // namespace aisle
