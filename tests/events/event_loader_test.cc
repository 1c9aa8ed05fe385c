#include "events/event_loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

struct Loaded {
  absl::Status status;
  EventLog log;
  LoadStats stats;
};

Loaded Load(absl::string_view data, LoadOptions o = {}) {
  Loaded l;
  l.status = LoadEventsBuffer(data, "in.csv", o, &l.log, &l.stats);
  return l;
}

uint64_t Issues(const Loaded& l, RowIssue i) { return l.stats.issues[static_cast<int>(i)]; }

TEST(EventLoaderTest, ColumnsInAnyOrderWithOptionalOnes) {
  Loaded l = Load(
      "event,quantity,product_id,channel,timestamp,customer_id,price\n"
      "purchase,2,p1,web,2021-01-01T00:00:00Z,c1,9.5\n"
      "VIEW,,p2,app,1609459300,c1,\n"
      "cart,1,p1,,2021-01-02,c2,3\n"
      "return,1,p1,store,2021-01-03,c1,9.5\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 4u);
  EXPECT_EQ(l.log.customers.size(), 2u);
  EXPECT_EQ(l.log.products.size(), 2u);
  const Event& e0 = l.log.events[0];
  EXPECT_EQ(l.log.customers.id(e0.customer), "c1");
  EXPECT_EQ(l.log.products.id(e0.product), "p1");
  EXPECT_EQ(e0.timestamp, 1609459200);
  EXPECT_EQ(e0.quantity, 2.0f);
  EXPECT_EQ(e0.price, 9.5f);
  EXPECT_EQ(e0.type, EventType::kPurchase);
  EXPECT_EQ(e0.channel, Channel::kWeb);
  EXPECT_EQ(l.log.events[1].type, EventType::kView);
  EXPECT_EQ(l.log.events[1].quantity, 1.0f);  // empty quantity means 1
  EXPECT_TRUE(std::isnan(l.log.events[1].price));
  EXPECT_EQ(l.log.events[1].channel, Channel::kApp);
  EXPECT_EQ(l.log.events[2].type, EventType::kCart);
  EXPECT_EQ(l.log.events[2].channel, Channel::kUnknown);
  EXPECT_EQ(l.log.events[3].type, EventType::kReturn);
  EXPECT_EQ(l.stats.records, 4u);
  EXPECT_EQ(l.stats.loaded, 4u);
}

TEST(EventLoaderTest, MinimalColumnsAndNegativeQuantityIsAReturn) {
  Loaded l = Load("customer_id,product_id,timestamp\nc,p,0\n");
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(l.log.events[0].type, EventType::kPurchase);
  Loaded r = Load("customer_id,product_id,timestamp,quantity\nc,p,0,-3\n");
  ASSERT_EQ(r.log.events.size(), 1u);
  EXPECT_EQ(r.log.events[0].type, EventType::kReturn);
  EXPECT_EQ(r.log.events[0].quantity, 3.0f);
}

TEST(EventLoaderTest, ConfigurableColumnNamesAndSeparator) {
  LoadOptions o;
  o.separator = ';';
  o.columns.customer = "user";
  o.columns.product = "sku";
  o.columns.timestamp = "when";
  Loaded l = Load("USER;sku;when\n\"u;1\";s1;2021-05-05\n", o);
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 1u);
  EXPECT_EQ(l.log.customers.id(0), "u;1");
}

TEST(EventLoaderTest, MissingRequiredColumnIsAnErrorNamingIt) {
  Loaded l = Load("customer_id,timestamp\nc,0\n");
  EXPECT_EQ(l.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(l.status.message().find("product_id"), std::string::npos) << l.status;
  EXPECT_NE(l.status.message().find("in.csv:1"), std::string::npos) << l.status;
}

constexpr char kBadRows[] =
    "customer_id,product_id,timestamp,quantity,price,event,channel\n"
    "c1,p1,2021-01-01,1,1.0,purchase,web\n"   // 2 good
    "c1,p1\n"                                 // 3 field count
    ",p1,2021-01-01,1,1.0,purchase,web\n"     // 4 empty customer
    "c1,,2021-01-01,1,1.0,purchase,web\n"     // 5 empty product
    "c1,p1,2021-02-30,1,1.0,purchase,web\n"   // 6 bad timestamp
    "c1,p1,2021-01-01,two,1.0,purchase,web\n" // 7 bad quantity
    "c1,p1,2021-01-01,1,-4,purchase,web\n"    // 8 bad price
    "c1,p1,2021-01-01,1,1.0,wishlist,web\n"   // 9 bad event
    "c1,p1,2021-01-01,1,1.0,purchase,fax\n"   // 10 bad channel
    "c1,\"p\"1,2021-01-01,1,1.0,purchase,web\n"  // 11 text after quote
    "c1,p\"1,2021-01-01,1,1.0,purchase,web\n"    // 12 quote inside field
    "c1,p1,2021-01-01,0,1.0,purchase,web\n"   // 13 zero quantity (left out, not malformed)
    "c2,p2,2021-01-01,1,1.0,purchase,web\n";  // 14 good

TEST(EventLoaderTest, EachMalformedRowIsCountedWithItsFirstLocation) {
  Loaded l = Load(kBadRows);
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.log.events.size(), 2u);
  EXPECT_EQ(l.stats.records, 13u);
  EXPECT_EQ(l.stats.malformed(), 10u);
  EXPECT_EQ(l.stats.filtered(), 1u);
  const std::pair<RowIssue, int> want[] = {
      {RowIssue::kFieldCount, 3},   {RowIssue::kEmptyCustomer, 4}, {RowIssue::kEmptyProduct, 5},
      {RowIssue::kBadTimestamp, 6}, {RowIssue::kBadQuantity, 7},   {RowIssue::kBadPrice, 8},
      {RowIssue::kBadEvent, 9},     {RowIssue::kBadChannel, 10},   {RowIssue::kTextAfterQuote, 11},
      {RowIssue::kQuoteInField, 12}, {RowIssue::kZeroQuantity, 13}};
  for (auto [issue, line] : want) {
    EXPECT_EQ(Issues(l, issue), 1u) << RowIssueName(issue);
    EXPECT_EQ(l.stats.first_location[static_cast<int>(issue)], "in.csv:" + std::to_string(line))
        << RowIssueName(issue);
  }
  EXPECT_NE(l.stats.Summary().find("unparseable timestamp: 1 (first at in.csv:6)"), std::string::npos)
      << l.stats.Summary();
}

