#include "core/text.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace jrvs::text {
namespace {

// ---- UTF-8 ----

TEST(Utf8Test, DecodeValidAndInvalidSequences) {
  std::string s = "a\u00E9\u20AC\U0001F600";
  size_t pos = 0;
  EXPECT_EQ(DecodeUtf8(s, &pos), U'a');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\u00E9');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\u20AC');
  EXPECT_EQ(DecodeUtf8(s, &pos), U'\U0001F600');
  EXPECT_EQ(pos, s.size());

  for (std::string bad : {std::string("\xC0\xAF"), std::string("\xE0\x80\xAF"),  // overlong
                          std::string("\xED\xA0\x80"),                           // surrogate
                          std::string("\xF4\x90\x80\x80"),                       // > U+10FFFF
                          std::string("\x80"), std::string("\xE2\x82")}) {       // stray, cut
    size_t p = 0;
    EXPECT_EQ(DecodeUtf8(bad, &p), char32_t(0xFFFD)) << bad;
    EXPECT_EQ(p, 1u);
    EXPECT_FALSE(IsValidUtf8(bad));
  }
}

TEST(Utf8Test, AppendRoundTrips) {
  for (char32_t cp : {U'A', U'\u00FF', U'\u0800', U'\uFFFD', U'\U00010000', U'\U0010FFFF'}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t pos = 0;
    EXPECT_EQ(DecodeUtf8(s, &pos), cp);
    EXPECT_EQ(pos, s.size());
  }
  std::string s;
  AppendUtf8(0xD800, &s);  // not a scalar value
  EXPECT_EQ(s, "\uFFFD");
}

TEST(Utf8Test, ValidPrefixAndSanitize) {
  std::string s = "ok \u00E9\xFFtail";
  EXPECT_EQ(ValidUtf8PrefixLength(s), 5u);
  EXPECT_EQ(SanitizeUtf8(s), "ok \u00E9\uFFFDtail");
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8("\x80\x80\xE2\x82")));
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
}

TEST(Utf8Test, TruncateNeverCutsACodePoint) {
  std::string s = "ab\u20AC";  // 2 + 3 bytes
  EXPECT_EQ(TruncateUtf8(s, 5), s);
  EXPECT_EQ(TruncateUtf8(s, 4), "ab");
  EXPECT_EQ(TruncateUtf8(s, 3), "ab");
  EXPECT_EQ(TruncateUtf8(s, 2), "ab");
  EXPECT_EQ(TruncateUtf8(s, 1), "a");
  EXPECT_EQ(TruncateUtf8(s, 0), "");
  EXPECT_EQ(TruncateUtf8("\U0001F600", 3), "");
  // Stray continuation bytes are single units.
  EXPECT_EQ(TruncateUtf8("a\x80\x80\x80\x80", 3), "a\x80\x80");
}

TEST(Utf8Test, TruncateRandomTextStaysValid) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"a", " ", "\u00E9", "\u20AC", "\U0001F600", "\u4E2D"};
  for (int round = 0; round < 200; ++round) {
    std::string s;
    for (int i = 0; i < 30; ++i) s += pieces[rng() % pieces.size()];
    for (size_t max = 0; max <= s.size(); ++max) {
      std::string_view t = TruncateUtf8(s, max);
      ASSERT_LE(t.size(), max);
      ASSERT_TRUE(IsValidUtf8(t));
      ASSERT_GT(t.size() + 4, max);  // never gives up more than one code point
    }
  }
}

// ---- whitespace and folding ----

TEST(SpaceTest, UnicodeSpacesAndTrim) {
  EXPECT_EQ(SpaceLengthAt("\u00A0x", 0), 2u);
  EXPECT_EQ(SpaceLengthAt("\u3000x", 0), 3u);
  EXPECT_EQ(SpaceLengthAt("\u2003", 0), 3u);
  EXPECT_EQ(SpaceLengthAt("\u00E9", 0), 0u);
  EXPECT_EQ(SpaceLengthBefore("x\u2029", 4), 3u);
  EXPECT_EQ(TrimSpace(" \t\u00A0hello world\u3000\n"), "hello world");
  EXPECT_EQ(TrimSpace(" \n "), "");
}

