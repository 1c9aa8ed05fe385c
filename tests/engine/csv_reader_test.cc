#include "engine/csv_reader.h"

#include <gtest/gtest.h>

namespace aisle {
namespace {

using Fields = std::vector<std::string>;

struct Parsed {
  std::vector<Fields> records;
  std::vector<uint64_t> lines;
  std::vector<std::string> errors;  // "line: error"
};

Parsed ParseAll(absl::string_view data, char sep = ',', bool multiline = true) {
  Parsed p;
  CsvReader r(data, sep, multiline);
  std::vector<absl::string_view> f;
  while (true) {
    auto res = r.Next(&f);
    if (res == CsvReader::Result::kEnd) break;
    if (res == CsvReader::Result::kMalformed) {
      p.errors.push_back(std::to_string(r.record_line()) + ": " + r.error());
      continue;
    }
    p.records.emplace_back(f.begin(), f.end());
    p.lines.push_back(r.record_line());
  }
  return p;
}

TEST(CsvReaderTest, PlainRecordsAndEmptyFields) {
  Parsed p = ParseAll("a,b,c\n1,,3\n,,\n");
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.records[1], (Fields{"1", "", "3"}));
  EXPECT_EQ(p.records[2], (Fields{"", "", ""}));
}

TEST(CsvReaderTest, QuotingWithSeparatorsDoubledQuotesAndNewlines) {
  Parsed p = ParseAll("id,desc\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,\"\"\n");
  ASSERT_EQ(p.records.size(), 5u) << (p.errors.empty() ? "" : p.errors[0]);
  EXPECT_EQ(p.records[1][1], "a, b");
  EXPECT_EQ(p.records[2][1], "say \"hi\"");
  EXPECT_EQ(p.records[3][1], "two\nlines");
  EXPECT_EQ(p.records[4][1], "");
  // The record after a multi-line field starts on the right physical line.
  EXPECT_EQ(p.lines[3], 4u);
  EXPECT_EQ(p.lines[4], 6u);
}

TEST(CsvReaderTest, CrlfBomAndBlankLines) {
  Parsed p = ParseAll("\xEF\xBB\xBF" "a,b\r\n\r\n1,\"x\"\r\n2,y\r\n\n");
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.records[0], (Fields{"a", "b"}));  // BOM not part of the first name
  EXPECT_EQ(p.records[1], (Fields{"1", "x"}));
  EXPECT_EQ(p.records[2], (Fields{"2", "y"}));
  EXPECT_EQ(p.lines[1], 3u);
  EXPECT_EQ(p.lines[2], 4u);
}

TEST(CsvReaderTest, NoFinalNewlineAndTrailingSeparator) {
  Parsed p = ParseAll("a,b\n1,");
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[1], (Fields{"1", ""}));
}

TEST(CsvReaderTest, EmptyInputs) {
  EXPECT_TRUE(ParseAll("").records.empty());
  EXPECT_TRUE(ParseAll("\xEF\xBB\xBF").records.empty());
  EXPECT_TRUE(ParseAll("\n\r\n\n").records.empty());
}

TEST(CsvReaderTest, MalformedRecordsAreReportedAndSkipped) {
  Parsed p = ParseAll("a,b\n1,\"x\"y\n2,ab\"c\n3,ok\n4,\"never closed\n5,z\n");
  ASSERT_EQ(p.errors.size(), 3u);
  EXPECT_EQ(p.errors[0], "2: text after a closing quote");
  EXPECT_EQ(p.errors[1], "3: quote inside an unquoted field");
  EXPECT_EQ(p.errors[2], "5: unterminated quoted field");
  // Reading resumes on the line after the bad record's first: nothing after it is lost.
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.records[1], (Fields{"3", "ok"}));
  EXPECT_EQ(p.records[2], (Fields{"5", "z"}));
  EXPECT_EQ(p.lines[2], 6u);
}

TEST(CsvReaderTest, AnUnbalancedQuoteCostsOneLineNotTheRestOfTheFile) {
  // Row 3 opens a quote it never closes; later rows hold quotes of their own.
  std::string data = "customer_id,product_id,event\n1,a,purchase\n2,\"b,purchase\n";
  for (int i = 3; i < 1000; ++i) {
    data += std::to_string(i) + (i % 100 == 0 ? ",\"q\"\"x\",purchase\n" : ",p,purchase\n");
  }
  for (bool multiline : {true, false}) {
    Parsed p = ParseAll(data, ',', multiline);
    ASSERT_EQ(p.errors.size(), 1u) << multiline;
    EXPECT_EQ(p.errors[0].substr(0, 2), "3:") << p.errors[0];
    EXPECT_EQ(p.records.size(), 1000u - 1) << multiline;  // header + 998 good rows
    EXPECT_EQ(p.records.back(), (Fields{"999", "p", "purchase"}));
  }
  // Single-line fields: a quoted field never spans lines.
  Parsed one = ParseAll("a,\"x\ny\"\nb,c\n", ',', false);
  ASSERT_EQ(one.errors.size(), 2u);
  EXPECT_EQ(one.errors[0], "1: unterminated quoted field (a quote opened on this line is not closed on it)");
  ASSERT_EQ(one.records.size(), 1u);
  EXPECT_EQ(one.records[0], (Fields{"b", "c"}));
}

TEST(CsvReaderTest, TabSeparator) {
  Parsed p = ParseAll("1\t2\t5\n", '\t');
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0], (Fields{"1", "2", "5"}));
}

}  // namespace
}  // namespace aisle
