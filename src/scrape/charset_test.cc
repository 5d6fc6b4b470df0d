#include "scrape/charset.h"

#include <gtest/gtest.h>

namespace jrvs::scrape {
namespace {

TEST(CharsetTest, Latin1FromHeaderIsConverted) {
  // "Café crème" in ISO-8859-1.
  DecodedText d = DecodeToUtf8("Caf\xE9 cr\xE8me", "text/html; charset=ISO-8859-1", true);
  EXPECT_EQ(d.text, "Caf\xC3\xA9 cr\xC3\xA8me");
  EXPECT_EQ(d.charset, "windows-1252");  // latin-1 labels mean windows-1252, as in browsers
}

TEST(CharsetTest, Windows1252PunctuationIsConverted) {
  // Curly quotes and the euro sign live in 0x80-0x9F, where latin-1 has control characters.
  DecodedText d = DecodeToUtf8(
      "\x93quoted\x94 \x80"
      "5",
      "text/plain; charset=windows-1252", false);
  EXPECT_EQ(d.text,
            "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC"
            "5");
}

TEST(CharsetTest, MetaCharsetAndHttpEquiv) {
  std::string page = "<html><head><meta charset=\"iso-8859-1\"><title>M\xFCnchen</title>";
  DecodedText d = DecodeToUtf8(page, "text/html", true);
  EXPECT_EQ(d.charset, "windows-1252");
  EXPECT_NE(d.text.find("M\xC3\xBC"
                        "nchen"),
            std::string::npos);

  std::string equiv =
      "<html><head><META HTTP-EQUIV='Content-Type' CONTENT='text/html; Charset=KOI8-R'>"
      "<title>\xF0\xD2\xC9\xD7\xC5\xD4</title>";  // "Привет" in KOI8-R
  d = DecodeToUtf8(equiv, "", true);
  EXPECT_EQ(d.charset, "koi8-r");
  EXPECT_NE(d.text.find("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"), std::string::npos);

  // The header wins over the meta; a meta past the first 2 KB is not seen.
  d = DecodeToUtf8(page, "text/html; charset=utf-8", true);
  EXPECT_EQ(d.charset, "utf-8");
  std::string late = std::string(3000, ' ') + "<meta charset=koi8-r>caf\xC3\xA9";
  EXPECT_EQ(DecodeToUtf8(late, "text/html", true).charset, "utf-8");
  // Plain text is not searched for a meta.
  EXPECT_EQ(DecodeToUtf8(page, "text/plain", false).charset, "windows-1252");
}

TEST(CharsetTest, ByteOrderMarks) {
  DecodedText d = DecodeToUtf8("\xEF\xBB\xBFhello", "text/plain; charset=iso-8859-1", false);
  EXPECT_EQ(d.text, "hello");
  EXPECT_EQ(d.charset, "utf-8");
  d = DecodeToUtf8(std::string("\xFF\xFEh\0i\0", 6), "", false);
  EXPECT_EQ(d.text, "hi");
  EXPECT_EQ(d.charset, "utf-16le");
  d = DecodeToUtf8(std::string("\xFE\xFF\0h\0i", 6), "", false);
  EXPECT_EQ(d.text, "hi");
}

TEST(CharsetTest, UndeclaredValidUtf8StaysAndInvalidFallsBackTo1252) {
  DecodedText d = DecodeToUtf8("na\xC3\xAFve", "text/html", true);
  EXPECT_EQ(d.charset, "utf-8");
  EXPECT_EQ(d.text, "na\xC3\xAFve");
  d = DecodeToUtf8("na\xEFve", "text/html", true);
  EXPECT_EQ(d.charset, "windows-1252");
  EXPECT_EQ(d.text, "na\xC3\xAFve");
}

TEST(CharsetTest, InvalidBytesNeverCrashAndOutputIsValid) {
  // Declared UTF-8 with stray bytes, overlongs, surrogates and a truncated sequence.
  std::string bad = "ok \xFF \xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 end \xE2\x82";
  DecodedText d = DecodeToUtf8(bad, "text/plain; charset=utf-8", false);
  EXPECT_TRUE(IsValidUtf8(d.text));
  EXPECT_EQ(d.text.substr(0, 3), "ok ");
  EXPECT_NE(d.text.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(d.text.find(" end "), std::string::npos);

  // Bytes undefined in windows-1252 and a truncated Shift_JIS pair.
  d = DecodeToUtf8("a\x81z", "text/plain; charset=windows-1252", false);
  EXPECT_TRUE(IsValidUtf8(d.text));
  EXPECT_EQ(d.text.front(), 'a');
  EXPECT_EQ(d.text.back(), 'z');
  d = DecodeToUtf8("abc\x82", "text/plain; charset=shift_jis", false);
  EXPECT_TRUE(IsValidUtf8(d.text));
  EXPECT_EQ(d.text.substr(0, 3), "abc");

  // Every single byte value, under a few declarations.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (const char* ct :
       {"text/plain; charset=utf-8", "text/plain; charset=iso-8859-1",
        "text/plain; charset=shift_jis", "text/plain; charset=utf-16", "text/plain"}) {
    EXPECT_TRUE(IsValidUtf8(DecodeToUtf8(all, ct, false).text)) << ct;
  }
}

TEST(CharsetTest, UnknownLabelsAreIgnored) {
  DecodedText d = DecodeToUtf8("caf\xC3\xA9", "text/html; charset=no-such-charset", true);
  EXPECT_EQ(d.charset, "utf-8");
  EXPECT_EQ(NormalizeCharset("x;rm -rf"), "");
  EXPECT_EQ(NormalizeCharset("LATIN1"), "windows-1252");
  EXPECT_EQ(NormalizeCharset("UTF8"), "utf-8");
  EXPECT_EQ(CharsetFromContentType("text/html; charset=\"UTF-8\""), "utf-8");
  EXPECT_EQ(CharsetFromContentType("text/html"), "");
}

}  // namespace
}  // namespace jrvs::scrape