TEST(NormalizeTest, FoldsCaseAccentsAndWhitespace) {
  EXPECT_EQ(Normalize("  Hello,\t\tWORLD!\n\n"), "hello, world!");
  EXPECT_EQ(Normalize("Café Crème Brûlée"), "cafe creme brulee");
  EXPECT_EQ(Normalize("Straße ÆON Øre Þorn"), "strasse aeon ore thorn");
  EXPECT_EQ(Normalize("Łódź Čech Œuvre Ĳssel ŠKODA"), "lodz cech oeuvre ijssel skoda");
  EXPECT_EQ(Normalize("e\u0301te\u0301"), "ete");  // combining accents
  EXPECT_EQ(Normalize("ΑΘΗΝΑ Москва"), "αθηνα москва");
  EXPECT_EQ(Normalize("\u201Cquoted\u201D \u2018it\u2019s\u2019 a\u2014b \uFB01ne"),
            "\"quoted\" 'it's' a-b fine");
  EXPECT_EQ(Normalize("ＡＢＣ１２３"), "abc123");
  EXPECT_EQ(Normalize("bad\xFF"), "bad\uFFFD");
  EXPECT_EQ(Normalize(" \u00A0 "), "");
}

// ---- tokens ----

TEST(TokenizeTest, WordsLowerCasedAndFolded) {
  EXPECT_EQ(Tokenize("Hello, World! It's 3.14 and 1,000 items; state-of-the-art."),
            (std::vector<std::string>{"hello", "world", "it", "3.14", "and", "1000", "items",
                                      "state", "of", "the", "art"}));
}

TEST(TokenizeTest, Apostrophes) {
  EXPECT_EQ(
      Tokenize("don't John's O'Neill rock'n'roll 'quoted' James' can\u2019t"),
      (std::vector<std::string>{"dont", "john", "oneill", "rocknroll", "quoted", "james", "cant"}));
  // A possessive is dropped only at the end of a word.
  EXPECT_EQ(Tokenize("o'sullivan"), (std::vector<std::string>{"osullivan"}));
}

TEST(TokenizeTest, UnicodeLettersAreWordCharacters) {
  EXPECT_EQ(Tokenize("Déjà-vu naïve ΣΟΦΙΑ Привет 東京タワー العربية"),
            (std::vector<std::string>{"deja", "vu", "naive", "σοφια", "привет", "東京タワー",
                                      "العربية"}));
  EXPECT_EQ(Tokenize("emoji\U0001F600split \u2192arrow \u00BFque?"),
            (std::vector<std::string>{"emoji", "split", "arrow", "que"}));
  EXPECT_EQ(Tokenize("soft\u00ADhyphen"), (std::vector<std::string>{"softhyphen"}));
  EXPECT_EQ(Tokenize("\u0301 lone"), (std::vector<std::string>{"lone"}));
  EXPECT_TRUE(Tokenize(" ,.;!? -- ").empty());
  EXPECT_TRUE(Tokenize("").empty());
}

TEST(TokenizeTest, StreamReportsOffsets) {
  std::string s = "  Héllo, wörld";
  TokenStream stream(s);
  std::string token;
  ASSERT_TRUE(stream.Next(&token));
  EXPECT_EQ(token, "hello");
  EXPECT_EQ(s.substr(stream.token_begin(), stream.token_end() - stream.token_begin()), "Héllo");
  ASSERT_TRUE(stream.Next(&token));
  EXPECT_EQ(token, "world");
  EXPECT_EQ(stream.token_end(), s.size());
  EXPECT_FALSE(stream.Next(&token));
  EXPECT_TRUE(token.empty());
}

TEST(TokenizeTest, InvalidBytesSeparateWords) {
  std::vector<std::string> tokens = Tokenize(
      "abc\xFF\xFE"
      "def");
  EXPECT_EQ(tokens, (std::vector<std::string>{"abc", "def"}));
}

