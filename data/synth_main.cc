// aisle-synth: writes a synthetic purchase history with planted structure
// (see data/synthetic.h) as an events-format CSV.
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "data/synthetic.h"
#include "data/synthetic_flags.h"
#include "engine/program_usage.h"

ABSL_FLAG(std::string, output, "", "CSV file to write (atomically).");
ABSL_FLAG(std::string, catalog_output, "",
          "Also write the product catalog (planted categories, prices, stock) to this CSV file.");
ABSL_FLAG(bool, streamed, false,
          "Write customer chunk by chunk on all cores without holding the events (for histories of any size; "
          "rows in customer order, events differ from the default's for the same seed).");

int main(int argc, char** argv) {
  aisle::SetProgramUsage("aisle-synth", "Writes a synthetic purchase history.\nUsage: aisle-synth --output FILE [flags]",
                         [](absl::string_view f) {
                           return absl::StrContains(f, "synth_main.cc") || absl::StrContains(f, "synthetic_flags.cc");
                         });
  absl::ParseCommandLine(argc, argv);
  const aisle::SyntheticOptions o = aisle::SyntheticOptionsFromFlags();
  const std::string out = absl::GetFlag(FLAGS_output);
  if (out.empty() || o.customers == 0 || o.products == 0 || o.categories == 0) {
    std::fprintf(stderr, "aisle-synth: --output and positive sizes are required (see --help)\n");
    return 2;
  }
  if (const std::string catalog = absl::GetFlag(FLAGS_catalog_output); !catalog.empty()) {
    if (absl::Status s = aisle::WriteSyntheticCatalog(o, catalog); !s.ok()) {
      std::fprintf(stderr, "aisle-synth: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  if (absl::GetFlag(FLAGS_streamed)) {
    const auto start = std::chrono::steady_clock::now();
    auto n = aisle::WriteSyntheticCsvStreamed(o, out, [&](uint32_t done) {
      if (done % (1u << 20) < 16384 || done == o.customers) {
        std::fprintf(stderr, "  %u / %u customers\n", done, o.customers);
      }
    });
    if (!n.ok()) {
      std::fprintf(stderr, "aisle-synth: %s\n", std::string(n.status().message()).c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %llu events to %s in %.1f s\n", static_cast<unsigned long long>(*n), out.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
  }
  aisle::SyntheticData d = aisle::GenerateSynthetic(o);
  if (absl::Status s = aisle::WriteSyntheticCsv(d, out); !s.ok()) {
    std::fprintf(stderr, "aisle-synth: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %zu events to %s\n", d.events.size(), out.c_str());
  return 0;
}
