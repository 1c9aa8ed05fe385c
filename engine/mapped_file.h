// MappedFile: a read-only memory map of a whole file (MAP_POPULATE), the
// cheapest way to read large inputs here: no copy and no zero-filled buffer.
// Movable, not copyable; the view is valid while the object lives.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

class MappedFile {
 public:
  // NotFound when missing, InvalidArgument for a directory, the errno text otherwise.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view data() const { return absl::string_view(static_cast<const char*>(addr_), size_); }

 private:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace aisle
