#include "evaluation/ncf_protocol.h"

#include <gtest/gtest.h>

#include <cmath>

#include <filesystem>

#include "engine/model_io.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::TempDir;

Model ScoreModel(const std::vector<std::pair<std::string, float>>& items, const std::vector<std::string>& users) {
  Model m;
  for (const auto& u : users) m.customers.Insert(u);
  m.user_factors = FactorMatrix::Ones(users.size(), 1);
  m.item_factors.resize(items.size(), 1);
  for (size_t i = 0; i < items.size(); ++i) {
    m.products.Insert(items[i].first);
    m.item_factors(i, 0) = items[i].second;
  }
  m.purchased.rows = users.size();
  m.purchased.cols = items.size();
  m.purchased.indptr.assign(users.size() + 1, 0);
  m.item_popularity.assign(items.size(), 1);
  return m;
}

TEST(NcfProtocolTest, ReadsFilesAndChecksTheyAgree) {
  TempDir dir;
  std::string neg = dir.Write("x.test.negative", "(0,5)\t1\t2\t3\n(1,7)\t5\t2\t7\n");
  std::string test = dir.Write("x.test.rating", "0\t5\t4\t978824351\n1\t7\t3\t978300174\n");
  auto cases = ReadNcfCases(neg, test);
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[1].user, "1");
  EXPECT_EQ((*cases)[1].test_item, "7");
  EXPECT_EQ((*cases)[1].negatives, (std::vector<std::string>{"5", "2", "7"}));
  std::string other = dir.Write("y.test.rating", "0\t5\t4\n1\t8\t3\n");
  auto bad = ReadNcfCases(neg, other);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("y.test.rating:2"), std::string::npos) << bad.status();
  std::string broken = dir.Write("z.test.negative", "(0,5)\t1\n0,5\t2\n");
  EXPECT_NE(ReadNcfCases(broken, "").status().message().find("z.test.negative:2"), std::string::npos);
}

TEST(NcfProtocolTest, RanksAmongDistinctCandidates) {
  // Scores: a=5 b=4 c=3 t=2 d=1.
  Model m = ScoreModel({{"a", 5}, {"b", 4}, {"c", 3}, {"t", 2}, {"d", 1}}, {"u1", "u2", "u3"});
  std::vector<NcfCase> cases = {
      {"u1", "t", {"a", "b", "c", "d"}},        // rank 4
      {"u2", "t", {"d", "t", "d"}},             // test item repeated, d repeated: rank 1
      {"u3", "t", {"a", "zz"}},                 // unknown negative scores lowest: rank 2
      {"nobody", "t", {"a"}},                   // unknown user: a miss
  };
  NcfResult r = EvaluateNcf(m, *MakeModelScorer(m), cases, 3);
  EXPECT_EQ(r.per_user_hit, (std::vector<float>{0, 1, 1, 0}));
  EXPECT_NEAR(r.per_user_ndcg[1], 1.0, 1e-6);
  EXPECT_NEAR(r.per_user_ndcg[2], std::log(2.0) / std::log(3.0), 1e-6);
  EXPECT_EQ(r.unknown_users, 1u);
  EXPECT_EQ(r.unknown_negatives, 1u);
  EXPECT_EQ(r.test_item_in_negatives, 1u);
  EXPECT_NEAR(r.hit_rate, 0.5, 1e-9);
  // A tie counts against the model.
  Model tie = ScoreModel({{"t", 1}, {"x", 1}}, {"u"});
  NcfResult rt = EvaluateNcf(tie, *MakeModelScorer(tie), {{"u", "t", {"x"}}}, 1);
  EXPECT_EQ(rt.per_user_hit[0], 0);
}


// On the real MovieLens-1M files (when beside the checkout): the popularity
// baseline must match the published re-run (Dacrema et al. 2019: HR@10
// 0.453, NDCG@10 0.254), which checks reader, candidates and ranking.
TEST(NcfProtocolTest, PopularityMatchesPublishedFigureOnMovieLens) {
  const std::string dir = std::string(AISLE_SOURCE_DIR) + "/../shared/data/ncf-ml-1m";
  if (!std::filesystem::exists(dir + "/ml-1m.test.negative")) GTEST_SKIP() << "no " << dir;
  TempDir tmp;
  auto r = ::aisle::testing::Exec(std::string(AISLE_BIN_DIR) + "/aisle-train --format ncf --input " + dir +
                                  "/ml-1m.train.rating --output " + tmp.Path("m") + " --factors 4 --iterations 1 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  auto m = ReadModel(tmp.Path("m"));
  ASSERT_TRUE(m.ok());
  auto cases = ReadNcfCases(dir + "/ml-1m.test.negative", dir + "/ml-1m.test.rating");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 6040u);
  NcfResult pop = EvaluateNcf(*m, *MakePopularityScorer(*m), *cases, 10);
  EXPECT_NEAR(pop.hit_rate, 0.453, 0.001);
  EXPECT_NEAR(pop.ndcg, 0.254, 0.001);
  EXPECT_EQ(pop.test_item_in_negatives, 156u);  // the quirk the data README describes
}

}  // namespace
}  // namespace aisle
