#include "events/timestamp.h"

#include <gtest/gtest.h>

namespace aisle {
namespace {

TEST(TimestampTest, UnixSeconds) {
  EXPECT_EQ(ParseTimestamp("0"), 0);
  EXPECT_EQ(ParseTimestamp("1609459200"), 1609459200);
  EXPECT_EQ(ParseTimestamp("978300760.25"), 978300760);
  EXPECT_FALSE(ParseTimestamp("12a"));
  EXPECT_FALSE(ParseTimestamp(""));
  EXPECT_FALSE(ParseTimestamp("-5"));
  EXPECT_FALSE(ParseTimestamp("1e9"));
}

TEST(TimestampTest, Iso8601Forms) {
  EXPECT_EQ(ParseTimestamp("1970-01-01"), 0);
  EXPECT_EQ(ParseTimestamp("2021-01-01T00:00:00Z"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2021-01-01 00:00:00"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2021-01-01T01:00:00+01:00"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2020-12-31T19:00:00-0500"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2021-01-01T00:00"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2021-01-01T00:00:00.123Z"), 1609459200);
  EXPECT_EQ(ParseTimestamp("2010-12-01 08:26:00"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2024-02-29"), 1709164800);
}

TEST(TimestampTest, RejectsImpossibleOrPartialDates) {
  for (const char* bad : {"2023-02-29", "2021-13-01", "2021-00-10", "2021-01-32", "2021-1-01",
                          "2021-01-01T25:00:00", "2021-01-01T10:61", "2021-01-01X10:00",
                          "2021-01-01T10:00:00Q", "2021-01-01T10:00:00+", "yesterday"}) {
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
  }
}

TEST(TimestampTest, UsSpreadsheetForm) {
  EXPECT_EQ(ParseUsDateTime("12/1/2010 8:26"), 1291191960);
  EXPECT_EQ(ParseUsDateTime("12/01/2010 08:26:00"), 1291191960);
  EXPECT_FALSE(ParseUsDateTime("13/1/2010 8:26"));
  EXPECT_FALSE(ParseUsDateTime("12/1/2010"));
  EXPECT_FALSE(ParseUsDateTime("2010-12-01 08:26:00"));
}

}  // namespace
}  // namespace aisle
