// CsvReader: splits an in-memory buffer into records and fields (RFC 4180
// quoting with doubled quotes, LF or CRLF line ends, a leading UTF-8 BOM
// skipped, blank lines skipped). Quoted fields may span lines unless the
// reader is built with `multiline` false (event files: an unbalanced quote
// then costs its own line only). A malformed record never swallows the
// lines after it: reading resumes on the line after the one it began on.
// Not thread-safe; one reader per buffer. The buffer must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace aisle {

// Appends `s` as one CSV field: as is, or quoted (quotes doubled) when it
// holds the separator ',', a quote or a line break.
void AppendCsvField(absl::string_view s, std::string* out);

class CsvReader {
 public:
  enum class Result { kRecord, kEnd, kMalformed };

  CsvReader(absl::string_view data, char separator, bool multiline = true);

  // Reads the next non-blank record into `fields` (views valid until the next
  // call). kMalformed sets error(), record_line() is the line where the bad
  // record began, and the reader resumes at the line after that one.
  Result Next(std::vector<absl::string_view>* fields);

  // 1-based physical line on which the last record (or error) started.
  uint64_t record_line() const { return record_line_; }
  const std::string& error() const { return error_; }
  // The raw text of the last record returned, without its line end.
  absl::string_view raw_record() const { return raw_; }

 private:
  void SkipToNextLine();
  // After a malformed record that began at `begin` on line `line`.
  Result Resync(size_t begin, uint64_t line, const char* why);

  absl::string_view data_;
  size_t pos_ = 0;
  char sep_;
  bool multiline_;
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
