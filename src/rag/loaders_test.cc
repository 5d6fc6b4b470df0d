#include "rag/loaders.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

namespace jrvs::rag {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path DocsDir() {
  if (const char* env = std::getenv("JRVS_TEST_DATA_DIR"); env != nullptr && *env != '\0') {
    return fs::path(env) / "docs";
  }
  return fs::path(__FILE__).parent_path() / "../../tests/data/docs";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

json::object Metadata(const LoadedDocument& doc) {
  return json::parse(doc.metadata_json).as_object();
}

std::string Slice(const LoadedDocument& doc, const PageSpan& span) {
  return doc.content.substr(span.start, span.end - span.start);
}

// A fresh directory per test, removed afterwards.
class LoadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() /
           ("jrvs_loaders_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  fs::path tmp_;
};

// ---- plain text, Markdown, HTML ----

TEST_F(LoadersTest, PlainTextTitleIsStem) {
  auto doc = LoadFile(DocsDir() / "notes.txt");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "notes");
  EXPECT_EQ(doc->content_type, "text/plain");
  EXPECT_EQ(doc->content, ReadFile(DocsDir() / "notes.txt"));
  EXPECT_TRUE(doc->pages.empty());
  const json::object meta = Metadata(*doc);
  EXPECT_EQ(meta.at("size").to_number<std::uint64_t>(), 141u);
  EXPECT_EQ(meta.at("file_name").as_string(), "notes.txt");
  const fs::path source(std::string(meta.at("source").as_string()));
  EXPECT_TRUE(source.is_absolute());
  EXPECT_TRUE(fs::equivalent(source, DocsDir() / "notes.txt"));
}

TEST_F(LoadersTest, MarkdownTitleIsFirstHeadingOutsideCodeFences) {
  auto doc = LoadFile(DocsDir() / "guide.md");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "The Ferry Guide");
  EXPECT_EQ(doc->content_type, "text/markdown");
  EXPECT_EQ(doc->content, ReadFile(DocsDir() / "guide.md"));  // Markdown kept as is
}

TEST_F(LoadersTest, MarkdownFrontMatterGivesTitleAndIsStripped) {
  auto doc = LoadFile(DocsDir() / "front_matter.md");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "Tide Tables Explained");
  EXPECT_EQ(doc->content,
            "# A heading that is not the title\n\nHigh tide comes roughly every twelve hours and "
            "twenty-five minutes.\n");
  const json::object fm = Metadata(*doc).at("front_matter").as_object();
  EXPECT_EQ(fm.at("author").as_string(), "Morag Henderson");
  EXPECT_EQ(fm.at("date").as_string(), "2024-03-14");
  EXPECT_FALSE(fm.contains("tags"));  // a list, not a scalar

  LoaderOptions keep;
  keep.strip_front_matter = false;
  auto kept = LoadFile(DocsDir() / "front_matter.md", keep);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->title, "Tide Tables Explained");
  EXPECT_EQ(kept->content, ReadFile(DocsDir() / "front_matter.md"));
}

TEST_F(LoadersTest, MarkdownSetextHeadingAndStemFallback) {
  auto doc = LoadFile(DocsDir() / "setext.markdown");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "Island Walks");
  EXPECT_EQ(doc->content_type, "text/markdown");

  WriteFile(tmp_ / "no-heading.md", "Just a paragraph.\n\n## A level-2 heading\n");
  auto plain = LoadFile(tmp_ / "no-heading.md");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->title, "no-heading");
}

TEST_F(LoadersTest, HtmlGoesThroughTheExtractor) {
  auto doc = LoadFile(DocsDir() / "page.html");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "Skerry Island visitor information");
  EXPECT_EQ(doc->content_type, "text/html");
  EXPECT_EQ(doc->content,
            "Visiting Skerry Island\n\nThe island is reached by a ferry from Oban.\n\n"
            "- Lighthouse\n- Seabird colony");
  const json::object meta = Metadata(*doc);
  EXPECT_EQ(meta.at("description").as_string(), "Getting to Skerry Island and what to see.");
  EXPECT_EQ(meta.at("lang").as_string(), "en");

  WriteFile(tmp_ / "untitled page.htm", "<p>No title here.</p>");
  auto untitled = LoadFile(tmp_ / "untitled page.htm");
  ASSERT_TRUE(untitled);
  EXPECT_EQ(untitled->title, "untitled page");  // file: URLs have no host to fall back on
  EXPECT_EQ(untitled->content, "No title here.");
}

