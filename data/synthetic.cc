#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/atomic_file.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace aisle {
namespace {

// Samples the planted model: category by taste, product by Zipf within it.
class Sampler {
 public:
  explicit Sampler(const SyntheticOptions& o) : o_(o), rng_(o.seed) {
    const uint32_t nc = std::max<uint32_t>(1, std::min(o.categories, o.products));
    category_.resize(o.products);
    members_.resize(nc);
    // Products are dealt to categories round-robin after a shuffle, so
    // category sizes are even and ids carry no structure.
    std::vector<uint32_t> perm(o.products);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng_);
    for (uint32_t i = 0; i < o.products; ++i) {
      category_[perm[i]] = i % nc;
      members_[i % nc].push_back(perm[i]);
    }
    cdf_.resize(nc);
    for (uint32_t c = 0; c < nc; ++c) {
      double acc = 0;
      for (size_t r = 0; r < members_[c].size(); ++r) {
        acc += 1.0 / std::pow(static_cast<double>(r + 1), o.popularity_exponent);
        cdf_[c].push_back(acc);
      }
    }
    // Categories themselves have mildly skewed popularity.
    double acc = 0;
    for (uint32_t c = 0; c < nc; ++c) {
      acc += 1.0 / std::sqrt(static_cast<double>(c + 1));
      category_cdf_.push_back(acc);
    }
    price_.resize(o.products);
    std::lognormal_distribution<double> price(2.0, 0.8);
    for (uint32_t p = 0; p < o.products; ++p) price_[p] = static_cast<float>(std::round(price(rng_) * 100) / 100);
    // Tastes.
    tastes_.resize(o.customers);
    for (uint32_t u = 0; u < o.customers; ++u) {
      const uint32_t nt = std::min(o.tastes_per_customer, nc);
      while (tastes_[u].size() < nt) {
        uint32_t c = Pick(category_cdf_);
        if (std::find(tastes_[u].begin(), tastes_[u].end(), c) == tastes_[u].end()) tastes_[u].push_back(c);
      }
    }
    // Activity: purchases per customer, log-normal, scaled to the total.
    std::lognormal_distribution<double> act(0.0, o.activity_sigma);
    std::vector<double> w(o.customers);
    double sum = 0;
    for (auto& x : w) sum += (x = act(rng_));
    activity_.resize(o.customers);
    for (uint32_t u = 0; u < o.customers; ++u) {
      activity_[u] = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(w[u] / sum * o.purchases)));
    }
  }

  uint32_t Pick(const std::vector<double>& cdf) { return Pick(cdf, rng_); }
  static uint32_t Pick(const std::vector<double>& cdf, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.0, cdf.back());
    return static_cast<uint32_t>(std::upper_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
  }
  uint32_t Product(uint32_t customer) { return Product(customer, rng_); }
  // Const apart from `rng`: chunks of customers may be drawn in parallel,
  // each with its own generator.
  uint32_t Product(uint32_t customer, std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    uint32_t cat;
    const auto& t = tastes_[customer];
    if (!t.empty() && u01(rng) < o_.taste_share) {
      cat = t[static_cast<size_t>(u01(rng) * t.size()) % t.size()];
    } else {
      cat = Pick(category_cdf_, rng);
    }
    return members_[cat][Pick(cdf_[cat], rng)];
  }

  const SyntheticOptions& o_;
  std::mt19937_64 rng_;
  std::vector<uint32_t> category_;
  std::vector<std::vector<uint32_t>> members_;
  std::vector<std::vector<double>> cdf_;
  std::vector<double> category_cdf_;
  std::vector<float> price_;
  std::vector<std::vector<uint32_t>> tastes_;
  std::vector<uint64_t> activity_;
};


// One customer's events, drawn with `rng`, appended to `out` (unsorted).
void DrawCustomer(const Sampler& s, uint32_t u, std::mt19937_64& rng, std::vector<SyntheticEvent>* out) {
  const SyntheticOptions& o = s.o_;
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::geometric_distribution<uint32_t> qty(0.6);
  std::poisson_distribution<int> views(o.views_per_purchase > 0 ? o.views_per_purchase : 1.0);
  const int64_t span = std::max<int64_t>(1, o.days * 86400);
  for (uint64_t k = 0; k < s.activity_[u]; ++k) {
    const uint32_t p = s.Product(u, rng);
    const int64_t ts = o.start_time + static_cast<int64_t>(u01(rng) * span);
    const uint32_t q = 1 + qty(rng);
    if (o.views_per_purchase > 0) {
      int nv = views(rng);
      for (int v = 0; v < nv; ++v) {
        // Views land on products of the same tastes, a little earlier.
        out->push_back({u, s.Product(u, rng), std::max(o.start_time, ts - 3600 * (v + 1)), 1, 2});
      }
    }
    if (u01(rng) < o.cart_rate) out->push_back({u, p, std::max(o.start_time, ts - 600), q, 1});
    out->push_back({u, p, ts, q, 0});
    if (u01(rng) < o.return_rate) out->push_back({u, p, ts + 86400 * 7, q, 3});
  }
}

