// OfferCatalog: the store's promotions (coupons, discounts, bundles) as read
// from the offer catalog file (JSON; data/FORMATS.md, "Offer catalog"):
// what each offer applies to (products and/or product categories), its
// discount, validity window, eligibility rules, value weight and cap on
// impressions per customer, plus which products may drive an offer even
// when the customer has bought them (repurchasable).
// Parse() validates everything up front and names the file, the offer and
// the reason on the first problem, so a bad catalog is refused as a whole.
// Immutable once loaded; concurrent reads are safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace aisle {

inline constexpr size_t kMaxOfferFileBytes = size_t{256} << 20;

struct Offer {
  std::string id;
  std::string title;
  std::vector<std::string> products;    // product ids it applies to
  std::vector<std::string> categories;  // and/or every product of these categories
  enum class DiscountKind { kPercent, kAmount } discount_kind = DiscountKind::kPercent;
  double discount = 0;                  // percent in (0, 100], or an amount > 0
  std::string currency;                 // for amounts, optional
  absl::Time valid_from = absl::InfinitePast();     // inclusive
  absl::Time valid_until = absl::InfiniteFuture();  // exclusive
  // Eligibility: an empty list means anyone. A request that does not say its
  // country (channel) is not eligible for an offer restricted by country (channel).
  std::vector<std::string> countries;
  std::vector<std::string> channels;
  std::vector<std::string> segments;    // the customer must be in one of these
  bool new_customers_only = false;      // customers without purchases in the model
  double weight = 1.0;                  // value weight (priority), > 0
  uint32_t max_impressions = 0;         // per customer; 0: no cap
  bool repurchasable = false;           // bought products may drive this offer

  bool ValidAt(absl::Time t) const { return valid_from <= t && t < valid_until; }
};

// Who asks, for eligibility.
struct OfferAudience {
  std::string country;                  // empty: unknown
  std::string channel;                  // empty: unknown
  std::vector<std::string> segments;
  bool new_customer = false;
};

bool IsEligible(const Offer& offer, const OfferAudience& audience);

class OfferCatalog {
 public:
  // NotFound when missing; InvalidArgument naming the file and the offer for
  // malformed JSON, a missing or mistyped field, an unknown field, a
  // duplicate id, an empty offer or an inverted validity window.
  // A regular file of at most kMaxOfferFileBytes (OutOfRange past it).
  static absl::StatusOr<OfferCatalog> Load(const std::string& path);
  static absl::StatusOr<OfferCatalog> Parse(absl::string_view data, const std::string& name);

  absl::Span<const Offer> offers() const { return offers_; }
  // Index of an offer id, or nullopt.
  std::optional<uint32_t> Find(absl::string_view id) const {
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  bool IsRepurchasableProduct(absl::string_view product_id) const {
    return repurchasable_products_.contains(product_id);
  }
  bool IsRepurchasableCategory(absl::string_view category) const {
    return repurchasable_categories_.contains(category);
  }

 private:
  std::vector<Offer> offers_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  absl::flat_hash_set<std::string> repurchasable_products_;
  absl::flat_hash_set<std::string> repurchasable_categories_;
};

// "2026-11-23", "2026-11-23T10:00:00Z", "2026-11-23T10:00:00+01:00" or Unix
// seconds. nullopt otherwise.
std::optional<absl::Time> ParseOfferTime(absl::string_view s);

}  // namespace aisle
