// aisle-sim: a simulated store visiting a running aisle-server
// (data/storefront_simulator.h). The store's customers and tastes are
// those aisle-synth generates with the same flags and seed, so a model
// trained on aisle-synth's file knows them.
//   aisle-sim --port 8080 --visits 20000 --customers 5000 --products 1000 --seed 1 [--sim_seed 7]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "data/storefront_simulator.h"
#include "data/synthetic.h"
#include "data/synthetic_flags.h"
#include "absl/strings/match.h"
#include "engine/program_usage.h"

ABSL_FLAG(int, port, 8080, "The server's port on 127.0.0.1.");
ABSL_FLAG(std::string, api_key, "", "Sent as X-API-Key.");
ABSL_FLAG(uint64_t, visits, 10000, "Visits (a recommendation request each).");
ABSL_FLAG(uint64_t, sim_seed, 7, "Seed of the visits and decisions.");
ABSL_FLAG(double, buy_taste, 0.05, "Purchase probability of a shown product of a favourite category.");
ABSL_FLAG(double, buy_other, 0.002, "Purchase probability of another shown product.");
ABSL_FLAG(double, organic, 0.05, "Per visit: probability of buying an unshown product of a favourite category.");

int main(int argc, char** argv) {
  aisle::SetProgramUsage("aisle-sim", "Simulated storefront visits against a running aisle-server.",
                         [](absl::string_view f) {
                           return absl::StrContains(f, "sim_main.cc") || absl::StrContains(f, "synthetic_flags.cc");
                         });
  absl::ParseCommandLine(argc, argv);
  const aisle::SyntheticOptions so = aisle::SyntheticOptionsFromFlags();  // the store aisle-synth wrote
  const aisle::SyntheticData data = aisle::GenerateSynthetic(so);
  aisle::StorefrontOptions o;
  o.port = static_cast<uint16_t>(absl::GetFlag(FLAGS_port));
  o.api_key = absl::GetFlag(FLAGS_api_key);
  o.visits = absl::GetFlag(FLAGS_visits);
  o.seed = absl::GetFlag(FLAGS_sim_seed);
  o.buy_taste = absl::GetFlag(FLAGS_buy_taste);
  o.buy_other = absl::GetFlag(FLAGS_buy_other);
  o.organic = absl::GetFlag(FLAGS_organic);
  auto r = aisle::RunStorefront(data, o);
  if (!r.ok()) {
    std::fprintf(stderr, "aisle-sim: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "aisle-sim: %llu visits, %llu clicks, %llu purchases of shown products, %llu others, %llu errors\n",
               static_cast<unsigned long long>(r->visits), static_cast<unsigned long long>(r->clicks),
               static_cast<unsigned long long>(r->shown_purchases), static_cast<unsigned long long>(r->organic_purchases),
               static_cast<unsigned long long>(r->errors));
  return r->errors == 0 ? 0 : 1;
}
