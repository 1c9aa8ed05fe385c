#include "engine/cluster_index.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <omp.h>

namespace aisle {
namespace {

constexpr Eigen::Index kChunk = 512;   // rows assigned per step (a chunk x clusters score block)

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }

// Nearest centre (L2) of each row of `x` from `first` to `first + m`: the
// argmax of x.c - |c|^2 / 2 (the first on ties). The scores are row-major so
// that each row's argmax reads contiguous memory (column-major, every score
// read was a cache line of its own).
void Assign(const FactorRef& x, Eigen::Index first, Eigen::Index m, const FactorRef& centroids,
            const Eigen::VectorXf& half_norms, uint32_t* out) {
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> s(m, centroids.rows());
  s.noalias() = x.middleRows(first, m) * centroids.transpose();
  s.rowwise() -= half_norms.transpose();
  const Eigen::Index nc = s.cols();
  for (Eigen::Index i = 0; i < m; ++i) {
    // The maximum in vector registers, then the first index holding it.
    const float best_score = s.row(i).maxCoeff();
    const float* row = s.row(i).data();
    Eigen::Index best = 0;
    while (best + 1 < nc && row[best] != best_score) ++best;
    out[i] = static_cast<uint32_t>(best);
  }
}

// Assigns every row of `x` to its nearest centre on all threads; false when cancelled.
bool AssignAll(const FactorRef& x, const FactorRef& centroids, std::vector<uint32_t>* assignment,
               const std::atomic<bool>* cancel) {
  const Eigen::VectorXf half_norms = centroids.rowwise().squaredNorm() * 0.5f;
  const Eigen::Index n = x.rows();
  assignment->resize(static_cast<size_t>(n));
  const long chunks = static_cast<long>((n + kChunk - 1) / kChunk);
  std::atomic<bool> stopped{false};
#pragma omp parallel for schedule(dynamic, 1)
  for (long c = 0; c < chunks; ++c) {
    if (stopped.load(std::memory_order_relaxed)) continue;
    if (Cancelled(cancel)) {
      stopped = true;
      continue;
    }
    const Eigen::Index first = c * kChunk, m = std::min(kChunk, n - first);
    Assign(x, first, m, centroids, half_norms, assignment->data() + first);
  }
  return !stopped.load();
}

}  // namespace

absl::StatusOr<ClusterIndex> ClusterIndex::Build(const FactorRef& items, const BuildOptions& o,
                                                 const std::atomic<bool>* cancel) {
  ClusterIndex index;
  const size_t n = static_cast<size_t>(items.rows());
  const Eigen::Index k = items.cols();
  index.offsets_.assign(1, 0);
  if (n == 0) return index;
  const size_t nc = std::clamp<size_t>(o.clusters > 0 ? o.clusters : static_cast<size_t>(std::lround(std::sqrt(n))),
                                       1, n);
  std::mt19937_64 rng(o.seed);
  // The training sample: distinct random rows (a partial shuffle).
  const size_t ns = std::clamp<size_t>(o.sample, nc, n);
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  for (size_t i = 0; i < ns; ++i) {
    std::uniform_int_distribution<size_t> pick(i, n - 1);
    std::swap(perm[i], perm[pick(rng)]);
  }
  FactorMatrix sample(static_cast<Eigen::Index>(ns), k);
  for (size_t i = 0; i < ns; ++i) sample.row(static_cast<Eigen::Index>(i)) = items.row(perm[i]);
  FactorMatrix centroids = sample.topRows(static_cast<Eigen::Index>(nc));
  std::vector<uint32_t> assignment;
  for (int it = 0; it < o.iterations; ++it) {
    if (!AssignAll(sample, centroids, &assignment, cancel)) return absl::CancelledError("index build cancelled");
    Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nc), k);
    std::vector<size_t> counts(nc, 0);
    for (size_t i = 0; i < ns; ++i) {
      sums.row(assignment[i]) += sample.row(static_cast<Eigen::Index>(i)).cast<double>();
      ++counts[assignment[i]];
    }
    std::uniform_int_distribution<size_t> any(0, ns - 1);
    for (size_t j = 0; j < nc; ++j) {
      const Eigen::Index r = static_cast<Eigen::Index>(j);
      if (counts[j] > 0) {
        centroids.row(r) = (sums.row(r) / static_cast<double>(counts[j])).cast<float>();
      } else {
        centroids.row(r) = sample.row(static_cast<Eigen::Index>(any(rng)));  // an empty cluster restarts
      }
    }
  }
  if (!AssignAll(items, centroids, &assignment, cancel)) return absl::CancelledError("index build cancelled");

  // Rows in cluster order (a counting sort keeps product order within a cluster).
  index.offsets_.assign(nc + 1, 0);
  for (uint32_t a : assignment) ++index.offsets_[a + 1];
  for (size_t j = 0; j < nc; ++j) index.offsets_[j + 1] += index.offsets_[j];
  std::vector<uint32_t> next(index.offsets_.begin(), index.offsets_.end() - 1);
  index.ids_.resize(n);
  for (uint32_t p = 0; p < n; ++p) index.ids_[next[assignment[p]]++] = p;
  // Centres of the final clusters: their members' means.
  index.centroids_.setZero(static_cast<Eigen::Index>(nc), k);
