// A publish directory: numbered model versions and an atomically switched
// `current` pointer, so that a scheduled trainer can publish while servers
// read, and a crash or kill at any moment leaves `current` pointing at a
// complete, valid model.
//
//   DIR/models/model-000001.model ...   versions, each written atomically
//   DIR/current -> models/model-000007.model   a relative symlink, replaced by rename(2)
//   DIR/.lock                           flock(2) held by the one publisher at a time
//
// Thread-safe: functions keep no state; concurrent publishers serialize on the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model.h"

namespace aisle {

struct PublishedVersion {
  uint64_t version;
  std::string path;  // DIR/models/model-NNNNNN.model
};

// The file `current` points at. NotFound when nothing was published yet.
absl::StatusOr<std::string> CurrentModelPath(const std::string& dir);

// Versions present, oldest first.
absl::StatusOr<std::vector<PublishedVersion>> ListVersions(const std::string& dir);

struct PublishResult {
  PublishedVersion published;
  std::vector<std::string> removed;  // old versions pruned
};

// Writes `model` as the next version, fsyncs it, switches `current` to it
// (symlink to a temp name, rename over `current`, fsync the directory), then
// removes versions beyond the newest `keep` (never the current one) and
// leftovers of interrupted publishes. Creates DIR if needed.
// FailedPrecondition when another publisher holds the lock.
absl::StatusOr<PublishResult> PublishModel(const Model& model, const std::string& dir, int keep);

// Points `current` at an existing version (a roll-back, or forward again)
// after checking that it loads, atomically, under the publish lock.
// NotFound for a version not in DIR; FailedPrecondition when it does not
// load or a publisher holds the lock.
absl::Status SwitchCurrent(const std::string& dir, uint64_t version);

// Removes the versions (never the current one) for which `remove` says so,
// under the publish lock, and fsyncs the directory. Returns their paths.
// FailedPrecondition when a publisher holds the lock.
absl::StatusOr<std::vector<std::string>> RemoveVersions(
    const std::string& dir, const std::function<absl::StatusOr<bool>(const PublishedVersion&)>& remove);

}  // namespace aisle
