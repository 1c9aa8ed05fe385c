// Transparent huge pages for large arrays read at random: the trainer's
// factor matrices, whose rows every iteration gathers in an order set by the
// interactions (2 x 90M rows of 256 bytes at the reference size). With 4 KiB
// pages a 1.28 GB matrix spans 320k pages and nearly every gather misses the
// TLB; with 2 MiB pages it spans 640, which the second-level TLB holds.
// Linux with THP in "always" or "madvise" mode; elsewhere a no-op.
#pragma once

#include <cstddef>

namespace aisle {

// Asks the kernel for 2 MiB pages over the 2 MiB-aligned part of
// [data, data + bytes). Call it before the memory is first written: pages
// already there stay small until the kernel's background collapse. True when
// the advice was taken for at least one huge page.
bool AdviseHugePages(void* data, size_t bytes);

}  // namespace aisle
