#include "core/status.h"

#include <gtest/gtest.h>

namespace jrvs {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Error(StatusCode::kInvalidArgument, "odd");
  return v / 2;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s(StatusCode::kNotFound, "no such document");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "not_found: no such document");
}

TEST(StatusTest, ResultHoldsValueOrError) {
  auto good = Half(4);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
}

TEST(StatusTest, HttpMapping) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kMethodNotAllowed), 405);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(StatusCodeName(StatusCode::kPayloadTooLarge), "payload_too_large");
}

}  // namespace
}  // namespace jrvs
