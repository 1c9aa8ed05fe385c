#include "engine/model.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace aisle {

absl::Status Model::Validate(bool loaded) const {
  auto fail = [loaded](std::string msg) {
    return loaded ? absl::DataLossError(msg) : absl::InvalidArgumentError(msg);
  };
  const size_t nc = customers.size();
  const size_t np = products.size();
  if (static_cast<size_t>(user_factors.rows()) != nc) {
    return fail(absl::StrCat("user factors have ", user_factors.rows(), " rows for ", nc, " customers"));
  }
  if (static_cast<size_t>(item_factors.rows()) != np) {
    return fail(absl::StrCat("item factors have ", item_factors.rows(), " rows for ", np, " products"));
  }
  if (user_factors.cols() != item_factors.cols()) {
    return fail(absl::StrCat("user factors have ", user_factors.cols(), " columns, item factors ",
                             item_factors.cols()));
  }
  if (item_factors.cols() == 0) return fail("model has zero factors");
  if (!user_factors.allFinite()) return fail("user factors contain NaN or infinity");
  if (!item_factors.allFinite()) return fail("item factors contain NaN or infinity");
  if (item_popularity.size() != np) {
    return fail(absl::StrCat("popularity has ", item_popularity.size(), " entries for ", np, " products"));
  }
  if (purchased.rows != nc || purchased.cols != np || purchased.indptr.size() != nc + 1) {
    return fail(absl::StrCat("purchase matrix is ", purchased.rows, "x", purchased.cols,
                             ", expected ", nc, "x", np));
  }
  if (purchased.indptr[0] != 0 || purchased.indptr[nc] != purchased.indices.size()) {
    return fail("purchase matrix row pointers do not span its entries");
  }
  for (size_t r = 0; r < nc; ++r) {
    uint64_t b = purchased.indptr[r], e = purchased.indptr[r + 1];
    if (e < b || e > purchased.indices.size()) return fail("purchase matrix row pointers not monotone");
    for (uint64_t p = b; p < e; ++p) {
      if (purchased.indices[p] >= np) return fail("purchase matrix product index out of range");
      if (p > b && purchased.indices[p] <= purchased.indices[p - 1]) {
        return fail("purchase matrix row not sorted");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace aisle
