#include "events/timestamp.h"

namespace aisle {
namespace {

// Reads exactly `width` digits at s[*pos].
bool Digits(absl::string_view s, size_t* pos, int width, int* out) {
  if (*pos + width > s.size()) return false;
  int v = 0;
  for (int i = 0; i < width; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += width;
  *out = v;
  return true;
}

// Reads 1 to `max_width` digits.
bool VarDigits(absl::string_view s, size_t* pos, int max_width, int* out) {
  int v = 0, w = 0;
  while (*pos < s.size() && w < max_width && s[*pos] >= '0' && s[*pos] <= '9') {
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
    ++w;
  }
  *out = v;
  return w > 0;
}

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ParseTimestamp(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  // Unix seconds: all digits, optionally with a fractional part.
  if (s.size() < 5 || s[4] != '-') {
    size_t i = 0;
    int64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i >= 12) return std::nullopt;  // beyond year 33658: not a timestamp
      v = v * 10 + (s[i] - '0');
      ++i;
    }
    if (i == 0) return std::nullopt;
    if (i < s.size()) {
      if (s[i] != '.') return std::nullopt;
      for (++i; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
      }
    }
    return v;
  }
  size_t p = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, &p, 4, &y) || p >= s.size() || s[p++] != '-' || !Digits(s, &p, 2, &mo) ||
      p >= s.size() || s[p++] != '-' || !Digits(s, &p, 2, &d)) {
    return std::nullopt;
  }
  if (!ValidDate(y, mo, d)) return std::nullopt;
  int64_t offset = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!Digits(s, &p, 2, &h) || p >= s.size() || s[p++] != ':' || !Digits(s, &p, 2, &mi)) {
      return std::nullopt;
    }
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!Digits(s, &p, 2, &sec)) return std::nullopt;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
        if (p == start) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (p < s.size()) {
      if (s[p] == 'Z' && p + 1 == s.size()) {
        p = s.size();
      } else if (s[p] == '+' || s[p] == '-') {
        int sign = s[p] == '-' ? -1 : 1;
        ++p;
        int oh, om = 0;
        if (!Digits(s, &p, 2, &oh)) return std::nullopt;
        if (p < s.size() && s[p] == ':') ++p;
        if (p < s.size() && !Digits(s, &p, 2, &om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offset = sign * (oh * 3600 + om * 60);
      } else {
        return std::nullopt;
      }
    }
    if (p != s.size()) return std::nullopt;
  }
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
}

std::optional<int64_t> ParseUsDateTime(absl::string_view s) {
  size_t p = 0;
  int mo, d, y, h, mi, sec = 0;
  if (!VarDigits(s, &p, 2, &mo) || p >= s.size() || s[p++] != '/' || !VarDigits(s, &p, 2, &d) ||
      p >= s.size() || s[p++] != '/' || !Digits(s, &p, 4, &y) || p >= s.size() || s[p++] != ' ' ||
      !VarDigits(s, &p, 2, &h) || p >= s.size() || s[p++] != ':' || !Digits(s, &p, 2, &mi)) {
    return std::nullopt;
  }
  if (p < s.size()) {
    if (s[p++] != ':' || !Digits(s, &p, 2, &sec)) return std::nullopt;
  }
  if (p != s.size() || !ValidDate(y, mo, d) || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

}  // namespace aisle