// Appends one event as a CSV line.
void AppendCsvLine(const SyntheticEvent& e, const std::vector<float>& price, std::string* out) {
  static constexpr const char* kTypes[] = {"purchase", "cart", "view", "return"};
  const int64_t days = e.timestamp / 86400, secs = e.timestamp % 86400;
  // civil_from_days (H. Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned dd = doy - (153 * mp + 2) / 5 + 1;
  const unsigned mm = mp < 10 ? mp + 3 : mp - 9;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400 + (mm <= 2);
  absl::StrAppendFormat(out, "c%u,p%u,%04d-%02u-%02uT%02d:%02d:%02dZ,%u,%.2f,%s\n", e.customer, e.product, yy, mm,
                        dd, secs / 3600, secs / 60 % 60, secs % 60, e.quantity, price[e.product], kTypes[e.type]);
}

constexpr char kCsvHeader[] = "customer_id,product_id,timestamp,quantity,price,event\n";

}  // namespace

std::string SyntheticCustomerId(uint32_t c) { return absl::StrCat("c", c); }
std::string SyntheticProductId(uint32_t p) { return absl::StrCat("p", p); }

SyntheticData GenerateSynthetic(const SyntheticOptions& o) {
  Sampler s(o);
  SyntheticData d;
  for (uint32_t u = 0; u < o.customers; ++u) DrawCustomer(s, u, s.rng_, &d.events);
  std::stable_sort(d.events.begin(), d.events.end(),
                   [](const SyntheticEvent& a, const SyntheticEvent& b) { return a.timestamp < b.timestamp; });
  d.product_category = s.category_;
  d.product_price = s.price_;
  d.tastes = s.tastes_;
  return d;
}

absl::StatusOr<uint64_t> WriteSyntheticCsvStreamed(const SyntheticOptions& o, const std::string& path,
                                                   const std::function<void(uint32_t)>& progress) {
  const Sampler s(o);
  AtomicFileWriter w;
  if (absl::Status st = w.Open(path); !st.ok()) return st;
  if (absl::Status st = w.Append(kCsvHeader); !st.ok()) return st;
  constexpr uint32_t kChunk = 16384;  // customers per chunk; each chunk has its own generator
  const uint32_t chunks = (o.customers + kChunk - 1) / kChunk;
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  const uint32_t window = static_cast<uint32_t>(std::max(1, threads) * 2);
  std::vector<std::string> text(window);
  uint64_t events = 0;
  for (uint32_t first = 0; first < chunks; first += window) {
    const uint32_t n = std::min(window, chunks - first);
    std::vector<uint64_t> counts(n, 0);
#pragma omp parallel for schedule(dynamic, 1)
    for (uint32_t j = 0; j < n; ++j) {
      const uint32_t chunk = first + j;
      std::seed_seq seq{o.seed, uint64_t{chunk}, uint64_t{0x5eed}};
      std::mt19937_64 rng(seq);
      std::vector<SyntheticEvent> ev;
      const uint32_t end = static_cast<uint32_t>(std::min<uint64_t>(o.customers, uint64_t{chunk + 1} * kChunk));
      for (uint32_t u = chunk * kChunk; u < end; ++u) DrawCustomer(s, u, rng, &ev);
      text[j].clear();
      text[j].reserve(ev.size() * 48);
      for (const SyntheticEvent& e : ev) AppendCsvLine(e, s.price_, &text[j]);
      counts[j] = ev.size();
    }
    for (uint32_t j = 0; j < n; ++j) {
      if (absl::Status st = w.Append(text[j]); !st.ok()) return st;
      events += counts[j];
    }
    if (progress) progress(std::min<uint32_t>(o.customers, (first + n) * kChunk));
  }
  if (absl::Status st = w.Commit(); !st.ok()) return st;
  return events;
}

absl::Status WriteSyntheticCsv(const SyntheticData& d, const std::string& path) {
  std::string out = kCsvHeader;
  out.reserve(d.events.size() * 48);
  for (const SyntheticEvent& e : d.events) AppendCsvLine(e, d.product_price, &out);
  return WriteFileAtomically(path, out);
}

absl::Status WriteSyntheticCatalog(const SyntheticOptions& o, const std::string& path) {
  const Sampler s(o);
  std::string out = "product_id,name,category,price,in_stock\n";
  out.reserve(static_cast<size_t>(o.products) * 40);
  for (uint32_t p = 0; p < o.products; ++p) {
    // One product in 20 is out of stock (a fixed pattern, so filters are reproducible).
    absl::StrAppendFormat(&out, "p%u,Product %u,cat%u,%.2f,%s\n", p, p, s.category_[p], s.price_[p],
                          p % 20 == 19 ? "false" : "true");
  }
  return WriteFileAtomically(path, out);
}

CsrMatrix SyntheticInteractionMatrix(const SyntheticOptions& o) {
  Sampler s(o);
  std::vector<Triplet> t;
  t.reserve(o.purchases + o.customers);
  for (uint32_t u = 0; u < o.customers; ++u) {
    for (uint64_t k = 0; k < s.activity_[u]; ++k) t.push_back({u, s.Product(u), 1.0f});
  }
  return BuildCsr(o.customers, o.products, t);
}

}  // namespace aisle
