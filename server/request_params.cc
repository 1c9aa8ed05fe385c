#include "server/request_params.h"

#include <cfloat>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/json_text.h"
#include "engine/utf8.h"

namespace aisle {

using json = nlohmann::json;

void Fail(int status, std::string code, std::string message) {
  throw HttpError{status, std::move(code), std::move(message)};
}

int HttpStatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

std::string ErrorCodeForStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return "invalid_argument";
    case absl::StatusCode::kNotFound: return "not_found";
    case absl::StatusCode::kUnavailable: return "unavailable";
    default: return "internal";
  }
}

void FailStatus(const absl::Status& s) { Fail(HttpStatusFor(s), ErrorCodeForStatus(s), std::string(s.message())); }

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    if (!absl::ascii_isxdigit(s[i + 1]) || !absl::ascii_isxdigit(s[i + 2])) return std::nullopt;
    int v = 0;
    for (int j = 1; j <= 2; ++j) {
      const char c = s[i + j];
      v = v * 16 + (absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

namespace {

std::string DecodeOrFail(absl::string_view raw, absl::string_view what) {
  auto v = PercentDecode(raw);
  if (!v) Fail(400, "invalid_argument", absl::StrCat("malformed percent-encoding in ", what));
  if (!IsValidUtf8(*v)) Fail(400, "invalid_argument", absl::StrCat(what, " is not valid UTF-8"));
  return *std::move(v);
}

void CheckIds(const std::string& name, const std::vector<std::string>& v, size_t max_items, size_t max_len) {
  if (v.size() > max_items) Fail(400, "invalid_argument", absl::StrCat("'", name, "' has more than ", max_items, " items"));
  for (const auto& s : v) {
    if (s.size() > max_len) Fail(400, "invalid_argument", absl::StrCat("an id in '", name, "' is longer than ", max_len));
    if (!IsPrintableUtf8(s)) {
      Fail(400, "invalid_argument", absl::StrCat("an id in '", name, "' is not printable UTF-8"));
    }
  }
}

}  // namespace

Params Params::FromQuery(absl::string_view query) {
  Params p;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string key = DecodeOrFail(pair.substr(0, eq), "a query parameter name");
    std::string value = eq == absl::string_view::npos ? "" : DecodeOrFail(pair.substr(eq + 1), "a query parameter");
    p.query_.try_emplace(std::move(key), std::move(value));  // the first of repeated names
  }
  return p;
}

std::optional<std::string> Params::String(const std::string& name) const {
  if (body_ == nullptr) {
    auto it = query_.find(name);
    if (it == query_.end()) return std::nullopt;
    return it->second;
  }
  auto it = body_->find(name);
  if (it == body_->end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be a string, number or boolean"));
}

std::vector<std::string> Params::List(const std::string& name, size_t max_items, size_t max_len) const {
  std::vector<std::string> out;
  if (body_ != nullptr) {
    auto it = body_->find(name);
    if (it != body_->end() && it->is_array()) {
      if (it->size() > max_items) {
        Fail(400, "invalid_argument", absl::StrCat("'", name, "' has more than ", max_items, " items"));
      }
      for (const auto& v : *it) {
        if (!v.is_string()) Fail(400, "invalid_argument", absl::StrCat("'", name, "' must hold strings"));
        out.push_back(v.get<std::string>());
      }
      CheckIds(name, out, max_items, max_len);
      return out;
    }
  }
  if (auto s = String(name)) {
    for (absl::string_view part : absl::StrSplit(*s, ',', absl::SkipEmpty())) {
      if (out.size() == max_items) {
        Fail(400, "invalid_argument", absl::StrCat("'", name, "' has more than ", max_items, " items"));
      }
      out.emplace_back(part);
    }
  }
  CheckIds(name, out, max_items, max_len);
  return out;
}

std::optional<double> Params::Number(const std::string& name, bool as_float) const {
  auto s = String(name);
  if (!s) return std::nullopt;
  double v;
  if (!absl::SimpleAtod(*s, &v) || !std::isfinite(v) || (as_float && std::fabs(v) > FLT_MAX)) {
    Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be a finite number"));
  }
  return v;
}

bool Params::Bool(const std::string& name, bool def) const {
  auto s = String(name);
  if (!s) return def;
  if (*s == "true" || *s == "1") return true;
  if (*s == "false" || *s == "0") return false;
  Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be true or false"));
}

std::string PathId(const HttpRequest& req, size_t max_len) {
  const std::string* raw = req.Param(":id");
  if (raw == nullptr) Fail(400, "invalid_argument", "no id in the path");
  auto id = PercentDecode(*raw);
  if (!id) Fail(400, "invalid_argument", "malformed percent-encoding in the id");
  if (id->empty()) Fail(400, "invalid_argument", "empty id");
  if (id->size() > max_len) Fail(400, "invalid_argument", absl::StrCat("id longer than ", max_len));
  if (!IsPrintableUtf8(*id)) Fail(400, "invalid_argument", "the id is not printable UTF-8");
  return *std::move(id);
}

json ParseBody(const HttpRequest& req, size_t limit, bool object) {
  if (req.body.size() > limit) Fail(413, "payload_too_large", absl::StrCat("body over ", limit, " bytes"));
  // Invalid UTF-8, numbers out of range, deep nesting and bad syntax are all refused.
  auto body = ParseJsonText(req.body);
  if (!body.ok()) Fail(400, "invalid_json", absl::StrCat("the body is not valid JSON: ", body.status().message()));
  if (object && !body->is_object()) Fail(400, "invalid_json", "the body must be a JSON object");
  return *std::move(body);
}

size_t CountParam(const Params& p, size_t def, size_t max_count) {
  auto c = p.Number("count");
  if (!c) return def;
  if (*c < 1 || *c > static_cast<double>(max_count) || *c != std::floor(*c)) {
    Fail(400, "invalid_argument", absl::StrCat("count must be an integer in [1, ", max_count, "]"));
  }
  return static_cast<size_t>(*c);
}

RecommendOptions OptionsFrom(const Params& p, size_t max_count, size_t max_id) {
  RecommendOptions o;
  o.count = CountParam(p, o.count, max_count);
  o.categories = p.List("category", max_count, max_id);
  o.exclude_categories = p.List("exclude_category", max_count, max_id);
  if (auto v = p.Number("min_price", /*as_float=*/true)) o.min_price = static_cast<float>(*v);
  if (auto v = p.Number("max_price", /*as_float=*/true)) o.max_price = static_cast<float>(*v);
  o.in_stock_only = p.Bool("in_stock", false);
  o.exclude = p.List("exclude", max_count, max_id);
  o.explain = p.Bool("explain", false);
  // Products bought before: shown when due (default, with a model that
  // learnt buy-again), all excluded, or only they (mode=buy_again).
  if (std::optional<std::string> v = p.String("exclude_purchased")) {
    if (*v == "all") {
      o.purchased = PurchasedProducts::kAll;
    } else if (*v != "due") {
      Fail(400, "invalid_argument", "'exclude_purchased' must be 'due' or 'all'");
    }
  }
  if (std::optional<std::string> v = p.String("mode")) {
    if (*v == "buy_again") {
      o.purchased = PurchasedProducts::kOnly;
    } else if (*v != "default") {
      Fail(400, "invalid_argument", "'mode' must be 'default' or 'buy_again'");
    }
  }
  return o;
}

std::string VisitorId(const Params& p, size_t max_len) {
  for (const char* name : {"visitor_id", "customer_id"}) {
    std::optional<std::string> v = p.String(name);
    if (!v) continue;
    if (v->size() > max_len || !IsPrintableUtf8(*v)) {
      Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be printable and at most ", max_len, " bytes"));
    }
    return *v;
  }
  return "";
}

}  // namespace aisle