#pragma omp parallel for schedule(dynamic, 16)
  for (long j = 0; j < static_cast<long>(nc); ++j) {
    const uint32_t b = index.offsets_[j], e = index.offsets_[j + 1];
    if (b == e) continue;
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(k);
    for (uint32_t r = b; r < e; ++r) sum += items.row(index.ids_[r]).cast<double>();
    index.centroids_.row(j) = (sum / static_cast<double>(e - b)).cast<float>();
  }
  index.Finish(items);
  return index;
}

void ClusterIndex::Finish(const FactorRef& items, bool unit_rows) {
  const size_t n = ids_.size(), nc = offsets_.size() - 1;
  items_.resize(static_cast<Eigen::Index>(n), items.cols());
#pragma omp parallel for schedule(static, 4096)
  for (long r = 0; r < static_cast<long>(n); ++r) {
    items_.row(r) = items.row(ids_[r]);
    if (unit_rows) {
      const float norm = items_.row(r).norm();
      if (norm > 0) items_.row(r) /= norm;
    }
  }
  radii_.assign(nc, 0.0f);
#pragma omp parallel for schedule(dynamic, 16)
  for (long j = 0; j < static_cast<long>(nc); ++j) {
    float r2 = 0;
    for (uint32_t i = offsets_[j]; i < offsets_[j + 1]; ++i) r2 = std::max(r2, (items_.row(i) - centroids_.row(j)).squaredNorm());
    radii_[j] = std::sqrt(r2);
  }
}

absl::StatusOr<ClusterIndex> ClusterIndex::FromClusters(const FactorRef& items, const ProductClusters& c,
                                                        const std::atomic<bool>* cancel, bool unit_rows) {
  const size_t n = static_cast<size_t>(items.rows());
  if (c.order.size() != n || c.offsets.empty() || c.offsets.front() != 0 || c.offsets.back() != n ||
      static_cast<size_t>(c.centroids.rows()) + 1 != c.offsets.size() || c.centroids.cols() != items.cols()) {
    return absl::InvalidArgumentError("the stored clusters do not fit the products");
  }
  for (size_t j = 0; j + 1 < c.offsets.size(); ++j) {
    if (c.offsets[j + 1] < c.offsets[j]) return absl::InvalidArgumentError("cluster offsets not ascending");
  }
  std::vector<char> seen(n, 0);
  for (uint32_t p : c.order) {
    if (p >= n || seen[p]) return absl::InvalidArgumentError("cluster order is not a permutation of the products");
    seen[p] = 1;
  }
  if (Cancelled(cancel)) return absl::CancelledError("index build cancelled");
  ClusterIndex index;
  index.ids_ = c.order;
  index.offsets_ = c.offsets;
  index.centroids_ = c.centroids;
  index.Finish(items, unit_rows);
  return index;
}

std::vector<uint32_t> ClusterIndex::ClusterOf(size_t products) const {
  std::vector<uint32_t> out(products, UINT32_MAX);
  for (size_t j = 0; j + 1 < offsets_.size(); ++j) {
    for (uint32_t r = offsets_[j]; r < offsets_[j + 1]; ++r) {
      if (ids_[r] < products) out[ids_[r]] = static_cast<uint32_t>(j);
    }
  }
  return out;
}

