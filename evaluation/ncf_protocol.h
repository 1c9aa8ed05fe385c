// The evaluation protocol of the Neural Collaborative Filtering paper (He et
// al. 2017): for each user, rank the held-out test item among its sampled
// negatives and report HR@k and NDCG@k. Reads the paper's
// NAME.test.rating and NAME.test.negative files (see ../shared/data/README.md).
// Thread-safe: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluation/scorer.h"

namespace aisle {

struct NcfCase {
  std::string user;
  std::string test_item;
  std::vector<std::string> negatives;
};

// Reads NAME.test.negative ("(user,item)" then tab-separated negatives, one
// line per user). When `test_rating_path` is not empty, checks that its
// (user, item) pairs are the same, in the same order. InvalidArgument naming
// file and line on any malformed line or mismatch.
absl::StatusOr<std::vector<NcfCase>> ReadNcfCases(const std::string& negative_path,
                                                  const std::string& test_rating_path);

struct NcfResult {
  int k = 10;
  uint64_t users = 0;               // cases evaluated (all, unknown users count as misses)
  uint64_t unknown_users = 0;       // users absent from the model: counted as misses
  uint64_t unknown_test_items = 0;  // test items absent from the model: scored lowest
  uint64_t unknown_negatives = 0;   // negatives absent from the model: scored lowest
  uint64_t test_item_in_negatives = 0;  // cases whose negatives repeat the test item
  double hit_rate = 0;              // HR@k
  double ndcg = 0;                  // NDCG@k
  std::vector<float> per_user_hit;  // per case, in file order
  std::vector<float> per_user_ndcg;
};

// Ranks each case's test item among its distinct candidates (the published
// evaluation keys candidates by item, so a negative equal to the test item
// is the test item). Rank = 1 + the number of other candidates scoring at
// least as high (ties count against the model).
NcfResult EvaluateNcf(const Model& model, const Scorer& scorer, const std::vector<NcfCase>& cases,
                      int k);

}  // namespace aisle
