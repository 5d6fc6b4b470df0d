// The run-time-selected kernels agree with plain loops (float within rounding, int8 exactly),
// including lengths that are not a multiple of the vector width.
#include "rag/simd_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace jrvs::rag::simd {
namespace {

TEST(SimdKernelsTest, MatchPlainLoops) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> real(-1, 1);
  std::uniform_int_distribution<int> byte(-127, 127);
  const Kernels& k = GetKernels();
  for (size_t d : {1u, 7u, 16u, 31u, 32u, 33u, 384u, 385u}) {
    std::vector<float> a(d), b(4 * d);
    std::vector<int8_t> qa(d), qb(d);
    for (auto& v : a) v = real(rng);
    for (auto& v : b) v = real(rng);
    for (auto& v : qa) v = static_cast<int8_t>(byte(rng));
    for (auto& v : qb) v = static_cast<int8_t>(byte(rng));
    double want = 0;
    int32_t want8 = 0;
    for (size_t i = 0; i < d; ++i) {
      want += double{a[i]} * b[i];
      want8 += int32_t{qa[i]} * qb[i];
    }
    EXPECT_NEAR(k.dot(a.data(), b.data(), d), want, 1e-4 * d) << d;
    float four[4];
    k.dot4(a.data(), b.data(), d, four);
    EXPECT_NEAR(four[0], want, 1e-4 * d) << d;
    EXPECT_EQ(k.dot_i8(qa.data(), qb.data(), d), want8) << d;
  }
  // The extremes: every product +-127 * 127 (the 16-bit pair sums must not saturate).
  std::vector<int8_t> hi(64, 127), lo(64, -127);
  EXPECT_EQ(k.dot_i8(hi.data(), hi.data(), 64), 64 * 127 * 127);
  EXPECT_EQ(k.dot_i8(hi.data(), lo.data(), 64), -64 * 127 * 127);
  EXPECT_EQ(k.dot_i8(lo.data(), lo.data(), 64), 64 * 127 * 127);
}

}  // namespace
}  // namespace jrvs::rag::simd