TEST_F(LoadersTest, ExtensionIsCaseInsensitive) {
  WriteFile(tmp_ / "NOTES.TXT", "x");
  WriteFile(tmp_ / "Guide.MarkDown", "# T\n");
  WriteFile(tmp_ / "Page.XHTML", "<title>X</title><p>y</p>");
  EXPECT_EQ(LoadFile(tmp_ / "NOTES.TXT")->content_type, "text/plain");
  EXPECT_EQ(LoadFile(tmp_ / "Guide.MarkDown")->content_type, "text/markdown");
  EXPECT_EQ(LoadFile(tmp_ / "Page.XHTML")->content_type, "text/html");
}

TEST_F(LoadersTest, TextDecoding) {
  auto utf16 = LoadFile(DocsDir() / "utf16.txt");
  ASSERT_TRUE(utf16) << utf16.error().ToString();
  EXPECT_EQ(utf16->content, "UTF-16 notes: caf\u00e9 \U0001F6A2\nsecond line\n");

  WriteFile(tmp_ / "crlf.txt", "\xEF\xBB\xBFone\r\ntwo\rthree\n");
  EXPECT_EQ(LoadFile(tmp_ / "crlf.txt")->content, "one\ntwo\nthree\n");

  WriteFile(tmp_ / "latin1.txt", "caf\xE9 au lait");  // a known text extension: repaired
  EXPECT_EQ(LoadFile(tmp_ / "latin1.txt")->content, "caf\uFFFD au lait");
}

// ---- PDF ----

TEST_F(LoadersTest, PdfPagesTitleAndSpans) {
  auto doc = LoadFile(DocsDir() / "two_pages.pdf");
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->title, "Two Page Sample");
  EXPECT_EQ(doc->content_type, "application/pdf");
  ASSERT_EQ(doc->pages.size(), 2u);
  EXPECT_EQ(doc->pages[0].page, 1);
  EXPECT_EQ(doc->pages[1].page, 2);
  const std::string page1 =
      "Page one heading\nThe first page talks about lighthouses.\nCaf\u00e9 cr\u00e8me is served "
      "at noon.";
  const std::string page2 = "The second page covers ferries and timetables.\nIt ends here.";
  EXPECT_EQ(Slice(*doc, doc->pages[0]), page1);
  EXPECT_EQ(Slice(*doc, doc->pages[1]), page2);
  EXPECT_EQ(doc->content, page1 + "\n\n" + page2);
  const json::object meta = Metadata(*doc);
  EXPECT_EQ(meta.at("pages").to_number<int>(), 2);
  EXPECT_EQ(meta.at("author").as_string(), "jrvs tests");
}

TEST_F(LoadersTest, EncryptedPdfIsAnErrorNotACrash) {
  auto doc = LoadFile(DocsDir() / "encrypted.pdf");
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.error().message(), HasSubstr("encrypted"));
}

TEST_F(LoadersTest, CorruptPdfIsAnErrorNotACrash) {
  auto doc = LoadFile(DocsDir() / "corrupt.pdf");
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.error().message(), HasSubstr("corrupt"));

  // Truncations of a valid PDF at many points: each loads or fails cleanly.
  const std::string pdf = ReadFile(DocsDir() / "two_pages.pdf");
  for (std::size_t cut = 8; cut < pdf.size(); cut += 37) {
    auto partial = LoadBytes(std::string_view(pdf).substr(0, cut), "cut.pdf");
    if (!partial) {
      EXPECT_EQ(partial.error().code(), StatusCode::kInvalidArgument) << cut;
    }
  }
}

