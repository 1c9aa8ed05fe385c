#include "engine/checksum.h"

#include <gtest/gtest.h>

#include <string>

namespace aisle {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xFF');
  EXPECT_EQ(Crc32c(0, ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
}

TEST(Crc32cTest, ExtendsAcrossChunks) {
  std::string s = "The quick brown fox jumps over the lazy dog, again and again.";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = Crc32c(0, s.data(), cut);
    EXPECT_EQ(Crc32c(a, s.data() + cut, s.size() - cut), Crc32c(0, s.data(), s.size())) << cut;
  }
}

TEST(Crc32cTest, DetectsSingleBitFlips) {
  std::string s(1000, 'a');
  const uint32_t base = Crc32c(0, s.data(), s.size());
  for (size_t i = 0; i < s.size(); i += 37) {
    std::string t = s;
    t[i] ^= 0x10;
    EXPECT_NE(Crc32c(0, t.data(), t.size()), base) << i;
  }
}

}  // namespace
}  // namespace aisle
