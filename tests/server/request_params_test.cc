// Request parameters, paths and the router: strict decoding, limits, and
// the errors a client gets.
#include "server/request_params.h"

#include <gtest/gtest.h>

#include "server/router.h"

namespace aisle {
namespace {

int StatusOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return e.status;
  }
  return 0;
}

TEST(PercentDecodeTest, DecodesStrictly) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc"), "a b/c");
  EXPECT_EQ(*PercentDecode("%e2%82%ac"), "\xe2\x82\xac");
  EXPECT_EQ(*PercentDecode("plus+stays"), "plus+stays");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
  EXPECT_FALSE(PercentDecode("ab%").has_value());
}

TEST(ParamsTest, QueryStrings) {
  Params p = Params::FromQuery("count=5&category=a%2Cb,c&flag&count=9&country=United%20Kingdom");
  EXPECT_EQ(*p.String("count"), "5");  // the first of repeated names
  EXPECT_EQ(*p.String("flag"), "");
  EXPECT_EQ(*p.String("country"), "United Kingdom");
  EXPECT_EQ(p.List("category", 10, 10), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(p.String("missing").has_value());
  EXPECT_EQ(CountParam(p, 10, 100), 5u);
}

TEST(ParamsTest, MalformedQueriesAre400) {
  EXPECT_EQ(StatusOf([] { Params::FromQuery("a=%zz"); }), 400);
  EXPECT_EQ(StatusOf([] { Params::FromQuery("a=%ff"); }), 400);  // not UTF-8
  EXPECT_EQ(StatusOf([] { Params::FromQuery("a%ff=1"); }), 400);
  EXPECT_EQ(StatusOf([] { CountParam(Params::FromQuery("count=0"), 10, 100); }), 400);
  EXPECT_EQ(StatusOf([] { CountParam(Params::FromQuery("count=1.5"), 10, 100); }), 400);
  EXPECT_EQ(StatusOf([] { CountParam(Params::FromQuery("count=1e400"), 10, 100); }), 400);
  EXPECT_EQ(StatusOf([] { CountParam(Params::FromQuery("count=nan"), 10, 100); }), 400);
  // A price beyond float range would be undefined as a float: refused.
  EXPECT_EQ(StatusOf([] { OptionsFrom(Params::FromQuery("max_price=1e300"), 10, 10); }), 400);
  EXPECT_EQ(StatusOf([] { OptionsFrom(Params::FromQuery("min_price=3"), 10, 10); }), 0);
  // What happens to products bought before.
  EXPECT_EQ(OptionsFrom(Params::FromQuery(""), 10, 10).purchased, PurchasedProducts::kDue);
  EXPECT_EQ(OptionsFrom(Params::FromQuery("exclude_purchased=all"), 10, 10).purchased, PurchasedProducts::kAll);
  EXPECT_EQ(OptionsFrom(Params::FromQuery("mode=buy_again"), 10, 10).purchased, PurchasedProducts::kOnly);
  EXPECT_EQ(StatusOf([] { OptionsFrom(Params::FromQuery("exclude_purchased=some"), 10, 10); }), 400);
  EXPECT_EQ(StatusOf([] { OptionsFrom(Params::FromQuery("mode=magic"), 10, 10); }), 400);
  EXPECT_EQ(StatusOf([] { Params::FromQuery("exclude=a,b,c").List("exclude", 2, 10); }), 400);
  EXPECT_EQ(StatusOf([] { Params::FromQuery("exclude=abcdef").List("exclude", 2, 5); }), 400);
  EXPECT_EQ(StatusOf([] { Params::FromQuery("exclude=a%0Ab").List("exclude", 2, 5); }), 400);  // control char
}

TEST(ParamsTest, JsonBodies) {
  HttpRequest req;
  req.body = R"({"products": ["p1", "p2"], "count": 3, "explain": true})";
  nlohmann::json body = ParseBody(req, 1000);
  Params p = Params::FromJson(body);
  EXPECT_EQ(p.List("products", 10, 10), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(CountParam(p, 10, 100), 3u);
  EXPECT_TRUE(p.Bool("explain", false));
  for (const char* bad : {"{", "[]", "{\"a\": 1e400}", "{\"a\": \"\xff\"}", "\"text\""}) {
    HttpRequest r;
    r.body = bad;
    EXPECT_EQ(StatusOf([&] { ParseBody(r, 1000); }), 400) << bad;
  }
  req.body = std::string(2000, ' ');
  EXPECT_EQ(StatusOf([&] { ParseBody(req, 1000); }), 413);
  nlohmann::json many = {{"products", std::vector<std::string>(20, "p")}};
  EXPECT_EQ(StatusOf([&] { Params::FromJson(many).List("products", 10, 10); }), 400);
  nlohmann::json nested = {{"products", {{"a", 1}}}};
  EXPECT_EQ(StatusOf([&] { Params::FromJson(nested).List("products", 10, 10); }), 400);
}

TEST(PathIdTest, DecodesAndChecks) {
  HttpRequest req;
  req.params = {{":id", "c%2F1"}};
  EXPECT_EQ(PathId(req, 10), "c/1");
  // C1 controls (U+0080..U+009F, U+0085 a line break to some readers) too.
  for (const char* bad : {"%ff", "%zz", "a%00b", "a%0d%0ab", "%c0%80", "a%c2%85b", "%c2%80", "%c2%9f"}) {
    req.params = {{":id", bad}};
    EXPECT_EQ(StatusOf([&] { PathId(req, 10); }), 400) << bad;
  }
  req.params = {{":id", "%c2%a0x"}};  // U+00A0 is printable
  EXPECT_EQ(PathId(req, 10), "\u00a0x");
  req.params = {{":id", "abcdefghijk"}};
  EXPECT_EQ(StatusOf([&] { PathId(req, 10); }), 400);
}

TEST(RouterTest, MatchesPatternsAndKnowsTheMethods) {
  Router r;
  const int a = r.Add("GET", "/v1/customers/:id/recommendations");
  const int b = r.Add("POST", "/v1/customers/:id/rank");
  const int c = r.Add("GET", "/healthz");
  Router::Match m = r.Find("GET", "/v1/customers/c%201/recommendations");
  EXPECT_EQ(m.route, a);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].second, "c%201");
  EXPECT_EQ(r.Find("HEAD", "/healthz").route, c);
  EXPECT_EQ(r.Find("POST", "/v1/customers/x/rank").route, b);
  m = r.Find("DELETE", "/v1/customers/x/rank");
  EXPECT_EQ(m.route, -1);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allow, "POST, OPTIONS");
  EXPECT_EQ(r.Find("GET", "/healthz").allow, "GET, HEAD, OPTIONS");
  EXPECT_FALSE(r.Find("GET", "/v1/customers//recommendations").path_known);  // empty id
  EXPECT_FALSE(r.Find("GET", "/healthz/").path_known);
  EXPECT_FALSE(r.Find("GET", "*").path_known);
}

}  // namespace
}  // namespace aisle
