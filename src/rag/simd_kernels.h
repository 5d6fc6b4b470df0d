// Inner-product kernels for FaissIndex's flat storage (rag/faiss_index.h, "Distances"): an
// AVX2/FMA/F16C implementation chosen at run time, or portable ones (FAISS's own kernel for
// floats) when the CPU lacks those. Results equal faiss::fvec_inner_product up to float rounding.
//
// Internal to the rag layer: include it only from rag .cc files. Kernels are pure functions over
// caller-owned arrays and safe to call from any thread; GetKernels() is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace jrvs::rag::simd {

using DotFn = float (*)(const float*, const float*, size_t);
// Inner products of `q` with the 4 consecutive rows starting at `x`.
using Dot4Fn = void (*)(const float* q, const float* x, size_t d, float* out);

// Inner product of two int8 vectors with values in [-127, 127] (exact, in 32 bits).
using DotI8Fn = int32_t (*)(const int8_t* q, const int8_t* x, size_t d);

// The same two products against IEEE half-precision rows (binary16, as uint16_t bits): each
// half is widened to float exactly, then multiplied and summed in float.
using DotF16Fn = float (*)(const float* q, const uint16_t* x, size_t d);
using Dot4F16Fn = void (*)(const float* q, const uint16_t* x, size_t d, float* out);
// Conversions of `n` values: float to half rounds to nearest even (overflow gives infinity,
// tiny values become subnormal or zero); half to float is exact.
using ToF16Fn = void (*)(const float* x, size_t n, uint16_t* out);
using FromF16Fn = void (*)(const uint16_t* x, size_t n, float* out);

struct Kernels {
  DotFn dot;
  Dot4Fn dot4;
  DotI8Fn dot_i8;
  DotF16Fn dot_f16;
  Dot4F16Fn dot4_f16;
  ToF16Fn to_f16;
  FromF16Fn from_f16;
};

// The portable kernels (exposed so tests can compare the fast ones against them).
const Kernels& GenericKernels();

// The fastest kernels this CPU supports, detected once per process.
const Kernels& GetKernels();

}  // namespace jrvs::rag::simd
