#include "evaluation/ncf_protocol.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/mapped_file.h"

namespace aisle {

absl::StatusOr<std::vector<NcfCase>> ReadNcfCases(const std::string& negative_path,
                                                  const std::string& test_rating_path) {
  auto file = MappedFile::Open(negative_path);
  if (!file.ok()) return file.status();
  std::vector<NcfCase> cases;
  uint64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(file->data(), '\n')) {
    ++line_no;
    line = absl::StripSuffix(line, "\r");
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    absl::string_view head = f[0];
    if (!absl::ConsumePrefix(&head, "(") || !absl::ConsumeSuffix(&head, ")")) {
      return absl::InvalidArgumentError(
          absl::StrCat(negative_path, ":", line_no, ": expected '(user,item)' first, got '", f[0], "'"));
    }
    std::vector<absl::string_view> ui = absl::StrSplit(head, ',');
    if (ui.size() != 2 || ui[0].empty() || ui[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(negative_path, ":", line_no, ": bad '(user,item)'"));
    }
    NcfCase c{std::string(ui[0]), std::string(ui[1]), {}};
    for (size_t i = 1; i < f.size(); ++i) {
      if (f[i].empty()) {
        return absl::InvalidArgumentError(absl::StrCat(negative_path, ":", line_no, ": empty negative"));
      }
      c.negatives.emplace_back(f[i]);
    }
    if (c.negatives.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(negative_path, ":", line_no, ": no negatives"));
    }
    cases.push_back(std::move(c));
  }
  if (test_rating_path.empty()) return cases;
  auto test = MappedFile::Open(test_rating_path);
  if (!test.ok()) return test.status();
  size_t i = 0;
  line_no = 0;
  for (absl::string_view line : absl::StrSplit(test->data(), '\n')) {
    ++line_no;
    line = absl::StripSuffix(line, "\r");
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (f.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(test_rating_path, ":", line_no, ": expected user, item, ..."));
    }
    if (i >= cases.size() || f[0] != cases[i].user || f[1] != cases[i].test_item) {
      return absl::InvalidArgumentError(absl::StrCat(
          test_rating_path, ":", line_no, ": (", f[0], ",", f[1], ") does not match line ", i + 1,
          " of ", negative_path));
    }
    ++i;
  }
  if (i != cases.size()) {
    return absl::InvalidArgumentError(absl::StrCat(test_rating_path, " has ", i, " test ratings, ",
                                                   negative_path, " has ", cases.size(), " lines"));
  }
  return cases;
}

NcfResult EvaluateNcf(const Model& model, const Scorer& scorer, const std::vector<NcfCase>& cases, int k) {
  NcfResult r;
  r.k = k;
  r.users = cases.size();
  r.per_user_hit.assign(cases.size(), 0);
  r.per_user_ndcg.assign(cases.size(), 0);
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  uint64_t unknown_users = 0, unknown_tests = 0, unknown_negs = 0, dup = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : unknown_users, unknown_tests, unknown_negs, dup)
  for (size_t n = 0; n < cases.size(); ++n) {
    const NcfCase& c = cases[n];
    auto user = model.customers.Find(c.user);
    if (!user) {
      ++unknown_users;
      continue;
    }
    auto test = model.products.Find(c.test_item);
    float test_score = kLowest;
    if (test) {
      scorer.Score(*user, absl::MakeConstSpan(&*test, 1), &test_score);
    } else {
      ++unknown_tests;
    }
    std::vector<uint32_t> known;
    std::vector<std::string_view> seen;
    uint64_t unknown_here = 0;
    for (const std::string& neg : c.negatives) {
      if (neg == c.test_item) {
        ++dup;
        continue;
      }
      bool repeat = false;
      for (auto s : seen) repeat |= s == neg;
      if (repeat) continue;
      seen.push_back(neg);
      auto idx = model.products.Find(neg);
      if (idx) {
        known.push_back(*idx);
      } else {
        ++unknown_here;
      }
    }
    unknown_negs += unknown_here;
    std::vector<float> scores(known.size());
    scorer.Score(*user, known, scores.data());
    uint64_t above = 0;
    for (float s : scores) above += s >= test_score;
    if (!test) above += unknown_here;  // lowest against lowest: a tie, counted against
    const uint64_t rank = 1 + above;
    if (rank <= static_cast<uint64_t>(k)) {
      r.per_user_hit[n] = 1;
      r.per_user_ndcg[n] = static_cast<float>(std::log(2.0) / std::log(rank + 1.0));
    }
  }
  r.unknown_users = unknown_users;
  r.unknown_test_items = unknown_tests;
  r.unknown_negatives = unknown_negs;
  r.test_item_in_negatives = dup;
  double hr = 0, nd = 0;
  for (size_t n = 0; n < cases.size(); ++n) {
    hr += r.per_user_hit[n];
    nd += r.per_user_ndcg[n];
  }
  if (!cases.empty()) {
    r.hit_rate = hr / cases.size();
    r.ndcg = nd / cases.size();
  }
  return r;
}

}  // namespace aisle
