// Files the system reads and rewrites: only regular files are read (a FIFO
// never blocks, a device is refused), within a size bound, also when the
// file grows while being read; a rewrite keeps the file's mode.
#include "engine/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "engine/experiments.h"
#include "engine/mapped_file.h"
#include "engine/offer_catalog.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

// Runs `f` on another thread; fails the test (instead of hanging it) when it
// does not return within 10 s.
template <typename F>
auto WithinSeconds(F f) {
  auto future = std::async(std::launch::async, f);
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "blocked";
    std::_Exit(1);  // the blocked thread cannot be joined
  }
  return future.get();
}

TEST(ReadFileToString, RefusesFifosDevicesAndDirectoriesWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero"), std::string("/dev/null"), dir.Path("")}) {
    std::string out;
    absl::Status s = WithinSeconds([&] { return ReadFileToString(path, &out); });
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << path << ": " << s;
    EXPECT_NE(s.message().find("not a regular file"), absl::string_view::npos) << s;
  }
  // The loaders that read whole files say the same.
  EXPECT_FALSE(WithinSeconds([&] { return ExperimentSet::Load(fifo).status(); }).ok());
  EXPECT_FALSE(WithinSeconds([&] { return ExperimentSet::Load("/dev/zero").status(); }).ok());
  EXPECT_FALSE(WithinSeconds([&] { return OfferCatalog::Load(fifo).status(); }).ok());
  EXPECT_FALSE(WithinSeconds([&] { return MappedFile::Open(fifo).status(); }).ok());
  EXPECT_FALSE(WithinSeconds([&] { return MappedFile::Open("/dev/zero").status(); }).ok());
}

TEST(ReadFileToString, HoldsItsBound) {
  TempDir dir;
  const std::string path = dir.Write("f", std::string(1000, 'x'));
  std::string out;
  EXPECT_TRUE(ReadFileToString(path, &out, 1000).ok());
  EXPECT_EQ(out.size(), 1000u);
  absl::Status s = ReadFileToString(path, &out, 999);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  // An experiments file is bounded far below the default.
  const std::string big = dir.Write("big.json", std::string(size_t{17} << 20, ' '));
  auto set = ExperimentSet::Load(big);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kOutOfRange) << set.status();
}

TEST(AtomicFileWriter, AReplacementKeepsTheModeAndANewFileGetsTheDefault) {
  TempDir dir;
  const std::string path = dir.Write("private", "old\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "new\n").ok());
  struct stat sb;
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  EXPECT_EQ(sb.st_uid, ::geteuid());
  EXPECT_EQ(ReadAll(path), "new\n");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "newer\n").ok());
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0640u);
  const mode_t mask = ::umask(022);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("fresh"), "x").ok());
  ::umask(mask);
  ASSERT_EQ(::stat(dir.Path("fresh").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0644u);
}

}  // namespace
}  // namespace aisle
