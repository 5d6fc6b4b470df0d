#include "api/multipart.h"

#include <gtest/gtest.h>

namespace jrvs::api {
namespace {

TEST(MultipartTest, BoundaryFromContentType) {
  auto b = MultipartBoundary("multipart/form-data; boundary=----abc123");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, "----abc123");
  b = MultipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"quoted b\"");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, "quoted b");
  EXPECT_FALSE(MultipartBoundary("application/json"));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data"));
}

TEST(MultipartTest, ParsesFilesAndFields) {
  std::string body =
      "--XX\r\n"
      "Content-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "hello\r\nworld\r\n"
      "--XX\r\n"
      "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
      "My title\r\n"
      "--XX\r\n"
      "Content-Disposition: form-data; name=\"files\"; filename=\"b.bin\"\r\n\r\n" +
      std::string("\0\x01\x02", 3) + "\r\n--XX--\r\n";
  auto parts = ParseMultipart(body, "XX");
  ASSERT_TRUE(parts) << parts.error().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "files");
  EXPECT_EQ((*parts)[0].filename, "a.txt");
  EXPECT_EQ((*parts)[0].content_type, "text/plain");
  EXPECT_EQ((*parts)[0].data, "hello\r\nworld");
  EXPECT_EQ((*parts)[1].name, "title");
  EXPECT_EQ((*parts)[1].filename, "");
  EXPECT_EQ((*parts)[1].data, "My title");
  EXPECT_EQ((*parts)[2].data, std::string_view("\0\x01\x02", 3));
}

TEST(MultipartTest, RejectsMalformedBodies) {
  EXPECT_FALSE(ParseMultipart("no boundary here", "XX"));
  EXPECT_FALSE(ParseMultipart(
      "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "XX"));
  EXPECT_FALSE(ParseMultipart("--XX\r\nX-Other: 1\r\n\r\ndata\r\n--XX--", "XX"));
  EXPECT_FALSE(ParseMultipart("--XXjunk", "XX"));
}

}  // namespace
}  // namespace jrvs::api
