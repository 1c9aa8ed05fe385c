// MappedAllocator: a std allocator that takes blocks of kMapBytes (128 KiB)
// and more straight from the kernel (mmap) and gives them back when freed
// (munmap); smaller blocks come from malloc. For buffers that are usually
// small but that a client can make large: a connection's input and output.
// aisle-server keeps freed malloc memory for reuse (M_MMAP_THRESHOLD 64 MB,
// M_TRIM_THRESHOLD 256 MB in server_main.cc, so that scoring does not fault
// pages in on every request); through malloc, the 2 GB that 3,000 clients'
// partial bodies took stayed in the transport threads' arenas after they
// left, where malloc_trim cannot reach it. Through this allocator it is
// returned as each buffer is freed.
// Thread-safe: stateless.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>

namespace aisle {

template <typename T>
struct MappedAllocator {
  using value_type = T;
  static constexpr size_t kMapBytes = 128 << 10;

  MappedAllocator() = default;
  template <typename U>
  MappedAllocator(const MappedAllocator<U>&) {}  // NOLINT: converting, as allocators are

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    void* p;
    if (bytes >= kMapBytes) {
      p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
    } else {
      p = std::malloc(bytes);
      if (p == nullptr) throw std::bad_alloc();
    }
    return static_cast<T*>(p);
  }
  // `n` is what allocate() was given (the allocator contract), so the size
  // tells how the block was taken.
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMapBytes) {
      ::munmap(p, bytes);
    } else {
      std::free(p);
    }
  }
  template <typename U>
  bool operator==(const MappedAllocator<U>&) const {
    return true;
  }
};

// A byte buffer whose large blocks are mapped (see above).
using MappedBuffer = std::basic_string<char, std::char_traits<char>, MappedAllocator<char>>;

}  // namespace aisle
