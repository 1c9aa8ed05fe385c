#include "engine/offer_catalog.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/atomic_file.h"
#include "engine/json_text.h"

namespace aisle {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxIdLength = 256;

// Reads one offer object; errors carry no location (the caller adds it).
class OfferReader {
 public:
  explicit OfferReader(const json& j) : j_(j) {}

  absl::Status CheckKeys(std::initializer_list<const char*> allowed) const {
    for (const auto& item : j_.items()) {
      const std::string& key = item.key();
      if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown field '", key, "'"));
      }
    }
    return absl::OkStatus();
  }
  bool Has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  absl::Status String(const char* key, bool required, std::string* out) const {
    if (!Has(key)) return required ? Missing(key) : absl::OkStatus();
    const json& v = j_.at(key);
    if (!v.is_string()) return Mistyped(key, "a string");
    *out = v.get<std::string>();
    if (required && out->empty()) return absl::InvalidArgumentError(absl::StrCat("'", key, "' is empty"));
    return absl::OkStatus();
  }
  absl::Status Strings(const char* key, std::vector<std::string>* out) const {
    if (!Has(key)) return absl::OkStatus();
    const json& v = j_.at(key);
    if (!v.is_array()) return Mistyped(key, "an array of strings");
    for (const json& s : v) {
      if (!s.is_string() || s.get_ref<const std::string&>().empty()) return Mistyped(key, "an array of non-empty strings");
      out->push_back(s.get<std::string>());
    }
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return absl::OkStatus();
  }
  absl::Status Number(const char* key, double* out) const {
    if (!Has(key)) return absl::OkStatus();
    const json& v = j_.at(key);
    if (!v.is_number()) return Mistyped(key, "a number");
    *out = v.get<double>();
    if (!std::isfinite(*out)) return Mistyped(key, "a finite number");
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool* out) const {
    if (!Has(key)) return absl::OkStatus();
    const json& v = j_.at(key);
    if (!v.is_boolean()) return Mistyped(key, "true or false");
    *out = v.get<bool>();
    return absl::OkStatus();
  }
  absl::Status Time(const char* key, absl::Time* out) const {
    if (!Has(key)) return absl::OkStatus();
    const json& v = j_.at(key);
    std::optional<absl::Time> t;
    if (v.is_string()) t = ParseOfferTime(v.get<std::string>());
    if (v.is_number_integer()) t = absl::FromUnixSeconds(v.get<int64_t>());
    if (!t) return Mistyped(key, "a date, an RFC 3339 time or Unix seconds");
    *out = *t;
    return absl::OkStatus();
  }

 private:
  static absl::Status Missing(const char* key) {
    return absl::InvalidArgumentError(absl::StrCat("missing '", key, "'"));
  }
  static absl::Status Mistyped(const char* key, const char* what) {
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be ", what));
  }
  const json& j_;
};

#define AISLE_RETURN_IF_ERROR(expr)            \
  do {                                         \
    if (absl::Status _s = (expr); !_s.ok()) return _s; \
  } while (0)

absl::Status ReadOffer(const json& j, Offer* o) {
  if (!j.is_object()) return absl::InvalidArgumentError("an offer must be a JSON object");
  OfferReader r(j);
  AISLE_RETURN_IF_ERROR(r.CheckKeys({"id", "title", "description", "products", "categories", "discount",
                                     "valid_from", "valid_until", "eligibility", "weight",
                                     "max_impressions_per_customer", "repurchasable"}));
  AISLE_RETURN_IF_ERROR(r.String("id", true, &o->id));
  if (o->id.size() > kMaxIdLength) return absl::InvalidArgumentError(absl::StrCat("id longer than ", kMaxIdLength));
  AISLE_RETURN_IF_ERROR(r.String("title", true, &o->title));
  std::string description;
  AISLE_RETURN_IF_ERROR(r.String("description", false, &description));
  AISLE_RETURN_IF_ERROR(r.Strings("products", &o->products));
  AISLE_RETURN_IF_ERROR(r.Strings("categories", &o->categories));
  if (o->products.empty() && o->categories.empty()) {
    return absl::InvalidArgumentError("applies to nothing: give 'products' and/or 'categories'");
  }
  if (!r.Has("discount")) return absl::InvalidArgumentError("missing 'discount'");
  const json& d = j.at("discount");
  if (!d.is_object()) return absl::InvalidArgumentError("'discount' must be {\"percent\": p} or {\"amount\": a}");
  OfferReader dr(d);
  AISLE_RETURN_IF_ERROR(dr.CheckKeys({"percent", "amount", "currency"}));
  if (dr.Has("percent") == dr.Has("amount")) {
    return absl::InvalidArgumentError("'discount' needs exactly one of 'percent' and 'amount'");
  }
  if (dr.Has("percent")) {
    o->discount_kind = Offer::DiscountKind::kPercent;
    AISLE_RETURN_IF_ERROR(dr.Number("percent", &o->discount));
    if (!(o->discount > 0 && o->discount <= 100)) return absl::InvalidArgumentError("discount percent must be in (0, 100]");
  } else {
    o->discount_kind = Offer::DiscountKind::kAmount;
    AISLE_RETURN_IF_ERROR(dr.Number("amount", &o->discount));
    if (!(o->discount > 0)) return absl::InvalidArgumentError("discount amount must be > 0");
  }
  AISLE_RETURN_IF_ERROR(dr.String("currency", false, &o->currency));
  AISLE_RETURN_IF_ERROR(r.Time("valid_from", &o->valid_from));
  AISLE_RETURN_IF_ERROR(r.Time("valid_until", &o->valid_until));
  if (!(o->valid_from < o->valid_until)) return absl::InvalidArgumentError("'valid_until' is not after 'valid_from'");
  if (r.Has("eligibility")) {
    const json& e = j.at("eligibility");
    if (!e.is_object()) return absl::InvalidArgumentError("'eligibility' must be an object");
    OfferReader er(e);
    AISLE_RETURN_IF_ERROR(er.CheckKeys({"countries", "channels", "segments", "new_customers_only"}));
    AISLE_RETURN_IF_ERROR(er.Strings("countries", &o->countries));
    AISLE_RETURN_IF_ERROR(er.Strings("channels", &o->channels));
    AISLE_RETURN_IF_ERROR(er.Strings("segments", &o->segments));
    AISLE_RETURN_IF_ERROR(er.Bool("new_customers_only", &o->new_customers_only));
  }
  AISLE_RETURN_IF_ERROR(r.Number("weight", &o->weight));
  if (!(o->weight > 0) || o->weight > 1e6) return absl::InvalidArgumentError("'weight' must be in (0, 1e6]");
  if (r.Has("max_impressions_per_customer")) {
    const json& m = j.at("max_impressions_per_customer");
    if (!m.is_number_integer() || m.get<int64_t>() < 1 || m.get<int64_t>() > UINT32_MAX) {
      return absl::InvalidArgumentError("'max_impressions_per_customer' must be a positive integer");
    }
    o->max_impressions = static_cast<uint32_t>(m.get<int64_t>());
  }
  AISLE_RETURN_IF_ERROR(r.Bool("repurchasable", &o->repurchasable));
  return absl::OkStatus();
}

