#include "server/api_keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/atomic_file.h"

namespace aisle {

absl::StatusOr<ApiKeys> ApiKeys::Load(const std::string& path) {
  std::string text;
  if (absl::Status s = ReadFileToString(path, &text, size_t{1} << 20); !s.ok()) return s;  // 1 MB of keys
  return Parse(text, path);
}

absl::StatusOr<ApiKeys> ApiKeys::Parse(absl::string_view text, const std::string& name) {
  ApiKeys k;
  int line = 0;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    ++line;
    l = absl::StripAsciiWhitespace(l);
    if (l.empty() || l[0] == '#') continue;
    for (char c : l) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c)) || !absl::ascii_isprint(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": a key must be printable, without spaces"));
      }
    }
    if (l.size() < 16) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": key shorter than 16 characters"));
    }
    k.keys_.emplace_back(l);
  }
  if (k.keys_.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": no key"));
  return k;
}

bool ApiKeys::Contains(absl::string_view key) const {
  unsigned found = 0;
  for (const std::string& k : keys_) {
    // Differences in length or content accumulate without branching on them.
    unsigned diff = static_cast<unsigned>(k.size() ^ key.size());
    for (size_t i = 0; i < k.size(); ++i) {
      const unsigned char given = i < key.size() ? static_cast<unsigned char>(key[i]) : 0;
      diff |= static_cast<unsigned char>(k[i]) ^ given;
    }
    found |= static_cast<unsigned>(diff == 0);
  }
  return found != 0;
}

}  // namespace aisle
