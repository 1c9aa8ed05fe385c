#include "evaluation/bootstrap.h"

#include <algorithm>
#include <cmath>

#include "engine/splitmix64.h"

namespace aisle {

PairedDifference PairedBootstrap(absl::Span<const float> a, absl::Span<const float> b, int resamples,
                                 uint64_t seed, double confidence) {
  PairedDifference r;
  const size_t n = std::min(a.size(), b.size());
  r.n = n;
  if (n == 0) return r;
  std::vector<double> d(n);
  double sa = 0, sb = 0;
  for (size_t i = 0; i < n; ++i) {
    sa += a[i];
    sb += b[i];
    d[i] = static_cast<double>(b[i]) - a[i];
  }
  r.mean_a = sa / n;
  r.mean_b = sb / n;
  r.diff = r.mean_b - r.mean_a;
  resamples = std::max(resamples, 1);
  std::vector<double> means(resamples);
#pragma omp parallel for schedule(static)
  for (int rep = 0; rep < resamples; ++rep) {
    // An independent stream per replicate: offsets of one SplitMix sequence
    // would make replicate r+1 replay replicate r's draws shifted by one.
    uint64_t state = seed ^ 0xA0761D6478BD642Full;
    state = SplitMix64Next(&state) ^ (static_cast<uint64_t>(rep) * 0xE7037ED1A0B428DBull);
    state = SplitMix64Next(&state) ^ n;
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
      // Lemire's multiply-shift maps 64 random bits onto [0, n).
      const size_t j = static_cast<size_t>((static_cast<unsigned __int128>(SplitMix64Next(&state)) * n) >> 64);
      s += d[j];
    }
    means[rep] = s / n;
  }
  std::sort(means.begin(), means.end());
  const double tail = (1 - confidence) / 2;
  auto quantile = [&](double q) {
    const double pos = q * (resamples - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min<size_t>(lo + 1, resamples - 1);
    return means[lo] + (pos - lo) * (means[hi] - means[lo]);
  };
  r.ci_low = quantile(tail);
  r.ci_high = quantile(1 - tail);
  const double at_or_below = std::upper_bound(means.begin(), means.end(), 0.0) - means.begin();
  const double at_or_above = means.end() - std::lower_bound(means.begin(), means.end(), 0.0);
  // All-equal pairs: no evidence of any difference.
  if (r.diff == 0 && means.front() == 0 && means.back() == 0) {
    r.p_value = 1;
  } else {
    r.p_value = std::min(1.0, 2 * (std::min(at_or_below, at_or_above) + 1) / (resamples + 1));
  }
  return r;
}

}  // namespace aisle
