#include "store/embedding_codec.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace jrvs::store {

std::span<const std::byte> EncodeEmbedding(const std::vector<float>& v, std::string& scratch) {
  static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);
  if constexpr (std::endian::native == std::endian::little) {
    return std::as_bytes(std::span<const float>(v));
  } else {
    scratch.resize(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) {
      uint32_t bits = std::bit_cast<uint32_t>(v[i]);
      for (int b = 0; b < 4; ++b) scratch[4 * i + b] = static_cast<char>(bits >> (8 * b));
    }
    return std::as_bytes(std::span<const char>(scratch));
  }
}

Status DecodeEmbedding(std::span<const std::byte> bytes, std::vector<float>& out) {
  if (bytes.size() % 4 != 0) {
    return Status(StatusCode::kInternal, "stored embedding has " + std::to_string(bytes.size()) +
                                             " bytes, not a multiple of 4");
  }
  out.resize(bytes.size() / 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  } else {
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= uint32_t{std::to_integer<uint8_t>(bytes[4 * i + b])} << (8 * b);
      out[i] = std::bit_cast<float>(bits);
    }
  }
  return Status::Ok();
}

}  // namespace jrvs::store
