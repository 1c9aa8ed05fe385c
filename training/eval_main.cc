// aisle-eval: inspects models offline. Subcommands:
//   info       --model M                      model metadata as JSON
//   recommend  --model M [--customers a,b] [--count N]
//              top-N products for some customers (the first few by default)
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/model_io.h"
#include "engine/recommend.h"

ABSL_FLAG(std::string, model, "", "Model file to read.");
ABSL_FLAG(std::string, customers, "",
          "recommend: comma-separated customer ids; default: the first --sample customers.");
ABSL_FLAG(int, sample, 3, "recommend: how many customers to show when --customers is empty.");
ABSL_FLAG(int, count, 5, "recommend: products per customer.");

namespace aisle {
namespace {

int Info(const Model& m) {
  nlohmann::json j = m.metadata;
  j["customers"] = m.customers.size();
  j["products"] = m.products.size();
  j["factors"] = m.num_factors();
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

int Recommend(const Model& m) {
  std::vector<std::string> ids;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_customers), ',', absl::SkipEmpty())) {
    ids.emplace_back(s);
  }
  for (int i = 0; ids.empty() && i < absl::GetFlag(FLAGS_sample) && i < static_cast<int>(m.customers.size()); ++i) {
    if (i + 1 == absl::GetFlag(FLAGS_sample) || i + 1 == static_cast<int>(m.customers.size())) {
      for (int j = 0; j <= i; ++j) ids.push_back(m.customers.id(static_cast<uint32_t>(j)));
    }
  }
  const int count = absl::GetFlag(FLAGS_count);
  if (count < 1 || count > 1000) {
    std::fprintf(stderr, "aisle-eval: --count must be in [1, 1000]\n");
    return 2;
  }
  int status = 0;
  for (const std::string& id : ids) {
    auto c = m.customers.Find(id);
    if (!c) {
      std::printf("customer %s: unknown; most popular products instead:\n", id.c_str());
      for (const ScoredItem& s : MostPopular(m, static_cast<size_t>(count))) {
        std::printf("  %-16s popularity %.0f\n", m.products.id(s.index).c_str(), s.score);
      }
      status = 1;
      continue;
    }
    std::printf("customer %s (%u products bought):\n", id.c_str(), m.purchased.RowLength(*c));
    for (const ScoredItem& s : RecommendForCustomer(m, *c, static_cast<size_t>(count))) {
      std::printf("  %-16s score %.4f\n", m.products.id(s.index).c_str(), s.score);
    }
  }
  return status;
}

}  // namespace
}  // namespace aisle

int main(int argc, char** argv) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) { return absl::StrContains(file, "eval_main.cc"); };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(
      "Inspects aisle models.\nUsage: aisle-eval info --model M\n"
      "       aisle-eval recommend --model M [--customers ID,...] [--count N]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "aisle-eval: expected one subcommand: info or recommend (see --help)\n");
    return 2;
  }
  const std::string cmd = args[1];
  if (cmd != "info" && cmd != "recommend") {
    std::fprintf(stderr, "aisle-eval: unknown subcommand '%s'\n", cmd.c_str());
    return 2;
  }
  auto model = aisle::ReadModel(absl::GetFlag(FLAGS_model));
  if (!model.ok()) {
    std::fprintf(stderr, "aisle-eval: %s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  return cmd == "info" ? aisle::Info(*model) : aisle::Recommend(*model);
}