TEST(EventLoaderTest, AnUnbalancedQuoteLosesOneRowNotTheRestOfTheFile) {
  // Row 3 opens a quote that its line never closes; the rows after it are
  // read, and the bad one is counted with its file and line.
  std::string data = "customer_id,product_id,timestamp\nc1,p1,1700000000\nc2,\"p2,1700000000\n";
  for (int i = 0; i < 3000; ++i) data += "c" + std::to_string(i) + ",\"p" + std::to_string(i % 50) + "\",1700000000\n";
  Loaded l = Load(data);
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(l.log.events.size(), 3001u);
  EXPECT_EQ(l.stats.malformed(), 1u);
  EXPECT_EQ(Issues(l, RowIssue::kUnterminatedQuote), 1u);
  EXPECT_EQ(l.stats.first_location[static_cast<int>(RowIssue::kUnterminatedQuote)], "in.csv:3");
}

TEST(EventLoaderTest, StrictModeStopsAtTheFirstMalformedRow) {
  LoadOptions o;
  o.strict = true;
  Loaded l = Load(kBadRows, o);
  EXPECT_EQ(l.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(l.status.message(), "in.csv:3: wrong number of fields: 2 fields, expected at least 7");
  // Filtered rows are not errors, even in strict mode.
  Loaded z = Load("customer_id,product_id,timestamp,quantity\nc,p,0,0\nc,p,0,1\n", o);
  EXPECT_TRUE(z.status.ok()) << z.status;
  EXPECT_EQ(z.log.events.size(), 1u);
  Loaded t = Load("customer_id,product_id,timestamp\nc,p,2021-01-01\nc,p,noon\n", o);
  EXPECT_EQ(t.status.message(), "in.csv:3: unparseable timestamp: 'noon'");
}

TEST(EventLoaderTest, IdLengthLimit) {
  LoadOptions o;
  o.max_id_length = 4;
  Loaded l = Load("customer_id,product_id,timestamp\nabcd,p,0\nabcde,p,0\n", o);
  EXPECT_EQ(l.log.events.size(), 1u);
  EXPECT_EQ(Issues(l, RowIssue::kIdTooLong), 1u);
}

TEST(EventLoaderTest, EmptyAndHeaderOnlyFiles) {
  for (const char* data : {"", "\xEF\xBB\xBF", "customer_id,product_id,timestamp\n",
                           "\xEF\xBB\xBF" "customer_id,product_id,timestamp\r\n"}) {
    Loaded l = Load(data);
    EXPECT_TRUE(l.status.ok()) << l.status;
    EXPECT_TRUE(l.log.events.empty());
    EXPECT_EQ(l.stats.records, 0u);
  }
}

TEST(EventLoaderTest, BomAndCrlfFile) {
  Loaded l = Load("\xEF\xBB\xBF" "customer_id,product_id,timestamp\r\nc1,p1,0\r\nc2,\"p,2\",5\r\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 2u);
  EXPECT_EQ(l.log.products.id(1), "p,2");
  EXPECT_EQ(l.log.events[1].timestamp, 5);
}

TEST(EventLoaderTest, OnlineRetailPreset) {
  LoadOptions o;
  o.format = InputFormat::kOnlineRetail;
  Loaded l = Load(
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
      "536365,85123A,\"WHITE HANGING HEART T-LIGHT HOLDER\",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
      "536365,71053,\"WHITE METAL LANTERN, SMALL\",6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
      "C536379,85123A,WHITE HANGING HEART,-2,2010-12-01 09:41:00,2.55,17850.0,United Kingdom\n"
      "536380,POST,POSTAGE,3,2010-12-01 09:41:00,18.0,12583.0,France\n"
      "536381,gift_0001_20,voucher,1,2010-12-01 09:41:00,16.0,12583.0,France\n"
      "536382,DCGSSBOY,party bag,1,2010-12-01 09:41:00,3.0,12583.0,France\n"
      "536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom\n"
      "536415,22140,stock fix,-20,2010-12-01 11:52:00,0.0,,United Kingdom\n"
      "A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom\n"
      "536416,22141,ok,2,2010-12-01 11:53:00,1.0,12583.0,France\n",
      o);
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 4u) << l.stats.Summary();
  EXPECT_EQ(l.log.customers.id(0), "17850");
  EXPECT_EQ(l.log.customers.id(1), "12583");
  EXPECT_EQ(l.log.events[2].type, EventType::kReturn);
  EXPECT_EQ(l.log.events[2].quantity, 2.0f);
  EXPECT_EQ(l.log.events[0].timestamp, 1291191960);
  EXPECT_EQ(l.log.countries.id(l.log.events[3].country), "France");
  EXPECT_EQ(Issues(l, RowIssue::kNonProduct), 3u);  // POST, gift voucher, DCGS
  EXPECT_EQ(Issues(l, RowIssue::kAdjustment), 1u);  // A563185
  EXPECT_EQ(Issues(l, RowIssue::kNoCustomer), 2u);
  EXPECT_EQ(l.stats.malformed(), 0u);
}

TEST(EventLoaderTest, OnlineRetailIIHeaderAndUsDates) {
  LoadOptions o;
  o.format = InputFormat::kOnlineRetail;
  Loaded l = Load(
      "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
      "489434,85048,LED BOX,12,12/1/2009 7:45,6.95,13085.0,United Kingdom\n"
      "489435,85049,x,1,2009-12-01 07:46:00,1,13086,United Kingdom\n",
      o);
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 2u);
  EXPECT_EQ(l.log.customers.id(0), "13085");
  EXPECT_EQ(l.log.events[0].timestamp, 1259653500);
  EXPECT_EQ(l.log.events[0].price, 6.95f);
}

