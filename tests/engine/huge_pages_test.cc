#include "engine/huge_pages.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <filesystem>

namespace aisle {
namespace {

TEST(HugePagesTest, AdvisesOnlyWholeAlignedHugePages) {
  EXPECT_FALSE(AdviseHugePages(nullptr, 64 << 20));
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = 8 * kHuge;
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* p = static_cast<char*>(map);
  // Not one whole 2 MiB page inside: nothing to advise.
  const uintptr_t first_aligned = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  char* aligned = reinterpret_cast<char*>(first_aligned);
  EXPECT_FALSE(AdviseHugePages(aligned + 4096, kHuge));
  EXPECT_FALSE(AdviseHugePages(aligned, kHuge - 1));
  // A range holding whole huge pages: taken wherever the kernel has THP.
  const bool thp = std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled");
  EXPECT_EQ(AdviseHugePages(p + 100, bytes - 200), thp);
  // Advice changes no content.
  for (size_t i = 0; i < bytes; i += 4096) p[i] = static_cast<char>(i / 4096);
  for (size_t i = 0; i < bytes; i += 4096) ASSERT_EQ(p[i], static_cast<char>(i / 4096));
  munmap(map, bytes);
}

}  // namespace
}  // namespace aisle
