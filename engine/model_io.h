// Model files and their reader and writer.
//
// Format version 2 (written), all integers little-endian:
//   header (64 bytes): magic "AISLEMDL", u32 format version, u32 header size,
//     u64 customers, u64 products, u32 factors, u32 section count,
//     u64 file size, u32 CRC-32C of the section table, 8 reserved bytes,
//     u32 CRC-32C of the preceding 60 header bytes.
//   section table (32 bytes per section, in file order): u32 tag, u32 zero,
//     u64 offset (a multiple of 64), u64 length, u32 checksum (the CRC-32C
//     of the CRC-32Cs of its 64 MB chunks, so readers check chunks in
//     parallel), u32 zero.
//   sections, each at its offset (zero padding between): META (JSON
//     metadata); CIDS and PIDS (id tables as IdMap stores them: u64 count,
//     u64 id bytes, u64 slots, u64 offsets[count + 1], u32 slots[slots], the
//     id bytes); UFAC and IFAC (float32 factors, row-major: mapped, not
//     copied, by MapModel); PURC (u64 nnz, u64 row pointers [customers + 1],
//     u32 product indexes [nnz]); IPOP (float32 popularity per product);
//     optional ICLU and SCLU (search-index clusters of the product vectors
//     and of their unit vectors: u64 clusters, u64 products, u32 order
//     [products], u32 offsets[clusters + 1], float32 centres[clusters x
//     factors]); optional PHIS (the purchase history, engine/purchase_history.h:
//     u64 pairs, u64 customers, i64 reference_day, u32 days[pairs],
//     i32 first_day[pairs], i32 last_day[pairs], f32 recent[pairs],
//     u32 customer_days[customers]); optional NBRS (each product's
//     neighbours by co-purchase, engine/item_neighbours.h: u64 products,
//     u64 entries, u64 offsets[products + 1], u32 neighbour[entries],
//     f32 similarity[entries]); optional IWGT (the item-item algorithms'
//     weights, Model::item_weights, in NBRS's layout with signed values).
//     Readers skip
//     sections with unknown tags.
// Version 1 (read, and written by WriteModelV1 for tests): the same header
// with payload size and CRC in place of file size and table CRC, then
// sections of u32 tag, u32 zero, u64 length, bytes, padding to 8, ids as u32
// length + bytes each; read by copying.
// Thread-safe: free functions with no shared state.
#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model.h"

namespace aisle {

inline constexpr uint32_t kModelFormatVersion = 2;

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

// ReadModel for serving: the same checks (every checksum, on all threads,
// and Model::Validate), but the factors stay in the mapped file (the model
// keeps the mapping), so memory is the file's pages instead of a copy and a
// large model is ready in about the time its checksums take. The file must
// not be changed in place while mapped (publish new versions by rename, as
// ModelRegistry does); if it is truncated anyway, the vanished pages read as
// zeros instead of crashing (MappedFile's guard). Version 1 files are read
// by copying. Cancelled when `*cancel` turns true (may be null).
absl::StatusOr<Model> MapModel(const std::string& path, const std::atomic<bool>* cancel = nullptr);

// The version 1 writer, for tests that old files still load.
absl::Status WriteModelV1(const Model& model, const std::string& path);

}  // namespace aisle
