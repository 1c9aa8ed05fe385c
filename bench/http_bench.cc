// HTTP layer costs: parsing a request whose headers grow, fed in 4 KiB
// reads as a socket delivers them (the cost must grow linearly with the
// size: the parser resumes where it stopped instead of rescanning), and
// serializing a typical answer.
#include <benchmark/benchmark.h>

#include <string>

#include "server/http_request.h"
#include "server/http_response.h"

namespace aisle {
namespace {

void BM_ParseGrowingHeaders(benchmark::State& state) {
  const size_t header_bytes = static_cast<size_t>(state.range(0));
  std::string raw = "GET /v1/customers/c1/recommendations?count=10 HTTP/1.1\r\nHost: shop\r\n";
  while (raw.size() < header_bytes) raw += "X-Filler: " + std::string(100, 'a') + "\r\n";
  raw += "\r\n";
  HttpRequestParser::Limits limits;
  limits.max_header_bytes = raw.size() + 1;
  for (auto _ : state) {
    HttpRequestParser p(limits);
    HttpRequestParser::State st = HttpRequestParser::State::kNeedMore;
    for (size_t n = 4096; st == HttpRequestParser::State::kNeedMore; n += 4096) {
      st = p.Parse(absl::string_view(raw).substr(0, std::min(n, raw.size())));
    }
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_ParseGrowingHeaders)->Arg(256)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

void BM_ParseTypicalRequest(benchmark::State& state) {
  const std::string raw =
      "GET /v1/customers/c12345/recommendations?count=10 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "X-API-Key: client-key-0123456789abcdef\r\nUser-Agent: storefront/1.0\r\nAccept: */*\r\n\r\n";
  for (auto _ : state) {
    HttpRequestParser p({});
    benchmark::DoNotOptimize(p.Parse(raw));
    benchmark::DoNotOptimize(p.request().headers.size());
  }
}
BENCHMARK(BM_ParseTypicalRequest);

void BM_SerializeAnswer(benchmark::State& state) {
  HttpResponse r;
  r.body = std::string(526, 'x');
  r.headers.emplace_back("X-Model-Version", "20261201T040211Z-b723234a");
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendResponse(r, false, ConnectionHeader::kNone, "Tue, 01 Dec 2026 04:00:00 GMT", &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_SerializeAnswer);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();
