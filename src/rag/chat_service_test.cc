#include "rag/chat_service.h"

#include <gtest/gtest.h>

#include <random>

namespace jrvs::rag {
namespace {

TEST(CitationFilterTest, KeepsValidAndDropsDanglingCitations) {
  EXPECT_EQ(StripDanglingCitations("Bees dance [1] and sing [7].", {1, 2}),
            "Bees dance [1] and sing .");
  EXPECT_EQ(StripDanglingCitations("See [2][3] and [x] or [ 1] or [].", {2}),
            "See [2] and [x] or [ 1] or [].");
  EXPECT_EQ(StripDanglingCitations("Unclosed [12", {12}), "Unclosed [12");
  EXPECT_EQ(StripDanglingCitations("Nested [[1]]", {1}), "Nested [[1]]");
}

TEST(CitationFilterTest, StreamingSplitsAnywhereGiveTheSameResult) {
  const std::string text = "Answer [1] with [3] dangling [2] and [10] text [1]";
  const std::string expected = StripDanglingCitations(text, {1, 2});
  EXPECT_EQ(expected, "Answer [1] with  dangling [2] and  text [1]");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string streamed;
    CitationFilter filter({1, 2}, [&](std::string_view s) {
      streamed.append(s);
      return true;
    });
    size_t pos = 0;
    while (pos < text.size()) {
      size_t len = 1 + rng() % 4;
      filter.Feed(std::string_view(text).substr(pos, len));
      pos += len;
    }
    filter.Finish();
    EXPECT_EQ(streamed, expected);
    EXPECT_EQ(filter.output(), expected);
  }
}

TEST(CitationFilterTest, SinkCanStopTheStream) {
  int calls = 0;
  CitationFilter filter({}, [&](std::string_view) { return ++calls < 2; });
  EXPECT_TRUE(filter.Feed("a"));
  EXPECT_FALSE(filter.Feed("b"));
}

}  // namespace
}  // namespace jrvs::rag