TEST(EventLoaderTest, NcfFormat) {
  LoadOptions o;
  o.format = InputFormat::kNcf;
  Loaded l = Load("0\t32\t4\t978824330\n0\t34\t5\n1\t32\tx\n1\t7\n2\t9\t3\t978824331\t1\n", o);
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.log.events.size(), 2u);
  EXPECT_EQ(l.log.events[0].timestamp, 978824330);
  EXPECT_EQ(l.log.events[1].timestamp, 0);
  EXPECT_EQ(Issues(l, RowIssue::kBadRating), 1u);
  EXPECT_EQ(Issues(l, RowIssue::kFieldCount), 2u);
}

TEST(EventLoaderTest, SeveralFilesShareIdsAndMissingFileIsNotFound) {
  aisle::testing::TempDir dir;
  std::string a = dir.Write("a.csv", "customer_id,product_id,timestamp\nc1,p1,0\n");
  std::string b = dir.Write("b.csv", "customer_id,product_id,timestamp,event\nc1,p1,5,view\nc2,p1,6,view\n");
  EventLog log;
  LoadStats stats;
  ASSERT_TRUE(LoadEventsFile(a, {}, &log, &stats).ok());
  ASSERT_TRUE(LoadEventsFile(b, {}, &log, &stats).ok());
  EXPECT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.customers.size(), 2u);
  EXPECT_EQ(log.products.size(), 1u);
  EXPECT_EQ(stats.records, 3u);
  EXPECT_EQ(LoadEventsFile(dir.Path("none.csv"), {}, &log, &stats).code(), absl::StatusCode::kNotFound);
}

// The real UCI file, when it is beside the checkout: counts from its README.
TEST(EventLoaderTest, OnlineRetailDatasetCounts) {
  const std::string path = std::string(AISLE_SOURCE_DIR) + "/../shared/data/online-retail/online_retail.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  LoadOptions o;
  o.format = InputFormat::kOnlineRetail;
  o.strict = true;
  EventLog log;
  LoadStats stats;
  ASSERT_TRUE(LoadEventsFile(path, o, &log, &stats).ok());
  EXPECT_EQ(stats.records, 541909u);
  EXPECT_EQ(stats.malformed(), 0u);
  uint64_t purchases = 0;
  absl::flat_hash_set<uint32_t> customers, products;
  absl::flat_hash_set<uint64_t> pairs;
  for (const Event& e : log.events) {
    if (e.type != EventType::kPurchase) continue;
    ++purchases;
    customers.insert(e.customer);
    products.insert(e.product);
    pairs.insert(static_cast<uint64_t>(e.customer) << 32 | e.product);
  }
  EXPECT_EQ(purchases, 396370u);
  EXPECT_EQ(customers.size(), 4335u);
  EXPECT_EQ(products.size(), 3659u);
  EXPECT_EQ(pairs.size(), 266226u);
}

}  // namespace
}  // namespace aisle
