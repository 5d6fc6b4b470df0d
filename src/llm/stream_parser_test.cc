// The NDJSON and SSE chat-stream parsers on hand-written lines: the protocol corners the fake
// server does not produce (comments, multi-line events, CRLF, error events, reasoning output).
#include "llm/stream_parser.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jrvs::llm {
namespace {

using ::testing::HasSubstr;

// Feeds every line, then End(); the content of all deltas joined, or the first error.
struct Parsed {
  Status status;
  std::string content;
  int outputs = 0;  // deltas that count as model output
  bool finished = false;
  ChatResult result;
};

Parsed Parse(StreamParser& parser, const std::vector<std::string>& lines) {
  Parsed p;
  std::vector<StreamDelta> deltas;
  for (const std::string& line : lines) {
    p.status = parser.Feed(line, &deltas);
    if (!p.status.ok()) break;
  }
  if (p.status.ok()) p.status = parser.End(&deltas);
  for (const StreamDelta& d : deltas) {
    p.content += d.content;
    if (d.output) ++p.outputs;
  }
  p.finished = parser.finished();
  parser.FillResult(&p.result);
  return p;
}

TEST(OllamaStreamParserTest, ContentThinkingAndFinalMessage) {
  auto parser = NewOllamaStreamParser();
  Parsed p = Parse(
      *parser,
      {
          R"({"model":"m1","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false})",
          R"({"model":"m1","message":{"role":"assistant","content":"Hi"},"done":false})",
          "",
          R"({"model":"m1","message":{"role":"assistant","content":" there"},"done":false})"
          "\r",
          R"({"model":"m1","message":{"role":"assistant","content":""},"done":true,)"
          R"("done_reason":"length","prompt_eval_count":12,"eval_count":3})",
          R"(this line comes after the end and is ignored)",
      });
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.content, "Hi there");
  EXPECT_EQ(p.outputs, 3);  // the thinking delta counts as output, without content
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.result.model, "m1");
  EXPECT_EQ(p.result.done_reason, "length");
  EXPECT_EQ(p.result.prompt_tokens, 12);
  EXPECT_EQ(p.result.completion_tokens, 3);
}

TEST(OllamaStreamParserTest, ErrorLineAndMalformedLine) {
  auto parser = NewOllamaStreamParser();
  Parsed error = Parse(*parser, {R"({"error":"model runner crashed"})"});
  EXPECT_EQ(error.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(error.status.message(), HasSubstr("model runner crashed"));

  parser = NewOllamaStreamParser();
  Parsed bad = Parse(*parser, {R"({"message":{"content":"x"})", R"({"message":)"});
  EXPECT_EQ(bad.status.code(), StatusCode::kInternal);
  EXPECT_THAT(bad.status.message(), HasSubstr("malformed NDJSON line"));

  parser = NewOllamaStreamParser();
  Parsed not_object = Parse(*parser, {"[1,2]"});
  EXPECT_EQ(not_object.status.code(), StatusCode::kInternal);
}

TEST(OllamaStreamParserTest, NoFinalMessageIsNotFinished) {
  auto parser = NewOllamaStreamParser();
  Parsed p = Parse(*parser, {R"({"message":{"content":"partial"},"done":false})"});
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.content, "partial");
  EXPECT_FALSE(p.finished);
}

TEST(SseStreamParserTest, EventsCommentsAndDone) {
  auto parser = NewOpenAiStreamParser();
  Parsed p = Parse(
      *parser,
      {
          ": keep-alive comment",
          R"(data: {"model":"m2","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
          "",
          R"(data:{"choices":[{"delta":{"reasoning_content":"thinking"}}]})",
          "",
          R"(data: {"choices":[{"delta":{"content":"Bon"}}]})"
          "\r",
          "\r",
          "id: 7",
          R"(data: {"choices":[{"delta":{"content":"jour"},"finish_reason":null}]})",
          "",
          R"(data: {"choices":[{"delta":{},"finish_reason":"length"}]})",
          "",
          R"(data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}})",
          "",
          "data: [DONE]",
          "",
      });
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.content, "Bonjour");
  EXPECT_EQ(p.outputs, 3);  // reasoning + two content deltas; the empty role delta is not
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.result.model, "m2");
  EXPECT_EQ(p.result.done_reason, "length");
  EXPECT_EQ(p.result.prompt_tokens, 9);
  EXPECT_EQ(p.result.completion_tokens, 2);
}

TEST(SseStreamParserTest, MultiLineDataIsJoinedIntoOneEvent) {
  auto parser = NewOpenAiStreamParser();
  Parsed p = Parse(*parser, {
                                R"(data: {"choices":[{"delta":)",
                                R"(data: {"content":"joined"}}]})",
                                "",
                            });
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.content, "joined");
  EXPECT_FALSE(p.finished);
}

TEST(SseStreamParserTest, LastEventWithoutBlankLineIsHandledAtTheEnd) {
  auto parser = NewOpenAiStreamParser();
  Parsed p =
      Parse(*parser, {R"(data: {"choices":[{"delta":{"content":"a"}}]})", "", "data: [DONE]"});
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.content, "a");
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.result.done_reason, "stop");
}

TEST(SseStreamParserTest, FinishReasonWithoutDoneCompletesTheStream) {
  auto parser = NewOpenAiStreamParser();
  Parsed p = Parse(*parser,
                   {R"(data: {"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]})", ""});
  ASSERT_TRUE(p.status.ok());
  EXPECT_TRUE(p.finished);
}

TEST(SseStreamParserTest, StreamWithoutEndIsNotFinished) {
  auto parser = NewOpenAiStreamParser();
  Parsed p = Parse(*parser, {R"(data: {"choices":[{"delta":{"content":"x"}}]})", ""});
  ASSERT_TRUE(p.status.ok());
  EXPECT_FALSE(p.finished);
}

TEST(SseStreamParserTest, ErrorEventsAndMalformedData) {
  auto parser = NewOpenAiStreamParser();
  Parsed error =
      Parse(*parser, {R"(data: {"error":{"message":"context too long","code":400}})", ""});
  EXPECT_EQ(error.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(error.status.message(), HasSubstr("context too long"));

  parser = NewOpenAiStreamParser();
  Parsed typed = Parse(*parser, {"event: error", R"(data: {"detail":"overloaded"})", ""});
  EXPECT_EQ(typed.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(typed.status.message(), HasSubstr("overloaded"));

  parser = NewOpenAiStreamParser();
  Parsed bad = Parse(*parser, {R"(data: {"choices":[{"delta")", ""});
  EXPECT_EQ(bad.status.code(), StatusCode::kInternal);
  EXPECT_THAT(bad.status.message(), HasSubstr("malformed SSE event"));
}

}  // namespace
}  // namespace jrvs::llm
