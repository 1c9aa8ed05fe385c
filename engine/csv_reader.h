// CsvReader: splits an in-memory buffer into records and fields (RFC 4180
// quoting with doubled quotes, fields may span lines inside quotes, LF or
// CRLF line ends, a leading UTF-8 BOM skipped, blank lines skipped).
// Not thread-safe; one reader per buffer. The buffer must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace aisle {

class CsvReader {
 public:
  enum class Result { kRecord, kEnd, kMalformed };

  CsvReader(absl::string_view data, char separator);

  // Reads the next non-blank record into `fields` (views valid until the next
  // call). kMalformed leaves the reader at the start of the next line and
  // sets error(); record_line() is the line where the bad record began.
  Result Next(std::vector<absl::string_view>* fields);

  // 1-based physical line on which the last record (or error) started.
  uint64_t record_line() const { return record_line_; }
  const std::string& error() const { return error_; }
  // The raw text of the last record returned, without its line end.
  absl::string_view raw_record() const { return raw_; }

 private:
  void SkipToNextLine();

  absl::string_view data_;
  size_t pos_ = 0;
  char sep_;
  uint64_t line_ = 1;
  uint64_t record_line_ = 0;
  std::string error_;
  absl::string_view raw_;
  std::string arena_;  // unescaped quoted fields of the current record
  struct Span {
    size_t begin;
    size_t length;
    bool in_arena;
  };
  std::vector<Span> spans_;
};

}  // namespace aisle