TEST(StopWordTest, CommonFunctionWords) {
  for (const char* w : {"the", "a", "is", "of", "and", "dont", "yourselves", "which"}) {
    EXPECT_TRUE(IsStopWord(w)) << w;
  }
  for (const char* w : {"debian", "install", "package", "", "The", "theory"}) {
    EXPECT_FALSE(IsStopWord(w)) << w;
  }
}

// ---- Porter stemmer ----

// Expected stems produced by SQLite 3.40 FTS5 `tokenize='porter ascii'` (fts5vocab), covering
// the examples of Porter's paper.
TEST(PorterStemTest, MatchesFts5OnPaperExamples) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"caresses", "caress"},
      {"ponies", "poni"},
      {"ties", "ti"},
      {"caress", "caress"},
      {"cats", "cat"},
      {"feed", "feed"},
      {"agreed", "agre"},
      {"plastered", "plaster"},
      {"bled", "bled"},
      {"motoring", "motor"},
      {"sing", "sing"},
      {"conflated", "conflat"},
      {"troubled", "troubl"},
      {"sized", "size"},
      {"hopping", "hop"},
      {"tanned", "tan"},
      {"falling", "fall"},
      {"hissing", "hiss"},
      {"fizzed", "fizz"},
      {"failing", "fail"},
      {"filing", "file"},
      {"happy", "happi"},
      {"sky", "sky"},
      {"relational", "relat"},
      {"conditional", "condit"},
      {"rational", "ration"},
      {"valenci", "valenc"},
      {"hesitanci", "hesit"},
      {"digitizer", "digit"},
      {"conformabli", "conform"},
      {"radicalli", "radic"},
      {"differentli", "differ"},
      {"vileli", "vile"},
      {"analogousli", "analog"},
      {"vietnamization", "vietnam"},
      {"predication", "predic"},
      {"operator", "oper"},
      {"feudalism", "feudal"},
      {"decisiveness", "decis"},
      {"hopefulness", "hope"},
      {"callousness", "callous"},
      {"formaliti", "formal"},
      {"sensitiviti", "sensit"},
      {"sensibiliti", "sensibl"},
      {"triplicate", "triplic"},
      {"formative", "form"},
      {"formalize", "formal"},
      {"electriciti", "electr"},
      {"electrical", "electr"},
      {"hopeful", "hope"},
      {"goodness", "good"},
      {"revival", "reviv"},
      {"allowance", "allow"},
      {"inference", "infer"},
      {"airliner", "airlin"},
      {"gyroscopic", "gyroscop"},
      {"adjustable", "adjust"},
      {"defensible", "defens"},
      {"irritant", "irrit"},
      {"replacement", "replac"},
      {"adjustment", "adjust"},
      {"dependent", "depend"},
      {"adoption", "adopt"},
      {"homologou", "homolog"},
      {"communism", "commun"},
      {"activate", "activ"},
      {"angulariti", "angular"},
      {"homologous", "homolog"},
      {"effective", "effect"},
      {"bowdlerize", "bowdler"},
      {"probate", "probat"},
      {"rate", "rate"},
      {"cease", "ceas"},
      {"controll", "control"},
      {"roll", "roll"},
      {"generalization", "gener"},
      {"running", "run"},
      {"aing", "a"},
      {"eyeing", "ey"},
      {"dying", "dy"},
      {"skies", "ski"},
  };
  for (const auto& [word, stem] : cases) EXPECT_EQ(PorterStem(word), stem) << word;
}

TEST(PorterStemTest, LengthLimitsAndInPlace) {
  EXPECT_EQ(PorterStem("is"), "is");  // < 3 bytes: unchanged, as in FTS5
  EXPECT_EQ(PorterStem(""), "");
  std::string long_word(65, 'a');
  long_word += "ing";
  EXPECT_EQ(PorterStem(long_word), long_word);  // > 64 bytes: unchanged
  std::string w = "generalizations";
  PorterStemInPlace(&w);
  EXPECT_EQ(w, "gener");
  EXPECT_EQ(PorterStem("1990s"), "1990");
}