bool ContainsSorted(const std::vector<std::string>& sorted, const std::string& s) {
  return std::binary_search(sorted.begin(), sorted.end(), s);
}

}  // namespace

bool IsEligible(const Offer& o, const OfferAudience& a) {
  if (!o.countries.empty() && (a.country.empty() || !ContainsSorted(o.countries, a.country))) return false;
  if (!o.channels.empty() && (a.channel.empty() || !ContainsSorted(o.channels, a.channel))) return false;
  if (!o.segments.empty() &&
      std::none_of(a.segments.begin(), a.segments.end(), [&](const std::string& s) { return ContainsSorted(o.segments, s); })) {
    return false;
  }
  if (o.new_customers_only && !a.new_customer) return false;
  return true;
}

std::optional<absl::Time> ParseOfferTime(absl::string_view s) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err)) return t;
  int64_t secs;
  if (absl::SimpleAtoi(s, &secs)) return absl::FromUnixSeconds(secs);
  return std::nullopt;
}

absl::StatusOr<OfferCatalog> OfferCatalog::Load(const std::string& path) {
  std::string data;
  if (absl::Status s = ReadFileToString(path, &data, kMaxOfferFileBytes); !s.ok()) return s;
  return Parse(data, path);
}

absl::StatusOr<OfferCatalog> OfferCatalog::Parse(absl::string_view data, const std::string& name) {
  auto parsed = ParseJsonText(data);  // every parser exception (1e400 included) caught, depth bounded
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": not valid JSON: ", parsed.status().message()));
  const json root = *std::move(parsed);
  auto fail = [&](const std::string& where, const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", where, s.message()));
  };
  if (!root.is_object()) return fail("", absl::InvalidArgumentError("the top level must be an object with \"offers\""));
  OfferReader top(root);
  if (absl::Status s = top.CheckKeys({"offers", "repurchasable_products", "repurchasable_categories", "version",
                                      "description"});
      !s.ok()) {
    return fail("", s);
  }
  if (!top.Has("offers") || !root.at("offers").is_array()) {
    return fail("", absl::InvalidArgumentError("'offers' must be an array"));
  }
  OfferCatalog c;
  std::vector<std::string> rp, rc;
  if (absl::Status s = top.Strings("repurchasable_products", &rp); !s.ok()) return fail("", s);
  if (absl::Status s = top.Strings("repurchasable_categories", &rc); !s.ok()) return fail("", s);
  c.repurchasable_products_.insert(rp.begin(), rp.end());
  c.repurchasable_categories_.insert(rc.begin(), rc.end());
  const json& offers = root.at("offers");
  for (size_t i = 0; i < offers.size(); ++i) {
    Offer o;
    std::string where = absl::StrCat("offers[", i, "]");
    if (offers[i].is_object() && offers[i].contains("id") && offers[i]["id"].is_string()) {
      absl::StrAppend(&where, " (id '", offers[i]["id"].get<std::string>(), "')");
    }
    absl::StrAppend(&where, ": ");
    if (absl::Status s = ReadOffer(offers[i], &o); !s.ok()) return fail(where, s);
    if (!c.index_.try_emplace(o.id, static_cast<uint32_t>(c.offers_.size())).second) {
      return fail(where, absl::InvalidArgumentError("duplicate id"));
    }
    c.offers_.push_back(std::move(o));
  }
  return c;
}

}  // namespace aisle
