// Safe publishing, through the real aisle-train: versions and the current
// pointer, the gate refusing a broken model, and crashes at every step.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Exec;
using ::aisle::testing::ExecResult;
using ::aisle::testing::TempDir;

const std::string kBin = AISLE_BIN_DIR;

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two months of planted-structure purchases; "old" stops 10 days earlier.
    data_ = dir_.Path("all.csv");
    ExecResult g = Exec(kBin + "/aisle-synth --output " + data_ +
                        " --customers 400 --products 150 --purchases 12000 --categories 10 --seed 3");
    ASSERT_EQ(g.status, 0) << g.output;
    old_ = dir_.Path("old.csv");
    ExecResult s = Exec(kBin + "/aisle-eval split --input " + data_ + " --method time --test_fraction 0.15 --train_out " +
                        old_ + " --test_out " + dir_.Path("new.csv"));
    ASSERT_EQ(s.status, 0) << s.output;
    pub_ = dir_.Path("pub");
  }
  ExecResult Train(const std::string& input, const std::string& extra, const std::string& env = "") {
    return Exec(env + " " + kBin + "/aisle-train --input " + input + " --publish_dir " + pub_ +
                " --factors 16 --iterations 6 --regularization 1 --gate_min_customers 10 " + extra);
  }
  std::string Current() {
    auto p = CurrentModelPath(pub_);
    return p.ok() ? *p : "";
  }

  TempDir dir_;
  std::string data_, old_, pub_;
};

TEST_F(PublishTest, VersionsCurrentAndPruning) {
  ASSERT_EQ(Train(old_, "").status, 0);
  EXPECT_EQ(Current(), pub_ + "/models/model-000001.model");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Train(data_, "--keep_versions 2").status, 0);
  EXPECT_EQ(Current(), pub_ + "/models/model-000004.model");
  auto versions = ListVersions(pub_);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 3u);
  EXPECT_TRUE(ReadModel(Current()).ok());
}

TEST_F(PublishTest, SwitchingCurrentBackAndForthOnlyToVersionsThatLoad) {
  ASSERT_EQ(Train(old_, "").status, 0);
  ASSERT_EQ(Train(data_, "").status, 0);
  ASSERT_EQ(Train(data_, "").status, 0);
  ASSERT_TRUE(SwitchCurrent(pub_, 1).ok());
  EXPECT_EQ(Current(), pub_ + "/models/model-000001.model");
  ASSERT_TRUE(SwitchCurrent(pub_, 3).ok());
  EXPECT_EQ(Current(), pub_ + "/models/model-000003.model");
  EXPECT_TRUE(absl::IsNotFound(SwitchCurrent(pub_, 9)));
  // A damaged version is refused and current stays where it was.
  {
    std::fstream f(pub_ + "/models/model-000002.model", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  absl::Status s = SwitchCurrent(pub_, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(Current(), pub_ + "/models/model-000003.model");
  // The next publish goes on from the newest version.
  ASSERT_TRUE(SwitchCurrent(pub_, 1).ok());
  ASSERT_EQ(Train(data_, "").status, 0);
  EXPECT_EQ(Current(), pub_ + "/models/model-000004.model");
}

TEST_F(PublishTest, GatePassesABetterModelAndRefusesABrokenOne) {
  ASSERT_EQ(Train(old_, "").status, 0);
  const std::string first = Current();
  // A proper model on newer data passes.
  ExecResult ok = Train(data_, "--gate_metric ndcg@10 --max_drop 0.01");
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("gate: ndcg@10 on"), std::string::npos) << ok.output;
  const std::string second = Current();
  EXPECT_NE(second, first);
  auto m = ReadModel(second);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->metadata.contains("gate"));
  // Untrained factors (zero iterations) are refused, and current stays.
  ASSERT_EQ(Exec("rm -rf " + pub_).status, 0);
  ASSERT_EQ(Train(old_, "").status, 0);
  const std::string good = Current();
  ExecResult bad = Train(data_, "--gate_metric ndcg@10 --max_drop 0.01 --iterations 0");
  EXPECT_EQ(bad.status, 4) << bad.output;
  EXPECT_NE(bad.output.find("refusing to publish"), std::string::npos) << bad.output;
  EXPECT_EQ(Current(), good);
  EXPECT_EQ(ListVersions(pub_)->size(), 1u);
}

TEST_F(PublishTest, GateRefusesWhenNothingNewCanBeChecked) {
  ASSERT_EQ(Train(data_, "").status, 0);
  const std::string current = Current();
  ExecResult r = Train(data_, "--gate_metric ndcg@10");
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.output.find("cannot be checked"), std::string::npos) << r.output;
  EXPECT_EQ(Current(), current);
}

TEST_F(PublishTest, CrashAtAnyStepLeavesCurrentValid) {
  ASSERT_EQ(Train(old_, "").status, 0);
  const std::string before = Current();
  auto old_model = ReadModel(before);
  ASSERT_TRUE(old_model.ok());
  for (const char* point : {"before_rename", "after_write", "before_switch", "after_switch"}) {
    SCOPED_TRACE(point);
    const std::string prev = Current();
    ExecResult r = Train(data_, "", std::string("AISLE_CRASH_POINT=") + point);
    EXPECT_EQ(r.status, 86) << r.output;
    auto now = ReadModel(Current());
    ASSERT_TRUE(now.ok()) << now.status();
    if (std::string(point) == "after_switch") {
      EXPECT_NE(Current(), prev);  // switched, then died before pruning
    } else {
      EXPECT_EQ(Current(), prev);  // the old model still serves
    }
  }
  // The next publish cleans up what the crashes left and goes on.
  ExecResult r = Train(data_, "");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const auto& e : std::filesystem::recursive_directory_iterator(pub_)) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
  EXPECT_TRUE(ReadModel(Current()).ok());
}

}  // namespace
}  // namespace aisle