TEST_F(LoadersTest, PdfWithoutMagicIsRefused) {
  WriteFile(tmp_ / "fake.pdf", "<html>an error page saved as PDF</html>");
  auto doc = LoadFile(tmp_ / "fake.pdf");
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(LoadersTest, ConcurrentPdfLoadsAgree) {
  const auto expected = LoadFile(DocsDir() / "two_pages.pdf");
  ASSERT_TRUE(expected);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto doc = LoadFile(DocsDir() / "two_pages.pdf");
        if (!doc || doc->content != expected->content || doc->title != expected->title) {
          ++mismatches;
        }
        if (LoadFile(DocsDir() / "encrypted.pdf")) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- sniffing, limits and errors ----

TEST_F(LoadersTest, BinaryFilesAreUnsupported) {
  for (const char* name : {"binary.bin", "misnamed.txt"}) {
    auto doc = LoadFile(DocsDir() / name);
    ASSERT_FALSE(doc) << name;
    EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(doc.error().message(), "unsupported or binary file") << name;
  }
  WriteFile(tmp_ / "data.xyz", "valid length but \xFF\xFE not UTF-8");
  EXPECT_FALSE(LoadFile(tmp_ / "data.xyz"));
}

TEST_F(LoadersTest, UnknownExtensionsAreSniffed) {
  auto readme = LoadFile(DocsDir() / "README");
  ASSERT_TRUE(readme) << readme.error().ToString();
  EXPECT_EQ(readme->content_type, "text/plain");
  EXPECT_EQ(readme->title, "README");

  fs::copy_file(DocsDir() / "two_pages.pdf", tmp_ / "download.bin");
  EXPECT_EQ(LoadFile(tmp_ / "download.bin")->content_type, "application/pdf");
  WriteFile(tmp_ / "saved", "\n  <!DOCTYPE html><title>Saved</title><p>Body</p>");
  auto saved = LoadFile(tmp_ / "saved");
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->content_type, "text/html");
  EXPECT_EQ(saved->title, "Saved");
  EXPECT_EQ(DetectContentType(tmp_ / "saved").value_or(""), "text/html");
}

TEST_F(LoadersTest, SizeLimit) {
  LoaderOptions tiny;
  tiny.max_file_bytes = 140;  // notes.txt is 141 bytes
  auto doc = LoadFile(DocsDir() / "notes.txt", tiny);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code(), StatusCode::kPayloadTooLarge);
  tiny.max_file_bytes = 141;
  EXPECT_TRUE(LoadFile(DocsDir() / "notes.txt", tiny));
  tiny.max_file_bytes = 3;
  EXPECT_EQ(LoadBytes("four", "x.txt", tiny).error().code(), StatusCode::kPayloadTooLarge);
  tiny.max_file_bytes = 0;
  EXPECT_EQ(LoadBytes("", "x.txt", tiny).error().code(), StatusCode::kInvalidArgument);
}

