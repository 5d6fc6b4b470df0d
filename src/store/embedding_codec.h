// Embedding vectors as stored in chunks.embedding: float32, little-endian, packed, no header.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace jrvs::store {

// The stored bytes of `v`. On little-endian hosts this is a view of the vector itself (no copy);
// `scratch` receives the byte-swapped copy on big-endian hosts. The result is valid while `v` and
// `scratch` are.
std::span<const std::byte> EncodeEmbedding(const std::vector<float>& v, std::string& scratch);

// Decodes stored bytes into `out` (replacing its contents). kInternal if the length is not a
// multiple of 4.
Status DecodeEmbedding(std::span<const std::byte> bytes, std::vector<float>& out);

}  // namespace jrvs::store
