// Offline ranking evaluation of a model on held-out events: for each test
// customer known to the model, rank the full catalog (training purchases
// excluded by default), and compute, for each cut-off k, hit rate,
// precision, recall, NDCG, MAP, MRR and revenue per customer, plus catalog
// coverage and novelty over all lists. docs/EVALUATION.md defines each
// metric and the JSON schema. Thread-safe: free functions (parallel inside).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "events/event_log.h"
#include "evaluation/scorer.h"

namespace aisle {

enum class Segmentation { kNone, kCountry, kChannel };

struct TestCustomer {
  std::string id;
  uint32_t index;                  // in the model
  std::vector<uint32_t> relevant;  // model product indexes bought in the test period, sorted
  std::vector<double> revenue;     // per relevant product: price x net quantity (0 when unknown)
  uint32_t unknown_relevant = 0;   // products bought but absent from the model (never hit)
  std::string segment;             // most frequent country/channel of the customer's test events
  int64_t time = 0;                // their first test purchase (Unix seconds): when they are ranked for
  std::vector<char> repeat;        // per relevant product: the customer bought it in training
};

struct TestSet {
  std::vector<TestCustomer> customers;  // sorted by id
  uint64_t unknown_customers = 0;       // test customers absent from the model
  uint64_t no_relevant = 0;             // known customers with nothing new bought in the test period
  bool has_prices = false;              // some test purchase had a price
};

// Relevant products: net purchased quantity (purchases minus returns) > 0 in
// `test`, minus the customer's training purchases when `exclude_train`.
TestSet BuildTestSet(const Model& model, const EventLog& test, bool exclude_train,
                     Segmentation segmentation);

struct EvaluationOptions {
  std::vector<int> ks = {5, 10, 20};
  bool exclude_train = true;  // training purchases are never recommended
};

// Per-customer metric names, in a fixed order, for each k: hr, precision,
// recall, ndcg, map, mrr, revenue ("hr@10", ...), then the recall and NDCG
// of products bought before and of new ones apart ("recall_repeat@10",
// "recall_new@10", "ndcg_repeat@10", "ndcg_new@10": each against that part
// of the relevant products alone; 0 for a customer with none of that part).
std::vector<std::string> PerCustomerMetricNames(const std::vector<int>& ks);

struct EvaluationResult {
  std::vector<std::string> names;           // as PerCustomerMetricNames
  std::vector<std::vector<float>> values;   // [metric][customer], customers as in the TestSet
  std::map<std::string, double> means;      // per-customer means, plus coverage@k and novelty@k
};

EvaluationResult Evaluate(const Model& model, const Scorer& scorer, const TestSet& test,
                          const EvaluationOptions& options);

// Pairs of positions (in a, in b) of the customers present in both test
// sets (which are sorted by id): the customers a paired comparison uses.
std::vector<std::pair<size_t, size_t>> AlignCustomers(const TestSet& a, const TestSet& b);

// Splits "ndcg@10" into a per-customer metric name and k. InvalidArgument
// when the name is not one of PerCustomerMetricNames.
absl::StatusOr<std::pair<std::string, int>> ParseMetric(absl::string_view metric);

// Parses "5,10,20" (each >= 1, at most 1000). InvalidArgument otherwise.
absl::StatusOr<std::vector<int>> ParseKs(absl::string_view s);

}  // namespace aisle
