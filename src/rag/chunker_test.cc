#include "rag/chunker.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/text.h"

namespace jrvs::rag {
namespace {

ChunkerOptions Options(size_t max_chars, size_t overlap_chars) {
  ChunkerOptions o;
  o.max_chars = max_chars;
  o.overlap_chars = overlap_chars;
  return o;
}

std::string NonSpace(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (size_t w = text::SpaceLengthAt(s, i)) {
      i += w;
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

// Checks every documented guarantee of ChunkText for one input; returns the chunks.
std::vector<Chunk> CheckedChunks(const std::string& input, const ChunkerOptions& options) {
  std::vector<Chunk> chunks = ChunkText(input, options);
  std::string without_overlap;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    SCOPED_TRACE("chunk " + std::to_string(i) + " [" + std::to_string(c.start) + "," +
                 std::to_string(c.end) + ") max " + std::to_string(options.max_chars) +
                 " overlap " + std::to_string(options.overlap_chars) + ": " + c.text +
                 (i > 0 ? "\nprevious: " + chunks[i - 1].text : "") + "\ninput: " + input);
    EXPECT_FALSE(c.text.empty());
    EXPECT_LE(c.text.size(), options.max_chars);
    EXPECT_LT(c.start, c.end);
    EXPECT_LE(c.end, input.size());
    EXPECT_EQ(c.text, input.substr(c.start, c.end - c.start));
    EXPECT_TRUE(text::IsValidUtf8(c.text));
    EXPECT_EQ(text::TrimSpace(c.text), c.text);
    if (i == 0) {
      EXPECT_TRUE(text::TrimSpace(std::string_view(input).substr(0, c.start)).empty());
      without_overlap += c.text;
      continue;
    }
    const Chunk& prev = chunks[i - 1];
    EXPECT_GT(c.start, prev.start);
    EXPECT_GT(c.end, prev.end);
    if (c.start < prev.end) {
      EXPECT_LE(prev.end - c.start, options.overlap_chars);
      // The overlap starts on a word.
      EXPECT_TRUE(text::SpaceLengthBefore(input, c.start) > 0 ||
                  std::string_view(input).substr(0, c.start).ends_with("\u3002"));
      without_overlap += input.substr(prev.end, c.end - prev.end);
    } else {
      EXPECT_TRUE(
          text::TrimSpace(std::string_view(input).substr(prev.end, c.start - prev.end)).empty());
      without_overlap += c.text;
    }
  }
  if (!chunks.empty()) {
    EXPECT_TRUE(text::TrimSpace(std::string_view(input).substr(chunks.back().end)).empty());
  }
  EXPECT_EQ(NonSpace(without_overlap), NonSpace(input));
  return chunks;
}

// English-like text with abbreviations, decimals, paragraphs, long unpunctuated runs, giant
// tokens and multi-byte characters, from a fixed seed.
std::string RandomText(std::mt19937* rng) {
  static const std::vector<std::string> words = {"the",
                                                 "system",
                                                 "stores",
                                                 "documents",
                                                 "and",
                                                 "answers",
                                                 "questions",
                                                 "with",
                                                 "local",
                                                 "models",
                                                 "Mr.",
                                                 "Dr.",
                                                 "e.g.",
                                                 "3.14",
                                                 "U.S.",
                                                 "café",
                                                 "naïve",
                                                 "€100",
                                                 "東京",
                                                 "日本語",
                                                 "\U0001F600",
                                                 "it's",
                                                 "(see",
                                                 "below)",
                                                 "\"quoted\"",
                                                 "etc.",
                                                 "a",
                                                 "very-long-hyphenated-word",
                                                 "ÆØÅ",
                                                 "x",
                                                 "1,000",
                                                 "résumé",
                                                 "http://example.com/a/b.html"};
  std::uniform_int_distribution<int> kind(0, 99);
  std::string out;
  int sentences = 1 + int((*rng)() % 40);
  for (int s = 0; s < sentences; ++s) {
    int k = kind(*rng);
    int n_words = k < 80 ? 3 + int((*rng)() % 20) : 40 + int((*rng)() % 120);
    for (int w = 0; w < n_words; ++w) {
      if (w > 0) out += ((*rng)() % 25 == 0) ? "\n" : ((*rng)() % 30 == 0 ? "\u00A0" : " ");
      out += words[(*rng)() % words.size()];
    }
    if (k >= 95) {  // a giant token
      std::string giant;
      int len = 40 + int((*rng)() % 700);
      for (int i = 0; i < len; ++i) giant += ((*rng)() % 3 == 0) ? "\u00E9" : "z";
      out += " " + giant;
    }
    if (k < 90) out += std::vector<std::string>{".", "?", "!", "...", ".\"", "."}[(*rng)() % 6];
    out += ((*rng)() % 6 == 0) ? "\n\n" : ((*rng)() % 3 == 0 ? "  " : " ");
  }
  return out;
}

TEST(ChunkerOptionsTest, Validate) {
  EXPECT_TRUE(ChunkerOptions{}.Validate().ok());
  EXPECT_EQ(ChunkerOptions{}.max_chars, 512u);
  EXPECT_EQ(ChunkerOptions{}.overlap_chars, 64u);
  EXPECT_TRUE(Options(32, 0).Validate().ok());
  EXPECT_TRUE(Options(32, 31).Validate().ok());
  Status small = Options(31, 0).Validate();
  EXPECT_EQ(small.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(small.message().find("max_chars"), std::string::npos);
  Status overlap = Options(100, 100).Validate();
  EXPECT_EQ(overlap.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(overlap.message().find("overlap_chars"), std::string::npos);
}

TEST(ChunkerTest, EmptyAndWhitespaceGiveNoChunks) {
  EXPECT_TRUE(ChunkText("", {}).empty());
  EXPECT_TRUE(ChunkText(" \n\n\t \u00A0 ", {}).empty());
}

TEST(ChunkerTest, ShortTextIsOneTrimmedChunk) {
  std::string input = "  \n Hello world. How are you?  \n";
  std::vector<Chunk> chunks = CheckedChunks(input, {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Hello world. How are you?");
  EXPECT_EQ(chunks[0].start, 4u);
  EXPECT_EQ(chunks[0].end, 29u);
}

TEST(ChunkerTest, PacksWholeSentencesAndOverlapsWithTrailingSentences) {
  // Ten sentences of 30 bytes ("Sentence number N is here ok." padded), max 100, overlap 40:
  // three sentences fit a chunk, and the last one (30 <= 40) starts the next chunk.
  std::string input;
  std::vector<std::string> sentences;
  for (int i = 0; i < 10; ++i) {
    std::string s = "Sentence " + std::to_string(i) + " ends.";
    s.insert(s.size() - 1, std::string(30 - s.size(), 'y'));
    ASSERT_EQ(s.size(), 30u);
    sentences.push_back(s);
    input += s + " ";
  }
  std::vector<Chunk> chunks = CheckedChunks(input, Options(100, 40));
  ASSERT_GE(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].text, sentences[0] + " " + sentences[1] + " " + sentences[2]);
  EXPECT_EQ(chunks[1].text, sentences[2] + " " + sentences[3] + " " + sentences[4]);
  for (const Chunk& c : chunks) EXPECT_EQ(c.text.back(), '.') << c.text;
}

TEST(ChunkerTest, NoOverlapWhenDisabled) {
  std::string input;
  for (int i = 0; i < 50; ++i) input += "This is sentence number " + std::to_string(i) + ". ";
  std::vector<Chunk> chunks = CheckedChunks(input, Options(120, 0));
  ASSERT_GT(chunks.size(), 5u);
  for (size_t i = 1; i < chunks.size(); ++i) EXPECT_GT(chunks[i].start, chunks[i - 1].end);
}

TEST(ChunkerTest, LongLastSentenceOverlapsWithAWordTail) {
  // Each sentence is ~80 bytes, so only one fits a 100-byte chunk and it is longer than the
  // overlap: the next chunk starts with a tail of it, cut at a word, of at most 20 bytes.
  std::string a =
      "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron.";
  std::string b =
      "Second sentence has many small words in it so that a tail can be cut from it ok.";
  std::string c = "Third one is also rather long, about eighty bytes, to force another chunk here.";
  std::string input = a + " " + b + " " + c;
  std::vector<Chunk> chunks = CheckedChunks(input, Options(100, 20));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text, a);
  EXPECT_EQ(chunks[1].text, "mu nu xi omicron. " + b);   // "mu nu xi omicron." is 17 bytes
  EXPECT_EQ(chunks[2].text, "be cut from it ok. " + c);  // 18 bytes of b
  EXPECT_LE(chunks[2].text.size(), 100u);
}

TEST(ChunkerTest, PrefersParagraphBreaks) {
  std::string para1;
  while (para1.size() < 300) para1 += "First paragraph sentence. ";
  para1.pop_back();
  std::string para2;
  while (para2.size() < 400) para2 += "Second paragraph words. ";
  para2.pop_back();
  std::string input = para1 + "\n\n" + para2;
  std::vector<Chunk> chunks = CheckedChunks(input, Options(512, 0));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, para1);
  EXPECT_EQ(chunks[1].text, para2);
}

TEST(ChunkerTest, SmallParagraphsAreStillPacked) {
  // Paragraphs far below half a chunk are packed together rather than one per chunk.
  std::string input;
  for (int i = 0; i < 12; ++i) input += "Short paragraph " + std::to_string(i) + ".\n\n";
  std::vector<Chunk> chunks = CheckedChunks(input, Options(200, 0));
  EXPECT_LE(chunks.size(), 2u);
}

TEST(ChunkerTest, LongSentenceIsSplitOnWordBoundaries) {
  std::string input;
  for (int i = 0; i < 300; ++i) input += "word" + std::to_string(i % 10) + " ";
  std::vector<Chunk> chunks = CheckedChunks(input, Options(64, 10));
  ASSERT_GT(chunks.size(), 20u);
  for (const Chunk& c : chunks) {
    // Every chunk starts and ends on a word boundary.
    EXPECT_TRUE(c.start == 0 || input[c.start - 1] == ' ') << c.text;
    EXPECT_TRUE(c.end == input.size() || input[c.end] == ' ') << c.text;
  }
}

TEST(ChunkerTest, LongSentencePrefersClauseBoundaries) {
  std::string input;
  for (int i = 0; i < 20; ++i) input += "clause number " + std::to_string(i) + " goes here; ";
  std::vector<Chunk> chunks = CheckedChunks(input, Options(100, 0));
  for (size_t i = 0; i + 1 < chunks.size(); ++i) EXPECT_EQ(chunks[i].text.back(), ';');
}

TEST(ChunkerTest, GiantTokenIsCutOnCodePointBoundaries) {
  std::string input;
  for (int i = 0; i < 500; ++i) input += (i % 2) ? "\u4E2D" : "\U0001F600";  // 3 and 4 bytes
  std::vector<Chunk> chunks = CheckedChunks(input, Options(50, 10));
  ASSERT_GT(chunks.size(), 30u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_GE(chunks[i].text.size(), 47u);  // filled up to the limit: 50 minus a partial pair
    EXPECT_EQ(chunks[i].end, chunks[i + 1].start);  // no word to overlap on
  }
}

TEST(ChunkerTest, InvalidOptionsAreClamped) {
  std::string input;
  for (int i = 0; i < 40; ++i) input += "Sentence " + std::to_string(i) + ". ";
  std::vector<Chunk> chunks = ChunkText(input, Options(5, 100));
  ASSERT_FALSE(chunks.empty());
  for (const Chunk& c : chunks) EXPECT_LE(c.text.size(), 32u);
}

TEST(ChunkerTest, KeepsPunctuationAndTextExactly) {
  std::string input = "Q: What's new?! A: \"Everything\" (mostly)... Right; see e.g. 3.14!";
  std::vector<Chunk> chunks = CheckedChunks(input, Options(40, 12));
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, "Q: What's new?!");
  // The first sentence (15 bytes) exceeds the 12-byte overlap: a word tail of 12 bytes is used.
  EXPECT_EQ(chunks[1].text, "What's new?! A: \"Everything\" (mostly)...");
}

TEST(ChunkerPropertyTest, RandomTextsKeepEveryGuarantee) {
  const std::vector<ChunkerOptions> option_sets = {Options(32, 0),   Options(32, 31),
                                                   Options(64, 16),  Options(100, 20),
                                                   Options(512, 64), Options(200, 150)};
  std::mt19937 rng(20240601);
  for (int round = 0; round < 150; ++round) {
    std::string input = RandomText(&rng);
    for (const ChunkerOptions& options : option_sets) {
      std::vector<Chunk> first = CheckedChunks(input, options);
      if (::testing::Test::HasFailure()) return;  // one failing input is enough to report
      std::vector<Chunk> second = ChunkText(input, options);
      ASSERT_EQ(first.size(), second.size());
      for (size_t i = 0; i < first.size(); ++i) {
        ASSERT_EQ(first[i].start, second[i].start);
        ASSERT_EQ(first[i].end, second[i].end);
      }
    }
  }
}

TEST(ChunkerPropertyTest, FixtureDocumentWithDefaults) {
  const std::string doc =
      "# Installing jrvs\n\n"
      "jrvs runs on Debian 12. Install the packages with apt-get, e.g. `apt-get install "
      "libsqlite3-dev`. The U.S. mirror is fast; the EU one is fine too.\n\n"
      "## Configuration\n"
      "- Set `server.port` (default 8000).\n"
      "- Set `llm.ollama_url` if Ollama runs elsewhere.\n\n"
      "Dr. Smith measured 3.14 ms per request... Not bad! Was it the cache? Probably.\n\n" +
      std::string(2000, 'a') + " trailing words after a giant token.";
  std::vector<Chunk> chunks = CheckedChunks(doc, ChunkerOptions{});
  ASSERT_GE(chunks.size(), 5u);
  EXPECT_EQ(chunks[0].text.substr(0, 17), "# Installing jrvs");
}

}  // namespace
}  // namespace jrvs::rag
