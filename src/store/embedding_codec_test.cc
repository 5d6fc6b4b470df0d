#include "store/embedding_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace jrvs::store {
namespace {

TEST(EmbeddingCodecTest, BytesAreLittleEndianFloat32) {
  std::string scratch;
  std::vector<float> v = {1.0f, -2.0f};
  std::span<const std::byte> bytes = EncodeEmbedding(v, scratch);
  ASSERT_EQ(bytes.size(), 8u);
  const uint8_t expected[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
  EXPECT_EQ(std::memcmp(bytes.data(), expected, sizeof(expected)), 0);
}

TEST(EmbeddingCodecTest, RoundTripIsBitExact) {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1e-45f,
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::quiet_NaN(),
                          0.1f};
  std::string scratch;
  std::span<const std::byte> bytes = EncodeEmbedding(v, scratch);
  std::vector<float> out = {9.0f};  // replaced, not appended to
  ASSERT_TRUE(DecodeEmbedding(bytes, out).ok());
  ASSERT_EQ(out.size(), v.size());
  EXPECT_EQ(std::memcmp(out.data(), v.data(), v.size() * sizeof(float)), 0);
}

TEST(EmbeddingCodecTest, EmptyAndTruncatedBlobs) {
  std::vector<float> out = {1.0f};
  ASSERT_TRUE(DecodeEmbedding({}, out).ok());
  EXPECT_TRUE(out.empty());
  const std::byte three[3] = {};
  Status s = DecodeEmbedding(three, out);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace jrvs::store
