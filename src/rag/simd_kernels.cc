// The kernels declared in rag/simd_kernels.h: portable ones (FAISS's baseline kernel for floats),
// AVX2/FMA/F16C ones compiled for those targets only (the rest of the build stays baseline
// x86-64), and the run-time CPU check that picks between them.
#include "rag/simd_kernels.h"

#include <immintrin.h>

#include <bit>
#include <cmath>

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

float HalfToFloat(uint16_t h) {
  const bool negative = (h & 0x8000u) != 0;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float f = std::ldexp(static_cast<float>(mantissa), -24);
    return negative ? -f : f;
  }
  const uint32_t sign = negative ? 0x80000000u : 0u;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to infinity
  if (magnitude >= 0x38800000u) {                       // >= 2^-14: a normal half
    const uint32_t mantissa = magnitude & 0x7FFFFFu;
    uint32_t h = (((magnitude >> 23) - 112) << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // a carry may bump the exponent
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal or zero: units of 2^-24, rounded to nearest even (the scaling is exact).
  const float units = std::bit_cast<float>(magnitude) * 16777216.0f;
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(units)));
}

float DotF16Generic(const float* q, const uint16_t* x, size_t d) {
  float sum = 0;
  for (size_t i = 0; i < d; ++i) sum += q[i] * HalfToFloat(x[i]);
  return sum;
}

void Dot4F16Generic(const float* q, const uint16_t* x, size_t d, float* out) {
  for (size_t r = 0; r < 4; ++r) out[r] = DotF16Generic(q, x + r * d, d);
}

void ToF16Generic(const float* x, size_t n, uint16_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = FloatToHalf(x[i]);
}

void FromF16Generic(const uint16_t* x, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(x[i]);
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

#define JRVS_F16_TARGET __attribute__((target("avx2,fma,f16c")))

JRVS_F16_TARGET inline __m256 LoadHalves(const uint16_t* x) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
}

JRVS_F16_TARGET float DotF16Avx2(const float* q, const uint16_t* x, size_t d) {
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalves(x + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LoadHalves(x + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalves(x + i), s0);
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) sum += q[i] * HalfToFloat(x[i]);
  return sum;
}

JRVS_F16_TARGET void Dot4F16Avx2(const float* q, const uint16_t* x, size_t d, float* out) {
  const uint16_t* x0 = x;
  const uint16_t* x1 = x + d;
  const uint16_t* x2 = x + 2 * d;
  const uint16_t* x3 = x + 3 * d;
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    s0 = _mm256_fmadd_ps(qv, LoadHalves(x0 + i), s0);
    s1 = _mm256_fmadd_ps(qv, LoadHalves(x1 + i), s1);
    s2 = _mm256_fmadd_ps(qv, LoadHalves(x2 + i), s2);
    s3 = _mm256_fmadd_ps(qv, LoadHalves(x3 + i), s3);
  }
  out[0] = HorizontalSum(s0);
  out[1] = HorizontalSum(s1);
  out[2] = HorizontalSum(s2);
  out[3] = HorizontalSum(s3);
  for (; i < d; ++i) {
    out[0] += q[i] * HalfToFloat(x0[i]);
    out[1] += q[i] * HalfToFloat(x1[i]);
    out[2] += q[i] * HalfToFloat(x2[i]);
    out[3] += q[i] * HalfToFloat(x3[i]);
  }
}

JRVS_F16_TARGET void ToF16Avx2(const float* x, size_t n, uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = FloatToHalf(x[i]);
}

JRVS_F16_TARGET void FromF16Avx2(const uint16_t* x, size_t n, float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, LoadHalves(x + i));
  for (; i < n; ++i) out[i] = HalfToFloat(x[i]);
}

#undef JRVS_F16_TARGET

}  // namespace

const Kernels& GenericKernels() {
  static const Kernels kernels{DotGeneric,     Dot4Generic,  DotI8Generic,  DotF16Generic,
                               Dot4F16Generic, ToF16Generic, FromF16Generic};
  return kernels;
}

const Kernels& GetKernels() {
  static const Kernels kernels = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool f16c = avx2 && __builtin_cpu_supports("f16c");
    Kernels k = GenericKernels();
    if (avx2) {
      k.dot = DotAvx2;
      k.dot4 = Dot4Avx2;
      k.dot_i8 = DotI8Avx2;
    }
    if (f16c) {
      k.dot_f16 = DotF16Avx2;
      k.dot4_f16 = Dot4F16Avx2;
      k.to_f16 = ToF16Avx2;
      k.from_f16 = FromF16Avx2;
    }
    return k;
  }();
  return kernels;
}

}  // namespace jrvs::rag::simd
