// The inner-product kernels declared in rag/simd_kernels.h: FAISS's baseline kernel, an AVX2/FMA
// kernel compiled for that target only (the rest of the build stays baseline x86-64), and the
// run-time CPU check that picks between them.
#include "rag/simd_kernels.h"

#include <immintrin.h>

#include <faiss/utils/distances.h>

namespace jrvs::rag::simd {
namespace {

float DotGeneric(const float* a, const float* b, size_t d) {
  return faiss::fvec_inner_product(a, b, d);
}

void Dot4Generic(const float* q, const float* x, size_t d, float* out) {
  for (size_t r = 0; r < 4; ++r) out[r] = faiss::fvec_inner_product(q, x + r * d, d);
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx2,fma"))) void Dot4Avx2(const float* q, const float* x, size_t d,
                                                  float* out) {
  const float* x0 = x;
  const float* x1 = x + d;
  const float* x2 = x + 2 * d;
  const float* x3 = x + 3 * d;
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x0 + i), s0);
    s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x1 + i), s1);
    s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x2 + i), s2);
    s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x3 + i), s3);
  }
  out[0] = HorizontalSum(s0);
  out[1] = HorizontalSum(s1);
  out[2] = HorizontalSum(s2);
  out[3] = HorizontalSum(s3);
  for (; i < d; ++i) {
    out[0] += q[i] * x0[i];
    out[1] += q[i] * x1[i];
    out[2] += q[i] * x2[i];
    out[3] += q[i] * x3[i];
  }
}

}  // namespace

const Kernels& GetKernels() {
  static const Kernels kernels = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return avx2 ? Kernels{DotAvx2, Dot4Avx2} : Kernels{DotGeneric, Dot4Generic};
  }();
  return kernels;
}

}  // namespace jrvs::rag::simd
