// Inner-product kernels for FaissIndex's flat storage (rag/faiss_index.h, "Distances"): an
// AVX2/FMA implementation chosen at run time, or FAISS's own kernel when the CPU lacks AVX2.
// Results equal faiss::fvec_inner_product up to float rounding.
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

struct Kernels {
  DotFn dot;
  Dot4Fn dot4;
  DotI8Fn dot_i8;
};

// The fastest kernels this CPU supports, detected once per process.
const Kernels& GetKernels();

}  // namespace jrvs::rag::simd