// ---- sentences ----

std::vector<std::string> Sentences(std::string_view text) {
  std::vector<std::string> out;
  for (const SentenceSpan& s : SplitSentences(text)) {
    out.emplace_back(text.substr(s.begin, s.end - s.begin));
  }
  return out;
}

TEST(SplitSentencesTest, BasicPunctuationKept) {
  EXPECT_EQ(Sentences("Hello world. How are you? I'm fine!  Thanks."),
            (std::vector<std::string>{"Hello world.", "How are you?", "I'm fine!", "Thanks."}));
  EXPECT_EQ(Sentences("No terminal punctuation"),
            (std::vector<std::string>{"No terminal punctuation"}));
  EXPECT_TRUE(SplitSentences("").empty());
  EXPECT_TRUE(SplitSentences(" \n\n\t ").empty());
}

TEST(SplitSentencesTest, AbbreviationsAreNotBoundaries) {
  EXPECT_EQ(Sentences("Mr. Smith met Dr. Jones at 5 p.m. today. They talked."),
            (std::vector<std::string>{"Mr. Smith met Dr. Jones at 5 p.m. today.", "They talked."}));
  EXPECT_EQ(Sentences("Use a tool, e.g. grep, i.e. a search tool. Then stop."),
            (std::vector<std::string>{"Use a tool, e.g. grep, i.e. a search tool.", "Then stop."}));
  EXPECT_EQ(Sentences("The U.S. Army left. It rained."),
            (std::vector<std::string>{"The U.S. Army left.", "It rained."}));
  EXPECT_EQ(Sentences("He moved to the U.S. The rest is history."),
            (std::vector<std::string>{"He moved to the U.S.", "The rest is history."}));
  EXPECT_EQ(
      Sentences("John F. Kennedy spoke. See Fig. 3 and No. 5 for details."),
      (std::vector<std::string>{"John F. Kennedy spoke.", "See Fig. 3 and No. 5 for details."}));
  EXPECT_EQ(Sentences("Apples, pears, etc. are fruit. Cars etc. The end."),
            (std::vector<std::string>{"Apples, pears, etc. are fruit.", "Cars etc.", "The end."}));
  EXPECT_EQ(Sentences("It costs approx. five euros."),
            (std::vector<std::string>{"It costs approx. five euros."}));
}

TEST(SplitSentencesTest, DecimalsUrlsAndEllipses) {
  EXPECT_EQ(Sentences("Pi is 3.14 roughly. Visit example.com/x.html now. Version 1.2.3 works."),
            (std::vector<std::string>{"Pi is 3.14 roughly.", "Visit example.com/x.html now.",
                                      "Version 1.2.3 works."}));
  EXPECT_EQ(Sentences("Wait... what happened? Then\u2026 Nothing. Hmm... Ok."),
            (std::vector<std::string>{"Wait... what happened?", "Then\u2026", "Nothing.", "Hmm...",
                                      "Ok."}));
  EXPECT_EQ(Sentences("Really?! Yes."), (std::vector<std::string>{"Really?!", "Yes."}));
}

TEST(SplitSentencesTest, ClosingQuotesAndBracketsStay) {
  EXPECT_EQ(
      Sentences("He said \"Stop.\" Then he left. (It was late.) Fine."),
      (std::vector<std::string>{"He said \"Stop.\"", "Then he left.", "(It was late.)", "Fine."}));
  EXPECT_EQ(Sentences("\u201CDone.\u201D Next."),
            (std::vector<std::string>{"\u201CDone.\u201D", "Next."}));
}

TEST(SplitSentencesTest, ParagraphBreaks) {
  std::string text = "First line\nstill first. Second.\n\nNew paragraph without stop\n \nLast";
  std::vector<SentenceSpan> spans = SplitSentences(text);
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(Sentences(text), (std::vector<std::string>{"First line\nstill first.", "Second.",
                                                       "New paragraph without stop", "Last"}));
  EXPECT_FALSE(spans[0].ends_paragraph);
  EXPECT_TRUE(spans[1].ends_paragraph);
  EXPECT_TRUE(spans[2].ends_paragraph);
  EXPECT_TRUE(spans[3].ends_paragraph);  // end of text
  // Windows line endings and form feeds are breaks too.
  EXPECT_EQ(Sentences("one\r\n\r\ntwo\fthree"), (std::vector<std::string>{"one", "two", "three"}));
}

