// ExtractiveClient: answers from the passages' best sentences, cited, streamed word by word.
#include "llm/extractive_client.h"

#include <atomic>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/metrics.h"
#include "llm/llm_test_util.h"

namespace jrvs::llm {
namespace {

using llm::testing::TokenRecorder;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kNoAnswer = "The knowledge base has nothing on this question.";

std::vector<Passage> Corpus() {
  return {
      {1, "Cats", std::nullopt,
       "Cats are small domesticated carnivores. They sleep for most of the day. A group of cats "
       "is called a clowder."},
      {2, "Eiffel Tower", std::string("https://example.com/eiffel"),
       "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 for "
       "the World's Fair. The tower is 330 metres tall, about the height of an 81-storey "
       "building. Tickets can be bought online."},
      {3, "Paris", std::nullopt,
       "Paris is the capital of France. The city is crossed by the Seine. Its museums include "
       "the Louvre."},
  };
}

ChatRequest Ask(std::string query, std::vector<Passage> passages) {
  ChatRequest r;
  r.query = std::move(query);
  r.passages = std::move(passages);
  return r;
}

TEST(ExtractiveClientTest, AnswersFromTheRelevantSentenceAndCitesItsPassage) {
  ExtractiveClient client;
  std::string answer = client.Answer("How tall is the Eiffel Tower?", Corpus());
  EXPECT_THAT(answer, HasSubstr("The tower is 330 metres tall"));
  EXPECT_THAT(answer, HasSubstr("[2]"));
  EXPECT_THAT(answer, Not(HasSubstr("[1]")));
  EXPECT_THAT(answer, Not(HasSubstr("Tickets")));  // shares no query term
  EXPECT_THAT(answer, Not(HasSubstr("clowder")));
  EXPECT_THAT(answer, EndsWith("[2]"));
}

TEST(ExtractiveClientTest, PicksTheSentencesThatMatchAndKeepsPassageOrder) {
  ExtractiveClient client;
  // "capital" and "France" only match the Paris passage (rank 3); "cats" and "clowder" the
  // cats passage (rank 1). The two best sentences are taken, in passage order, each with its
  // citation; "Cats are small ..." matches one common term only and scores under half the best.
  std::string answer = client.Answer("capital of France, and what is a clowder of cats", Corpus());
  EXPECT_EQ(answer, "A group of cats is called a clowder. [1] Paris is the capital of France. [3]");
}

TEST(ExtractiveClientTest, StemmingMatchesWordForms) {
  ExtractiveClient client;
  std::vector<Passage> passages = {
      {4, "Sleep", std::nullopt, "Dogs were barking loudly all night. Cats sleeping in the sun."}};
  std::string answer = client.Answer("why do cats sleep", passages);
  EXPECT_EQ(answer, "Cats sleeping in the sun. [4]");
}

TEST(ExtractiveClientTest, SaysPlainlyWhenNothingMatches) {
  ExtractiveClient client;
  EXPECT_EQ(client.Answer("quantum chromodynamics", Corpus()), kNoAnswer);
  EXPECT_EQ(client.Answer("How tall is the Eiffel Tower?", {}), kNoAnswer);
  EXPECT_EQ(client.Answer("what is it and who are they", Corpus()), kNoAnswer);  // stop words
  EXPECT_EQ(client.Answer("", Corpus()), kNoAnswer);
}

TEST(ExtractiveClientTest, StaysWithinTheBudgetAndSentenceCount) {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += "Solar panels convert sunlight into electricity number " + std::to_string(i) +
            " with silicon cells and inverters. ";
  }
  ExtractiveOptions options;
  options.max_answer_bytes = 200;
  options.max_sentences = 3;
  ExtractiveClient client(options);
  std::string answer =
      client.Answer("how do solar panels make electricity", {{1, "Solar", {}, text}});
  ASSERT_NE(answer, kNoAnswer);
  size_t sentences = 0;
  for (size_t pos = 0; (pos = answer.find("inverters.", pos)) != std::string::npos; ++pos) {
    ++sentences;
  }
  EXPECT_GE(sentences, 1u);
  EXPECT_LE(sentences, 3u);
  EXPECT_LE(answer.size(), 200u + std::string(" [1]").size());

