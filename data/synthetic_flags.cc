#include "data/synthetic_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(uint32_t, customers, 2000, "Customers.");
ABSL_FLAG(uint32_t, products, 1000, "Products.");
ABSL_FLAG(uint32_t, categories, 20, "Product categories.");
ABSL_FLAG(uint64_t, purchases, 40000, "Purchase events in total.");
ABSL_FLAG(uint32_t, tastes, 2, "Favourite categories per customer.");
ABSL_FLAG(double, taste_share, 0.9, "Share of purchases from a customer's favourite categories.");
ABSL_FLAG(double, popularity_exponent, 1.0, "Zipf exponent of popularity within a category.");
ABSL_FLAG(double, views_per_purchase, 0.0, "Extra view events per purchase, on average.");
ABSL_FLAG(double, cart_rate, 0.0, "Probability of a cart event before a purchase.");
ABSL_FLAG(double, return_rate, 0.0, "Probability that a purchase is returned.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed of the store.");

namespace aisle {

SyntheticOptions SyntheticOptionsFromFlags() {
  SyntheticOptions o;
  o.customers = absl::GetFlag(FLAGS_customers);
  o.products = absl::GetFlag(FLAGS_products);
  o.categories = absl::GetFlag(FLAGS_categories);
  o.purchases = absl::GetFlag(FLAGS_purchases);
  o.tastes_per_customer = absl::GetFlag(FLAGS_tastes);
  o.taste_share = absl::GetFlag(FLAGS_taste_share);
  o.popularity_exponent = absl::GetFlag(FLAGS_popularity_exponent);
  o.views_per_purchase = absl::GetFlag(FLAGS_views_per_purchase);
  o.cart_rate = absl::GetFlag(FLAGS_cart_rate);
  o.return_rate = absl::GetFlag(FLAGS_return_rate);
  o.seed = absl::GetFlag(FLAGS_seed);
  return o;
}

}  // namespace aisle