TEST(SplitSentencesTest, MarkdownBlocks) {
  EXPECT_EQ(Sentences("# Title\nIntro text.\nSteps:\n- first item\n- second item\n1. numbered"),
            (std::vector<std::string>{"# Title", "Intro text.", "Steps:", "- first item",
                                      "- second item", "1. numbered"}));
}

TEST(SplitSentencesTest, CjkFullStops) {
  EXPECT_EQ(Sentences("今日は晴れ。明日は雨！本当？"),
            (std::vector<std::string>{"今日は晴れ。", "明日は雨！", "本当？"}));
}

TEST(SplitSentencesTest, CoversEveryNonSpaceByteInOrder) {
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {
      "word", " ",      ". ",   "? ",  "!",  "\n", "\n\n",
      "Mr.",  "e.g.",   "3.14", "...", "\"", ")",  "\u00E9t\u00E9",
      "U.S.", "\u3002", " The", "- ",  "#"};
  for (int round = 0; round < 300; ++round) {
    std::string s;
    int len = int(rng() % 60);
    for (int i = 0; i < len; ++i) s += pieces[rng() % pieces.size()];
    std::vector<SentenceSpan> spans = SplitSentences(s);
    size_t prev_end = 0;
    std::string covered;
    for (const SentenceSpan& sp : spans) {
      ASSERT_LT(sp.begin, sp.end) << s;
      ASSERT_GE(sp.begin, prev_end) << s;
      ASSERT_EQ(SpaceLengthAt(s, sp.begin), 0u) << s;
      ASSERT_EQ(SpaceLengthBefore(s, sp.end), 0u) << s;
      ASSERT_TRUE(TrimSpace(s.substr(prev_end, sp.begin - prev_end)).empty()) << s;
      covered += s.substr(sp.begin, sp.end - sp.begin);
      prev_end = sp.end;
    }
    ASSERT_TRUE(TrimSpace(std::string_view(s).substr(prev_end)).empty()) << s;
    if (!spans.empty()) {
      ASSERT_TRUE(spans.back().ends_paragraph);
    }
  }
}

// ---- hashing ----

TEST(HashTest, FixedValuesAcrossRunsAndMachines) {
  // Golden values: the function is part of persisted formats (embeddings, cache keys).
  EXPECT_EQ(Hash64(""), 0x0000000000000000ULL);
  EXPECT_EQ(Hash64("", 42), 0x810879608e4259ccULL);
  EXPECT_EQ(Hash64("a"), 0x64c54cb7755628aaULL);
  EXPECT_EQ(Hash64("hello world"), 0x1e549dc6f2b96190ULL);
  EXPECT_EQ(Hash64("hello world", 42), 0x4f1a03af4fac5c7fULL);
  EXPECT_EQ(Hash64("The quick brown fox jumps over the lazy dog"), 0x0f98013fd100019bULL);
  EXPECT_NE(Hash64("a"), Hash64("b"));
  EXPECT_NE(Hash64("a", 1), Hash64("a", 2));
  EXPECT_NE(Hash64("12345678"), Hash64("123456789"));
  EXPECT_NE(Hash64(std::string("a\0", 2)), Hash64("a"));
}

TEST(HashTest, FewCollisionsAndBalancedBits) {
  std::set<uint64_t> seen;
  int top_bit = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    uint64_t h = Hash64("token" + std::to_string(i));
    seen.insert(h);
    top_bit += int(h >> 63);
  }
  EXPECT_EQ(seen.size(), size_t(n));
  EXPECT_NEAR(top_bit, n / 2, n / 20);
}

}  // namespace
}  // namespace jrvs::text