ClusterIndex ClusterIndex::Restrict(const FactorRef& items, absl::Span<const uint32_t> members,
                                    const std::vector<uint32_t>& cluster_of) const {
  const size_t nc = radii_.size();
  std::vector<std::pair<uint32_t, uint32_t>> by_cluster;  // (cluster, product)
  by_cluster.reserve(members.size());
  for (uint32_t p : members) {
    if (p < cluster_of.size() && cluster_of[p] != UINT32_MAX) by_cluster.push_back({cluster_of[p], p});
  }
  std::sort(by_cluster.begin(), by_cluster.end());
  ClusterIndex sub;
  sub.centroids_ = centroids_;
  sub.offsets_.assign(nc + 1, 0);
  sub.ids_.reserve(by_cluster.size());
  for (const auto& [c, p] : by_cluster) {
    ++sub.offsets_[c + 1];
    sub.ids_.push_back(p);
  }
  for (size_t j = 0; j < nc; ++j) sub.offsets_[j + 1] += sub.offsets_[j];
  sub.Finish(items);
  return sub;
}

ProductClusters ClusterIndex::ToClusters() const {
  ProductClusters c;
  c.order = ids_;
  c.offsets = offsets_;
  c.centroids = centroids_;
  return c;
}

size_t ClusterIndex::bytes() const {
  return static_cast<size_t>(items_.size() + centroids_.size()) * sizeof(float) +
         (ids_.size() + offsets_.size() + radii_.size()) * sizeof(uint32_t);
}

std::vector<ScoredItem> ClusterIndex::Search(const float* q, size_t count, absl::Span<const uint32_t> excluded,
                                             const std::function<bool(uint32_t)>& accept,
                                             const SearchOptions& o, SearchStats* stats) const {
  const size_t nc = radii_.size();
  if (count == 0 || nc == 0) return {};
  const Eigen::Index k = items_.cols();
  const Eigen::Map<const Eigen::VectorXf> qv(q, k);
  const float qn = qv.norm();
  // Upper bounds per cluster, with slack for float rounding of the scores
  // (a few ulps of |q| (|c| + r)) so that the exact stop is never early.
  thread_local Eigen::VectorXf bound;
  bound.noalias() = centroids_ * qv;
  std::vector<std::pair<float, uint32_t>> order;
  order.reserve(nc);
  for (size_t j = 0; j < nc; ++j) {
    if (offsets_[j] == offsets_[j + 1]) continue;
    const float r = radii_[j];
    const float slack = 1e-5f * qn * (centroids_.row(static_cast<Eigen::Index>(j)).norm() + r) + 1e-30f;
    order.push_back({bound[static_cast<Eigen::Index>(j)] + qn * r + slack, static_cast<uint32_t>(j)});
  }
  auto by_bound = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  // Most searches stop within the first few dozen clusters: sort those first.
  size_t sorted = std::min<size_t>(order.size(), 64);
  std::partial_sort(order.begin(), order.begin() + sorted, order.end(), by_bound);
  const size_t min_scanned =
      o.min_scanned > 0 ? o.min_scanned
                        : std::max<size_t>(ids_.size() / 50, 16 * (ids_.size() / std::max<size_t>(1, nc)));
  TopKCollector top(count, excluded);
  thread_local std::vector<float> scores;
  size_t scanned = 0, visited = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == sorted) {
      std::sort(order.begin() + sorted, order.end(), by_bound);
      sorted = order.size();
    }
    const float threshold = top.threshold();
    if (threshold > -INFINITY) {
      if (order[i].first < threshold) break;        // nothing further can enter
      if (!o.exact && scanned >= min_scanned) break;  // approximate: the budget is spent
    }
    const uint32_t j = order[i].second, b = offsets_[j], e = offsets_[j + 1];
    scores.resize(e - b);
    Eigen::Map<Eigen::VectorXf>(scores.data(), e - b).noalias() = items_.middleRows(b, e - b) * qv;
    for (uint32_t r = b; r < e; ++r) {
      const float s = scores[r - b];
      if (!(s >= top.threshold())) continue;
      const uint32_t id = ids_[r];
      if (accept && !accept(id)) continue;
      top.Offer(id, s);
    }
    scanned += e - b;
    ++visited;
  }
  if (stats != nullptr) {
    stats->clusters = visited;
    stats->scanned = scanned;
  }
  return top.Take();
}

}  // namespace aisle