TEST_F(LoadersTest, MissingDirectoryAndSpecialFiles) {
  EXPECT_EQ(LoadFile(tmp_ / "nope.txt").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(LoadFile(tmp_).error().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(::mkfifo((tmp_ / "pipe.txt").c_str(), 0600), 0);
  EXPECT_EQ(LoadFile(tmp_ / "pipe.txt").error().code(), StatusCode::kInvalidArgument);  // no hang
}

TEST_F(LoadersTest, LoadBytesUsesTheFileName) {
  auto doc = LoadBytes("# Uploaded\n\nbody\n", "notes/upload.md");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->title, "Uploaded");
  EXPECT_EQ(doc->content_type, "text/markdown");
  EXPECT_EQ(Metadata(*doc).at("source").as_string(), "notes/upload.md");
  EXPECT_EQ(Metadata(*doc).at("size").to_number<int>(), 17);
}

// ---- ListFiles ----

class ListFilesTest : public LoadersTest {
 protected:
  // root/ a.md b.txt image.png .hidden.txt .git/config sub/c.html sub/deeper/d.pdf
  //       link_to_a.md -> a.md, loop -> root, broken -> missing, fifo
  void SetUp() override {
    LoadersTest::SetUp();
    root_ = tmp_ / "root";
    fs::create_directories(root_ / "sub" / "deeper");
    fs::create_directories(root_ / ".git");
    WriteFile(root_ / "a.md", "# A\n");
    WriteFile(root_ / "b.txt", "b");
    WriteFile(root_ / "image.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
    WriteFile(root_ / ".hidden.txt", "hidden");
    WriteFile(root_ / ".git" / "config", "[core]");
    WriteFile(root_ / "sub" / "c.html", "<p>c</p>");
    fs::copy_file(DocsDir() / "two_pages.pdf", root_ / "sub" / "deeper" / "d.pdf");
    fs::create_symlink("a.md", root_ / "link_to_a.md");
    fs::create_directory_symlink(root_, root_ / "loop");
    fs::create_symlink(root_ / "missing", root_ / "broken");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  }

  std::vector<std::string> Relative(const std::vector<fs::path>& paths) const {
    std::vector<std::string> out;
    for (const fs::path& p : paths) out.push_back(p.lexically_relative(root_).string());
    return out;
  }
  std::vector<std::string> SkippedNames(const FileList& list) const {
    std::vector<std::string> out;
    for (const SkippedFile& s : list.skipped)
      out.push_back(s.path.lexically_relative(root_).string());
    return out;
  }

  fs::path root_;
};

TEST_F(ListFilesTest, NonRecursiveListsDirectFilesSorted) {
  const std::vector<fs::path> args = {root_};
  auto list = ListFiles(args, /*recursive=*/false);
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_THAT(Relative(list->supported), ElementsAre("a.md", "b.txt"));
  EXPECT_THAT(SkippedNames(*list), ElementsAre("broken", "fifo", "image.png"));
  EXPECT_EQ(list->skipped[0].reason, "broken symbolic link");
  EXPECT_EQ(list->skipped[1].reason, "not a regular file");
  EXPECT_EQ(list->skipped[2].reason, "unsupported or binary file");
}

TEST_F(ListFilesTest, RecursiveDescendsSkipsHiddenAndLoops) {
  const std::vector<std::string> args = {root_.string(), root_.string() + "/sub"};
  auto list = ListFiles(args, /*recursive=*/true);
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_THAT(Relative(list->supported),
              ElementsAre("a.md", "b.txt", "sub/c.html", "sub/deeper/d.pdf"));
  EXPECT_THAT(SkippedNames(*list), ElementsAre("broken", "fifo", "image.png"));
}

TEST_F(ListFilesTest, ExplicitFilesAreClassifiedEvenWhenHidden) {
  const std::vector<fs::path> args = {root_ / ".hidden.txt", root_ / "image.png", root_ / "b.txt",
                                      root_ / "b.txt"};
  auto list = ListFiles(args, false);
  ASSERT_TRUE(list);
  EXPECT_THAT(Relative(list->supported), ElementsAre(".hidden.txt", "b.txt"));
  EXPECT_THAT(SkippedNames(*list), ElementsAre("image.png"));
}

TEST_F(ListFilesTest, MissingPathIsAnError) {
  const std::vector<fs::path> args = {root_ / "a.md", root_ / "does-not-exist"};
  auto list = ListFiles(args, true);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(list.error().message(), HasSubstr("does-not-exist"));
}

TEST_F(ListFilesTest, FixtureDirectorySkipsBinaries) {
  const std::vector<fs::path> args = {DocsDir()};
  auto list = ListFiles(args, false);
  ASSERT_TRUE(list);
  std::vector<std::string> skipped;
  for (const SkippedFile& s : list->skipped) skipped.push_back(s.path.filename().string());
  EXPECT_THAT(skipped, ElementsAre("binary.bin", "misnamed.txt"));
  EXPECT_EQ(list->supported.size(), 11u);
}

}  // namespace
}  // namespace jrvs::rag
