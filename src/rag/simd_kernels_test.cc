// The run-time-selected kernels agree with plain loops (float within rounding, int8 exactly),
// including lengths that are not a multiple of the vector width; the half-precision conversions
// agree bit for bit with IEEE binary16 and with each other.
#include "rag/simd_kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
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

// Known binary16 encodings, both ways, on the fast and the portable kernels.
TEST(SimdKernelsTest, HalfConversionsMatchIeeeBinary16) {
  struct Case {
    float value;
    uint16_t bits;
  };
  const Case exact[] = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3C00},
      {-2.0f, 0xC000},
      {0.5f, 0x3800},
      {65504.0f, 0x7BFF},
      {6.103515625e-05f, 0x0400},  // smallest normal
      {5.9604645e-08f, 0x0001},    // smallest subnormal, 2^-24
      {6.0975552e-05f, 0x03FF},    // largest subnormal
      {0.333251953125f, 0x3555},
  };
  for (const Kernels* k : {&GetKernels(), &GenericKernels()}) {
    for (const Case& c : exact) {
      uint16_t h = 0;
      k->to_f16(&c.value, 1, &h);
      EXPECT_EQ(h, c.bits) << c.value;
      float back = 0;
      k->from_f16(&c.bits, 1, &back);
      EXPECT_EQ(std::bit_cast<uint32_t>(back), std::bit_cast<uint32_t>(c.value)) << c.value;
    }
    // Rounding: to nearest, ties to even; overflow to infinity; below half the smallest
    // subnormal to zero.
    const Case rounded[] = {
        {1.0f + 1.0f / 2048, 0x3C00},  // tie between 0x3C00 and 0x3C01: even
        {1.0f + 3.0f / 2048, 0x3C02},  // tie between 0x3C01 and 0x3C02: even
        {1.0f + 1.1f / 2048, 0x3C01},  // above the tie
        {65519.0f, 0x7BFF},            // below 65520 stays finite
        {65520.0f, 0x7C00},            // rounds up to infinity
        {1e9f, 0x7C00},
        {-1e9f, 0xFC00},
        {2.9802322e-08f, 0x0000},  // exactly half of 2^-24: tie to even (zero)
        {4.4703484e-08f, 0x0001},  // 0.75 * 2^-24
        {std::numeric_limits<float>::infinity(), 0x7C00},
    };
    for (const Case& c : rounded) {
      uint16_t h = 0;
      k->to_f16(&c.value, 1, &h);
      EXPECT_EQ(h, c.bits) << c.value;
    }
  }
}

// Every half value survives half -> float -> half, and the fast kernels convert long arrays
// (vector body and scalar tail) exactly like the portable ones.
TEST(SimdKernelsTest, HalfConversionsRoundTripAndAgree) {
  const Kernels& fast = GetKernels();
  const Kernels& slow = GenericKernels();
  std::vector<uint16_t> all;
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint32_t exponent = (h >> 10) & 0x1F;
    if (exponent == 0x1F && (h & 0x3FF) != 0) continue;  // NaNs have no single encoding
    all.push_back(static_cast<uint16_t>(h));
  }
  std::vector<float> wide(all.size()), wide_slow(all.size());
  fast.from_f16(all.data(), all.size(), wide.data());
  slow.from_f16(all.data(), all.size(), wide_slow.data());
  std::vector<uint16_t> back(all.size());
  fast.to_f16(wide.data(), wide.size(), back.data());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(wide[i]), std::bit_cast<uint32_t>(wide_slow[i])) << all[i];
    ASSERT_EQ(back[i], all[i]);
  }
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> exponent(-30, 17);
  std::vector<float> values(10007);
  for (auto& v : values) v = std::exp2(exponent(rng)) * (rng() % 2 == 0 ? 1.0f : -1.0f);
  std::vector<uint16_t> a(values.size()), b(values.size());
  fast.to_f16(values.data(), values.size(), a.data());
  slow.to_f16(values.data(), values.size(), b.data());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(a[i], b[i]) << values[i];
}

// Products against half rows equal the float products of the widened rows.
TEST(SimdKernelsTest, HalfDotsMatchWidenedRows) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> real(-1, 1);
  const Kernels& k = GetKernels();
  for (size_t d : {1u, 7u, 8u, 15u, 16u, 17u, 384u, 385u}) {
    std::vector<float> q(d), rows(4 * d), widened(4 * d);
    for (auto& v : q) v = real(rng);
    for (auto& v : rows) v = real(rng);
    std::vector<uint16_t> half(4 * d);
    k.to_f16(rows.data(), rows.size(), half.data());
    k.from_f16(half.data(), half.size(), widened.data());
    float four[4];
    k.dot4_f16(q.data(), half.data(), d, four);
    for (size_t r = 0; r < 4; ++r) {
      double want = 0;
      for (size_t i = 0; i < d; ++i) want += double{q[i]} * widened[r * d + i];
      EXPECT_NEAR(k.dot_f16(q.data(), half.data() + r * d, d), want, 1e-5 * d) << d;
      EXPECT_NEAR(GenericKernels().dot_f16(q.data(), half.data() + r * d, d), want, 1e-5 * d);
      EXPECT_NEAR(four[r], want, 1e-5 * d) << d;
      // Against the float row itself the error is half's rounding: < 2^-11 relative per value.
      double exact = 0;
      for (size_t i = 0; i < d; ++i) exact += double{q[i]} * rows[r * d + i];
      EXPECT_NEAR(four[r], exact, 5e-4 * std::sqrt(double(d))) << d;
    }
  }
}

}  // namespace
}  // namespace jrvs::rag::simd
