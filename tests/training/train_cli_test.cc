// Runs the built aisle-train / aisle-eval / aisle-synth programs as a
// scheduled job would, and checks exit statuses, messages and files.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/model_io.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

using ::aisle::testing::Exec;
using ::aisle::testing::ExecResult;

const std::string kBin = AISLE_BIN_DIR;
const std::string kTrain = kBin + "/aisle-train";

TEST(TrainCliTest, HelpDocumentsEveryFlag) {
  ExecResult r = Exec(kTrain + " --help");
  EXPECT_EQ(r.status, 1) << "absl exits 1 after --help";  // absl's convention
  for (const char* flag :
       {"input", "output", "format", "separator", "customer_column", "product_column",
        "timestamp_column", "quantity_column", "price_column", "event_column", "channel_column",
        "country_column", "strict", "max_malformed_fraction", "max_id_length", "purchase_weight",
        "cart_weight", "view_weight", "return_weight", "quantity_scaling", "half_life_days",
        "reference_time", "factors", "regularization", "frequency_scaled_regularization",
        "regularization_exponent", "alpha", "unobserved_weight", "iterations", "solver",
        "cg_steps", "seed", "threads", "quiet"}) {
    EXPECT_NE(r.output.find(std::string("--") + flag), std::string::npos) << flag;
  }
  // Abseil's own flags are not listed under --help.
  EXPECT_EQ(r.output.find("--flagfile"), std::string::npos);
}

TEST(TrainCliTest, EveryProgramsHelpNamesItselfNotItsSourceFiles) {
  // --help lists each program's flags under its name: no build path, no
  // source file; --version still answers.
  for (const char* program : {"aisle-train", "aisle-eval", "aisle-server", "aisle-synth", "aisle-sim"}) {
    ExecResult r = Exec(kBin + "/" + program + " --help");
    EXPECT_NE(r.output.find(std::string("Flags from ") + program + ":"), std::string::npos) << program << r.output;
    EXPECT_EQ(r.output.find(".cc"), std::string::npos) << program;
    EXPECT_EQ(r.output.find(AISLE_SOURCE_DIR), std::string::npos) << program;
    EXPECT_NE(r.output.find("\n    --"), std::string::npos) << program << ": no flag listed";
  }
  EXPECT_EQ(Exec(kTrain + " --version").output, "aisle-train 0.1.0\n");
}

TEST(TrainCliTest, TrainsAndWritesALoadableModel) {
  TempDir dir;
  const std::string csv = dir.Path("events.csv");
  ExecResult g = Exec(kBin + "/aisle-synth --output " + csv + " --customers 200 --products 80 --purchases 3000 --views_per_purchase 1");
  ASSERT_EQ(g.status, 0) << g.output;
  const std::string model = dir.Path("m.model");
  ExecResult r = Exec(kTrain + " --input " + csv + " --output " + model + " --factors 8 --iterations 3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("iteration 3/3: loss"), std::string::npos) << r.output;
  auto m = ReadModel(model);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->num_factors(), 8u);
  EXPECT_EQ(m->metadata["hyperparameters"]["iterations"], 3);
  EXPECT_GT(m->metadata["data"]["interactions"].get<int>(), 1000);
  ExecResult e = Exec(kBin + "/aisle-eval recommend --model " + model + " --customers c1 --count 3");
  EXPECT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("customer c1"), std::string::npos) << e.output;
}

TEST(TrainCliTest, BadDataFailsLoudlyAndKeepsTheOldModel) {
  TempDir dir;
  const std::string model = dir.Write("m.model", "previous model bytes");
  std::string rows = "customer_id,product_id,timestamp\n";
  for (int i = 0; i < 50; ++i) rows += "c" + std::to_string(i % 7) + ",p" + std::to_string(i % 5) + ",2021-01-01\n";
  rows += "c1,p1,not-a-date\n";
  const std::string csv = dir.Write("bad.csv", rows);

  // Strict: the first bad row, with file and line.
  ExecResult s = Exec(kTrain + " --input " + csv + " --output " + model + " --strict --factors 4 --iterations 1");
  EXPECT_EQ(s.status, 1) << s.output;
  EXPECT_NE(s.output.find(csv + ":52: unparseable timestamp: 'not-a-date'"), std::string::npos) << s.output;
  EXPECT_EQ(ReadAll(model), "previous model bytes");

  // Lenient, but more malformed rows than allowed.
  ExecResult f = Exec(kTrain + " --input " + csv + " --output " + model + " --max_malformed_fraction 0.001 --factors 4 --iterations 1");
  EXPECT_EQ(f.status, 1) << f.output;
  EXPECT_NE(f.output.find("refusing to train"), std::string::npos) << f.output;
  EXPECT_EQ(ReadAll(model), "previous model bytes");

  // Lenient within the limit: trains, and reports the skipped row.
  ExecResult ok = Exec(kTrain + " --input " + csv + " --output " + model + " --max_malformed_fraction 0.05 --factors 4 --iterations 1");
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("malformed: unparseable timestamp: 1 (first at " + csv + ":52)"), std::string::npos) << ok.output;
  EXPECT_TRUE(ReadModel(model).ok());
}

