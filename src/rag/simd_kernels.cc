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

int32_t DotI8Generic(const int8_t* q, const int8_t* x, size_t d) {
  int32_t sum = 0;
  for (size_t i = 0; i < d; ++i) sum += int32_t{q[i]} * int32_t{x[i]};
  return sum;
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

// 32 products per step: maddubs multiplies unsigned by signed bytes, so |q| times x with q's
// sign moved onto x; pairs of products (at most 2 * 127 * 127) fit its 16-bit lanes.
__attribute__((target("avx2,fma"))) int32_t DotI8Avx2(const int8_t* q, const int8_t* x, size_t d) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(qv, qv), _mm256_sign_epi8(xv, qv));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; i < d; ++i) sum += int32_t{q[i]} * int32_t{x[i]};
  return sum;
}

}  // namespace

const Kernels& GetKernels() {
  static const Kernels kernels = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return avx2 ? Kernels{DotAvx2, Dot4Avx2, DotI8Avx2}
                : Kernels{DotGeneric, Dot4Generic, DotI8Generic};
  }();
  return kernels;
}

}  // namespace jrvs::rag::simd
