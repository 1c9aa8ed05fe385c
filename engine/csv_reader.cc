#include "engine/csv_reader.h"

#include <cstring>

namespace aisle {
namespace {

constexpr char kUnclosedOnLine[] = "unterminated quoted field (a quote opened on this line is not closed on it)";

}  // namespace

CsvReader::CsvReader(absl::string_view data, char separator, bool multiline)
    : data_(data), sep_(separator), multiline_(multiline) {
  if (data_.size() >= 3 && data_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

void CsvReader::SkipToNextLine() {
  const void* nl = std::memchr(data_.data() + pos_, '\n', data_.size() - pos_);
  if (nl == nullptr) {
    pos_ = data_.size();
  } else {
    pos_ = static_cast<const char*>(nl) - data_.data() + 1;
    ++line_;
  }
}

CsvReader::Result CsvReader::Resync(size_t begin, uint64_t line, const char* why) {
  error_ = why;
  pos_ = begin;
  line_ = line;
  SkipToNextLine();
  return Result::kMalformed;
}

CsvReader::Result CsvReader::Next(std::vector<absl::string_view>* fields) {
  fields->clear();
  const size_t n = data_.size();
  const char* d = data_.data();
  // Skip blank lines (LF or CRLF).
  while (pos_ < n) {
    if (d[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (d[pos_] == '\r' && pos_ + 1 < n && d[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
    } else {
      break;
    }
  }
  if (pos_ >= n) return Result::kEnd;
  record_line_ = line_;
  const size_t record_begin = pos_;
  arena_.clear();
  spans_.clear();
  while (true) {
    // One field starts at pos_.
    if (pos_ < n && d[pos_] == '"') {
      ++pos_;
      // Where the field may end: the data, or (single-line fields) the line.
      size_t limit = n;
      if (!multiline_) {
        const void* nl = std::memchr(d + pos_, '\n', n - pos_);
        if (nl != nullptr) limit = static_cast<const char*>(nl) - d;
      }
      // Fast path: no doubled quote inside, so the field is a view of the input.
      const void* q = std::memchr(d + pos_, '"', limit - pos_);
      const size_t close = q == nullptr ? limit : static_cast<const char*>(q) - d;
      if (close == limit && limit < n) {
        return Resync(record_begin, record_line_, kUnclosedOnLine);
      }
      const bool simple = close < n && (close + 1 >= n || d[close + 1] != '"');
      size_t begin, length;
      bool in_arena;
      if (simple) {
        for (size_t i = pos_; i < close; ++i) line_ += d[i] == '\n';
        begin = pos_;
        length = close - pos_;
        in_arena = false;
        pos_ = close + 1;
      } else {
        begin = arena_.size();
        bool closed = false;
        while (pos_ < limit) {
          const char c = d[pos_];
          if (c == '"') {
            if (pos_ + 1 < n && d[pos_ + 1] == '"') {
              arena_.push_back('"');
              pos_ += 2;
              continue;
            }
            ++pos_;
            closed = true;
            break;
          }
          if (c == '\n') ++line_;
          arena_.push_back(c);
          ++pos_;
        }
        if (!closed) {
          return Resync(record_begin, record_line_, multiline_ ? "unterminated quoted field" : kUnclosedOnLine);
        }
        length = arena_.size() - begin;
        in_arena = true;
      }
      spans_.push_back({begin, length, in_arena});
      // After the closing quote: separator, end of line, or end of data.
      if (pos_ < n && d[pos_] == '\r' && pos_ + 1 < n && d[pos_ + 1] == '\n') ++pos_;
      if (pos_ >= n || d[pos_] == '\n') {
        if (pos_ < n) {
          ++pos_;
          ++line_;
        }
        break;
      }
      if (d[pos_] == sep_) {
        ++pos_;
        continue;
      }
      return Resync(record_begin, record_line_, "text after a closing quote");
    }
    // Unquoted field: up to the separator or end of line.
    const size_t begin = pos_;
    while (pos_ < n && d[pos_] != sep_ && d[pos_] != '\n') {
      if (d[pos_] == '"') return Resync(record_begin, record_line_, "quote inside an unquoted field");
      ++pos_;
    }
    size_t end = pos_;
    if (pos_ >= n || d[pos_] == '\n') {
      if (end > begin && d[end - 1] == '\r') --end;
      spans_.push_back({begin, end - begin, false});
      if (pos_ < n) {
        ++pos_;
        ++line_;
      }
      break;
    }
    spans_.push_back({begin, end - begin, false});
    ++pos_;  // separator
    if (pos_ >= n) {  // separator at the very end: one more empty field
      spans_.push_back({pos_, 0, false});
      break;
    }
  }
  size_t record_end = pos_;
  if (record_end > record_begin && d[record_end - 1] == '\n') --record_end;
  if (record_end > record_begin && d[record_end - 1] == '\r') --record_end;
  raw_ = absl::string_view(d + record_begin, record_end - record_begin);
  fields->reserve(spans_.size());
  for (const Span& s : spans_) {
    fields->emplace_back(s.in_arena ? arena_.data() + s.begin : d + s.begin, s.length);
  }
  return Result::kRecord;
}

void AppendCsvField(absl::string_view s, std::string* out) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace aisle