TEST(TrainCliTest, TrainsItemItemModels) {
  TempDir dir;
  const std::string csv = dir.Path("events.csv");
  ExecResult g = Exec(kBin + "/aisle-synth --output " + csv + " --customers 200 --products 80 --purchases 3000");
  ASSERT_EQ(g.status, 0) << g.output;
  for (const std::string algorithm : {"item_knn", "ease"}) {
    const std::string model = dir.Path(algorithm + ".model");
    ExecResult r = Exec(kTrain + " --input " + csv + " --output " + model + " --algorithm " + algorithm +
                        " --ease_lambda 50 --item_knn_k 20");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("trained " + algorithm + ":"), std::string::npos) << r.output;
    auto m = ReadModel(model);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(AlgorithmName(m->algorithm), algorithm);
    EXPECT_EQ(m->num_factors(), 0u);
    EXPECT_GT(m->item_weights.similar.nnz(), 0u);
    EXPECT_TRUE(m->buy_again.learnt());  // buy-again is fitted on this algorithm's scores too
    if (algorithm == "ease") {
      EXPECT_EQ(m->metadata["hyperparameters"]["lambda"], 50);
    } else {
      EXPECT_EQ(m->metadata["hyperparameters"]["k"], 20);
    }
    ExecResult e = Exec(kBin + "/aisle-eval recommend --model " + model + " --customers c1 --count 3");
    EXPECT_EQ(e.status, 0) << e.output;
    EXPECT_NE(e.output.find("customer c1"), std::string::npos) << e.output;
  }
  // auto: every candidate validated, the chosen one written, the figures in its metadata.
  const std::string chosen = dir.Path("auto.model");
  ExecResult a = Exec(kTrain + " --input " + csv + " --output " + chosen + " --algorithm auto --factors 8 --iterations 3");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.output.find("auto: chose "), std::string::npos) << a.output;
  auto m = ReadModel(chosen);
  ASSERT_TRUE(m.ok()) << m.status();
  const nlohmann::json& report = m->metadata["auto"];
  ASSERT_TRUE(report.contains("candidates")) << m->metadata.dump();
  EXPECT_GE(report["candidates"].size(), 5u);
  EXPECT_EQ(report["candidates"][report["chosen"].get<size_t>()]["algorithm"], AlgorithmName(m->algorithm));
  ExecResult info = Exec(kBin + "/aisle-eval info --model " + chosen);
  EXPECT_NE(info.output.find("\"candidates\""), std::string::npos) << info.output;

  ExecResult bad = Exec(kTrain + " --input " + csv + " --output " + dir.Path("x") + " --algorithm svd");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("unknown algorithm 'svd'"), std::string::npos) << bad.output;
  EXPECT_EQ(Exec(kTrain + " --input " + csv + " --output " + dir.Path("x") + " --algorithm ease --ease_lambda 0").status, 2);
}

TEST(TrainCliTest, UsageAndInputErrors) {
  TempDir dir;
  EXPECT_EQ(Exec(kTrain + " --output " + dir.Path("m")).status, 2);
  EXPECT_EQ(Exec(kTrain + " --input x.csv").status, 2);
  EXPECT_EQ(Exec(kTrain + " --input x.csv --output m --solver qr").status, 2);
  EXPECT_EQ(Exec(kTrain + " --input x.csv --output m --factors 0").status, 2);
  EXPECT_NE(Exec(kTrain + " --input x.csv --output m --no_such_flag").status, 0);
  ExecResult missing = Exec(kTrain + " --input " + dir.Path("none.csv") + " --output " + dir.Path("m"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("none.csv"), std::string::npos);
  const std::string empty = dir.Write("empty.csv", "");
  ExecResult e = Exec(kTrain + " --input " + empty + " --output " + dir.Path("m"));
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.output.find("nothing to train on"), std::string::npos) << e.output;
  EXPECT_FALSE(std::filesystem::exists(dir.Path("m")));
}

TEST(TrainCliTest, BundledSampleTrains) {
  TempDir dir;
  const std::string sample = std::string(AISLE_SOURCE_DIR) + "/data/sample/online_retail_sample.csv";
  ExecResult r = Exec(kTrain + " --input " + sample + " --format online_retail --output " + dir.Path("m") +
               " --factors 16 --iterations 3 --strict");
  ASSERT_EQ(r.status, 0) << r.output;
  auto m = ReadModel(dir.Path("m"));
  ASSERT_TRUE(m.ok());
  EXPECT_GT(m->customers.size(), 100u);
}

}  // namespace
}  // namespace aisle
