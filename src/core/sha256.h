// SHA-256 (FIPS 180-4), used for content hashes of stored documents and cache keys.
//
// Sha256 is an incremental hasher: Update() any number of times, then Final() once. The free
// functions hash a whole buffer. Thread safety: a Sha256 object is not shared between threads;
// the free functions are pure and safe to call concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jrvs {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void Update(std::string_view data);
  // Finishes the hash. The object must not be updated afterwards (Reset() to start again).
  Digest Final();
  void Reset();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;       // bytes in buffer_
  uint64_t total_bytes_ = 0;  // message length so far
};

// The digest of `data`.
Sha256::Digest Sha256Digest(std::string_view data);

// Lower-case hex (64 characters) of the SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace jrvs
