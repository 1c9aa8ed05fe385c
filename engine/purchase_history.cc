#include "engine/purchase_history.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace aisle {

double RecencyWeight(double age_days) { return std::exp2(-age_days / kRecentHalfLifeDays); }

absl::Status PurchaseHistory::Validate(const CsrMatrix& purchased) const {
  if (empty()) return absl::OkStatus();
  const uint64_t nnz = purchased.nnz();
  if (days.size() != nnz || first_day.size() != nnz || last_day.size() != nnz || recent.size() != nnz) {
    return absl::InvalidArgumentError(absl::StrCat("purchase history holds ", days.size(), " pairs, the purchases ", nnz));
  }
  if (customer_days.size() != purchased.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("purchase history holds ", customer_days.size(), " customers, the purchases ", purchased.rows));
  }
  for (uint32_t c = 0; c < purchased.rows; ++c) {
    for (uint64_t p = purchased.indptr[c]; p < purchased.indptr[c + 1]; ++p) {
      const int64_t span = static_cast<int64_t>(last_day[p]) - first_day[p] + 1;
      if (days[p] == 0 || span < 1 || days[p] > span || days[p] > customer_days[c] || !(recent[p] >= 0) ||
          !(recent[p] <= 1e9f) || last_day[p] > reference_day) {
        return absl::InvalidArgumentError(absl::StrCat("purchase history of customer ", c, " pair ", p - purchased.indptr[c],
                                                       ": ", days[p], " days from day ", first_day[p], " to ",
                                                       last_day[p], " (the customer's: ", customer_days[c], ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace aisle
