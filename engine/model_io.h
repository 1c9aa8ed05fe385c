// Model file format (version 1) and its reader and writer.
//
// Layout, all integers little-endian:
//   header (64 bytes): magic "AISLEMDL", u32 format version, u32 header size,
//     u64 customers, u64 products, u32 factors, u32 section count,
//     u64 payload size, u32 CRC-32C of the payload, 8 reserved bytes,
//     u32 CRC-32C of the preceding 60 header bytes.
//   payload: sections, each u32 tag, u32 zero, u64 length, `length` bytes,
//     zero padding to a multiple of 8. Tags: META (JSON metadata), CIDS and
//     PIDS (id tables: u64 count, then u32 length + bytes per id), UFAC and
//     IFAC (float32 factors, row-major), PURC (u64 nnz, u64 row pointers
//     [customers + 1], u32 product indexes [nnz]), IPOP (float32 popularity
//     per product). Readers skip sections with unknown tags.
// Thread-safe: free functions with no shared state.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model.h"

namespace aisle {

inline constexpr uint32_t kModelFormatVersion = 1;

// Writes `model` to `path` atomically (temp file, fsync, rename, fsync of the
// directory). InvalidArgument when the model fails Validate(); the errno
// text on I/O errors. `path` is untouched on any error.
absl::Status WriteModel(const Model& model, const std::string& path);

// Reads and fully checks a model file. NotFound when missing; DataLoss when
// truncated, corrupted (checksum, bounds, shapes) or not a model file;
// FailedPrecondition when written in a format version this build cannot read.
// The message names the file.
absl::StatusOr<Model> ReadModel(const std::string& path);

// Same, from bytes already in memory; `name` is used in error messages.
absl::StatusOr<Model> ParseModel(absl::string_view bytes, const std::string& name);

}  // namespace aisle