  options.max_sentences = 1;
  options.max_answer_bytes = 600;
  EXPECT_EQ(ExtractiveClient(options).Answer("solar panels", {{1, "Solar", {}, text}}),
            "Solar panels convert sunlight into electricity number 0 with silicon cells and "
            "inverters. [1]");
}

TEST(ExtractiveClientTest, OverlongBestSentenceIsCutAtAWord) {
  std::string sentence = "Glaciers";
  for (int i = 0; i < 100; ++i) sentence += " slowly carve valleys";
  sentence += ".";
  ExtractiveOptions options;
  options.max_answer_bytes = 100;
  std::string answer = ExtractiveClient(options).Answer("glaciers", {{7, "Ice", {}, sentence}});
  EXPECT_THAT(answer, EndsWith("… [7]"));
  EXPECT_LE(answer.size(), 100u + std::string(" [7]").size());
  EXPECT_THAT(answer, ::testing::StartsWith("Glaciers slowly carve valleys"));
  EXPECT_THAT(answer, Not(HasSubstr("  ")));
}

TEST(ExtractiveClientTest, DropsDuplicatesHeadingsAndMarkdownMarkers) {
  // Overlapping chunks repeat a sentence; the heading and the table row are not answers.
  std::vector<Passage> passages = {
      {1, "Guide", {}, "# Installing the widget\n\n- Run the widget installer as root.\n"},
      {2, "Guide", {}, "Run the widget installer as root.\n\n| widget | installer |\n"},
  };
  std::string answer = ExtractiveClient().Answer("how to install the widget", passages);
  EXPECT_EQ(answer, "Run the widget installer as root. [1]");
}

TEST(ExtractiveClientTest, EarlierPassagesWinTies) {
  std::vector<Passage> passages = {
      {5, "A", {}, "Volcanoes erupt when magma rises."},
      {6, "B", {}, "Volcanoes erupt when pressure builds."},
  };
  ExtractiveOptions options;
  options.max_sentences = 1;
  std::string answer = ExtractiveClient(options).Answer("volcanoes erupt", passages);
  EXPECT_EQ(answer, "Volcanoes erupt when magma rises. [5]");
}

TEST(ExtractiveClientTest, ChatStreamsTheAnswerWordByWord) {
  MetricsRegistry registry;
  ExtractiveOptions options;
  options.metrics = &registry;
  ExtractiveClient client(options);
  TokenRecorder tokens;
  auto r = client.Chat(Ask("How tall is the Eiffel Tower?", Corpus()), tokens.Callback(), nullptr);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->text, client.Answer("How tall is the Eiffel Tower?", Corpus()));
  EXPECT_EQ(tokens.Joined(), r->text);
  ASSERT_GT(tokens.size(), 3u);
  EXPECT_EQ(tokens.tokens()[0], "The");  // words, each after the first with its leading space
  EXPECT_EQ(tokens.tokens()[1], " Eiffel");
  const std::vector<std::string> words = tokens.tokens();
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& t = words[i];
    EXPECT_TRUE(t.size() >= 2 && t[0] == ' ' && t.find(' ', 1) == std::string::npos) << t;
  }
  EXPECT_EQ(r->model, "extractive");
  EXPECT_EQ(r->done_reason, "stop");
  EXPECT_EQ(r->completion_tokens, static_cast<int64_t>(tokens.size()));
  EXPECT_EQ(r->attempts, 0);
  EXPECT_TRUE(r->warning.empty());
  EXPECT_THAT(registry.Render(),
              HasSubstr("llm_requests_total{provider=\"extractive\",outcome=\"ok\"} 1"));
}

TEST(ExtractiveClientTest, ChatIsDeterministic) {
  ExtractiveClient client;
  auto a = client.Chat(Ask("Paris museums and the Seine", Corpus()), nullptr, nullptr);
  auto b = client.Chat(Ask("Paris museums and the Seine", Corpus()), nullptr, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->text, b->text);
  EXPECT_THAT(a->text, HasSubstr("[3]"));
}

TEST(ExtractiveClientTest, ChatTakesTheQuestionFromTheLastUserMessage) {
  ExtractiveClient client;
  ChatRequest request = Ask("", Corpus());
  request.messages = {{"user", "tell me about cats"},
                      {"assistant", "Cats are small."},
                      {"user", "When was the Eiffel Tower completed?"}};
  auto r = client.Chat(request, nullptr, nullptr);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->text, HasSubstr("completed in 1889"));
  EXPECT_THAT(r->text, HasSubstr("[2]"));
}

TEST(ExtractiveClientTest, ChatWithNothingToSayStillStreams) {
  ExtractiveClient client;
  TokenRecorder tokens;
  auto r = client.Chat(Ask("anything", {}), tokens.Callback(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, kNoAnswer);
  EXPECT_EQ(tokens.Joined(), kNoAnswer);
}

TEST(ExtractiveClientTest, ChatCanBeCancelled) {
  ExtractiveClient client;
  TokenRecorder tokens;
  auto by_callback =
      client.Chat(Ask("How tall is the Eiffel Tower?", Corpus()), tokens.Callback(2), nullptr);
  ASSERT_FALSE(by_callback);
  EXPECT_EQ(by_callback.error().code(), StatusCode::kCancelled);
  EXPECT_EQ(tokens.size(), 2u);

  std::atomic<bool> cancel{true};
  auto by_flag = client.Chat(Ask("How tall is the Eiffel Tower?", Corpus()), nullptr, &cancel);
  ASSERT_FALSE(by_flag);
  EXPECT_EQ(by_flag.error().code(), StatusCode::kCancelled);
}

TEST(ExtractiveClientTest, ModelListAndHealth) {
  ExtractiveClient client;
  EXPECT_EQ(client.provider(), "extractive");
  auto models = client.ListModels();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].name, "extractive");
  EXPECT_TRUE(client.DescribeModel("extractive"));
  EXPECT_FALSE(client.DescribeModel("llama3"));
  EXPECT_TRUE(client.Health().ok);
}

TEST(ExtractiveOptionsTest, ValidationNamesTheField) {
  EXPECT_TRUE(ExtractiveOptions{}.Validate().ok());
  ExtractiveOptions options;
  options.max_answer_bytes = 10;
  EXPECT_THAT(options.Validate().message(), HasSubstr("max_answer_bytes"));
  options = {};
  options.max_sentences = 0;
  EXPECT_THAT(options.Validate().message(), HasSubstr("max_sentences"));
  options = {};
  options.min_relative_score = 1.5;
  EXPECT_THAT(options.Validate().message(), HasSubstr("min_relative_score"));
}

}  // namespace
}  // namespace jrvs::llm
