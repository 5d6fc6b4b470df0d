#include "rag/loaders.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "core/text.h"
#include "scrape/html_extractor.h"

namespace jrvs::rag {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::size_t kSniffBytes = 8192;
constexpr std::size_t kPdfMagicWindow = 1024;  // readers accept junk before "%PDF-"
constexpr const char* kUnsupported = "unsupported or binary file";

enum class Kind { kUnknown, kText, kMarkdown, kHtml, kPdf };

std::string_view ContentTypeOf(Kind kind) {
  switch (kind) {
    case Kind::kMarkdown:
      return "text/markdown";
    case Kind::kHtml:
      return "text/html";
    case Kind::kPdf:
      return "application/pdf";
    case Kind::kText:
    case Kind::kUnknown:
      break;
  }
  return "text/plain";
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (AsciiLower(s[i]) != prefix[i]) return false;
  }
  return true;
}

Kind KindForExtension(const fs::path& name) {
  std::string ext = name.extension().string();
  for (char& c : ext) c = AsciiLower(c);
  if (ext == ".txt" || ext == ".text") return Kind::kText;
  if (ext == ".md" || ext == ".markdown") return Kind::kMarkdown;
  if (ext == ".html" || ext == ".htm" || ext == ".xhtml") return Kind::kHtml;
  if (ext == ".pdf") return Kind::kPdf;
  return Kind::kUnknown;
}

// ---- sniffing and decoding ----

enum class Encoding { kUtf8, kUtf16Le, kUtf16Be };

Encoding DetectBom(std::string_view data, std::size_t* bom_length) {
  if (data.substr(0, 3) == "\xEF\xBB\xBF") {
    *bom_length = 3;
    return Encoding::kUtf8;
  }
  if (data.substr(0, 2) == "\xFF\xFE") {
    *bom_length = 2;
    return Encoding::kUtf16Le;
  }
  if (data.substr(0, 2) == "\xFE\xFF") {
    *bom_length = 2;
    return Encoding::kUtf16Be;
  }
  *bom_length = 0;
  return Encoding::kUtf8;
}

bool LooksLikePdf(std::string_view prefix) {
  return prefix.substr(0, kPdfMagicWindow).find("%PDF-") != std::string_view::npos;
}

bool LooksLikeHtml(std::string_view prefix) {
  std::size_t bom = 0;
  DetectBom(prefix, &bom);
  prefix.remove_prefix(bom);
  while (!prefix.empty() && IsAsciiSpace(prefix.front())) prefix.remove_prefix(1);
  return StartsWithIgnoreCase(prefix, "<!doctype html") || StartsWithIgnoreCase(prefix, "<html");
}

// Text: a UTF-16 BOM, or no NUL byte and (when `require_utf8`) valid UTF-8. `complete` is false
// when `prefix` is only the start of the data, so a sequence cut at its end is not an error.
bool LooksLikeText(std::string_view prefix, bool complete, bool require_utf8) {
  std::size_t bom = 0;
  if (DetectBom(prefix, &bom) != Encoding::kUtf8) return true;
  if (prefix.find('\0') != std::string_view::npos) return false;
  if (!require_utf8) return true;
  const std::size_t valid = text::ValidUtf8PrefixLength(prefix);
  if (valid == prefix.size()) return true;
  if (complete || prefix.size() - valid >= 4) return false;
  if (static_cast<unsigned char>(prefix[valid]) < 0xC2) return false;
  for (std::size_t i = valid + 1; i < prefix.size(); ++i) {
    if ((static_cast<unsigned char>(prefix[i]) & 0xC0) != 0x80) return false;
  }
  return true;
}

// What a file of this name and first bytes is loaded as.
Result<Kind> Classify(const fs::path& name, std::string_view prefix, bool complete) {
  const Kind kind = KindForExtension(name);
  switch (kind) {
    case Kind::kPdf:
      if (!LooksLikePdf(prefix)) {
        return Error(StatusCode::kInvalidArgument, "not a PDF file (no %PDF- header)");
      }
      return kind;
    case Kind::kText:
    case Kind::kMarkdown:
    case Kind::kHtml:
      if (!LooksLikeText(prefix, complete, /*require_utf8=*/false)) {
        return Error(StatusCode::kInvalidArgument, kUnsupported);
      }
      return kind;
    case Kind::kUnknown:
      break;
  }
  if (LooksLikePdf(prefix)) return Kind::kPdf;
  if (LooksLikeText(prefix, complete, /*require_utf8=*/true)) {
    return LooksLikeHtml(prefix) ? Kind::kHtml : Kind::kText;
  }
  return Error(StatusCode::kInvalidArgument, kUnsupported);
}

std::string Utf16ToUtf8(std::string_view data, bool little_endian) {
  std::string out;
  out.reserve(data.size());
  auto unit = [&](std::size_t i) -> char32_t {
    const auto a = static_cast<unsigned char>(data[i]);
    const auto b = static_cast<unsigned char>(data[i + 1]);
    return little_endian ? static_cast<char32_t>(a | (b << 8))
                         : static_cast<char32_t>((a << 8) | b);
  };
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    char32_t cp = unit(i);
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < data.size()) {
      const char32_t low = unit(i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 2;
      }
    }
    text::AppendUtf8(cp, &out);  // lone surrogates become U+FFFD
  }
  if (i < data.size()) text::AppendUtf8(0xFFFD, &out);  // odd trailing byte
  return out;
}

// CRLF and lone CR become LF, in place.
void NormalizeLineEnds(std::string* s) {
  std::size_t j = 0;
  for (std::size_t i = 0; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c == '\r') {
      (*s)[j++] = '\n';
      if (i + 1 < s->size() && (*s)[i + 1] == '\n') ++i;
    } else {
      (*s)[j++] = c;
    }
  }
  s->resize(j);
}

// Text bytes -> valid UTF-8 with LF line ends; kInvalidArgument for binary data (NUL bytes).
Result<std::string> DecodeText(std::string_view data) {
  std::size_t bom = 0;
  const Encoding encoding = DetectBom(data, &bom);
  data.remove_prefix(bom);
  std::string out = encoding == Encoding::kUtf8 ? text::SanitizeUtf8(data)
                                                : Utf16ToUtf8(data, encoding == Encoding::kUtf16Le);
  if (out.find('\0') != std::string::npos) return Error(StatusCode::kInvalidArgument, kUnsupported);
  NormalizeLineEnds(&out);
  return out;
}

// Collapses whitespace runs to one space and trims (titles, metadata values).
std::string CleanLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : text::SanitizeUtf8(s)) {
    if (IsAsciiSpace(c)) {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
  }
  return out;
}

std::string Stem(const fs::path& name) {
  std::string stem = CleanLine(name.stem().string());
  return stem.empty() ? CleanLine(name.filename().string()) : stem;
}

// ---- Markdown ----

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(line) for each line (without its '\n') until fn returns false.
template <typename Fn>
void ForEachLine(std::string_view s, Fn fn) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    if (!fn(s.substr(pos, nl - pos), pos, nl)) return;
    pos = nl + 1;
  }
}

struct FrontMatter {
  std::string_view block;  // the lines between the delimiters
  std::size_t end = 0;     // where the body starts (0: no front matter)
};

// A leading "---" line, then lines up to a closing "---" or "..." line.
FrontMatter FindFrontMatter(std::string_view md) {
  FrontMatter fm;
  const std::size_t first_nl = md.find('\n');
  if (first_nl == std::string_view::npos || TrimRight(md.substr(0, first_nl)) != "---") return fm;
  const std::size_t block_start = first_nl + 1;
  ForEachLine(md.substr(block_start),
              [&](std::string_view line, std::size_t begin, std::size_t end) {
                const std::string_view t = TrimRight(line);
                if (t != "---" && t != "...") return true;
                fm.block = md.substr(block_start, begin);
                std::size_t body = std::min(block_start + end + 1, md.size());
                while (body < md.size() && md[body] == '\n') ++body;
                fm.end = body;
                return false;
              });
  return fm;
}

// Top-level `key: scalar` lines of a front matter block (nested maps and lists are skipped).
std::vector<std::pair<std::string, std::string>> ParseFrontMatter(std::string_view block) {
  std::vector<std::pair<std::string, std::string>> fields;
  ForEachLine(block, [&](std::string_view line, std::size_t, std::size_t) {
    std::size_t k = 0;
    while (k < line.size() && (IsAsciiAlnum(static_cast<unsigned char>(line[k])) ||
                               line[k] == '_' || line[k] == '-')) {
      ++k;
    }
    if (k == 0 || k >= line.size() || line[k] != ':') return true;
    std::string_view value = text::TrimSpace(line.substr(k + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (!value.empty()) fields.emplace_back(std::string(line.substr(0, k)), CleanLine(value));
    return true;
  });
  return fields;
}

// The first level-1 heading outside code fences: "# Title" (closing #s removed) or a Setext
// heading (a text line underlined with '=').
std::string MarkdownTitle(std::string_view md) {
  std::string title;
  std::string_view previous;  // the previous line if it can be a Setext heading's text
  std::string_view fence;     // the open code fence marker, if any
  ForEachLine(md, [&](std::string_view raw, std::size_t, std::size_t) {
    std::string_view line = raw;
    for (int i = 0; i < 3 && !line.empty() && line.front() == ' '; ++i) line.remove_prefix(1);
    line = TrimRight(line);
    if (line.substr(0, 3) == "```" || line.substr(0, 3) == "~~~") {
      if (fence.empty()) {
        fence = line.substr(0, 3);
      } else if (line.substr(0, 3) == fence) {
        fence = {};
      }
      previous = {};
      return true;
    }
    if (!fence.empty()) return true;
    if (line == "#" || line.substr(0, 2) == "# " || line.substr(0, 2) == "#\t") {
      std::string_view text = TrimRight(line.substr(1));
      const std::size_t hashes = text.find_last_not_of('#');
      if (hashes == std::string_view::npos) {
        text = {};
      } else if (hashes + 1 < text.size() && IsAsciiSpace(text[hashes])) {
        text = text.substr(0, hashes + 1);  // closing sequence "# Title ##"
      }
      title = CleanLine(text);
      previous = {};
      return title.empty();
    }
    if (!line.empty() && line.find_first_not_of('=') == std::string_view::npos &&
        !previous.empty()) {
      title = CleanLine(previous);
      return title.empty();
    }
    previous = (line.empty() || line.front() == '#') ? std::string_view() : line;
    return true;
  });
  return title;
}

// ---- PDF ----

void LogPopplerMessage(const std::string& message, void*) { spdlog::debug("poppler: {}", message); }

// Page text with LF line ends, no form feeds, no trailing spaces, at most one blank line in a
// row, and no leading or trailing blank lines.
std::string CleanPageText(std::string_view raw) {
  std::string text = text::SanitizeUtf8(raw);
  NormalizeLineEnds(&text);
  std::string out;
  out.reserve(text.size());
  std::size_t blank_lines = 0;
  ForEachLine(text, [&](std::string_view line, std::size_t, std::size_t) {
    std::string cleaned;
    for (char c : line) {
      if (c != '\f' && (static_cast<unsigned char>(c) >= 0x20 || c == '\t')) cleaned.push_back(c);
    }
    const std::string_view trimmed = TrimRight(cleaned);
    if (trimmed.empty()) {
      ++blank_lines;
      return true;
    }
    if (!out.empty()) out.append(blank_lines > 0 ? "\n\n" : "\n");
    blank_lines = 0;
    out.append(trimmed);
    return true;
  });
  return out;
}

std::string ToString(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

Status LoadPdf(std::string_view data, const fs::path& name, LoadedDocument* doc,
               json::object* metadata) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) {
    return Status(StatusCode::kPayloadTooLarge, "PDF too large for the PDF reader");
  }
  static std::once_flag install_logger;
  std::call_once(install_logger,
                 [] { poppler::set_debug_error_function(LogPopplerMessage, nullptr); });
  try {
    std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
    if (pdf == nullptr) return Status(StatusCode::kInvalidArgument, "corrupt or unreadable PDF");
    // A locked document must not be queried further (poppler-cpp crashes on it).
    if (pdf->is_locked()) {
      return Status(StatusCode::kInvalidArgument, "encrypted PDF: a password is required");
    }
    const int page_count = pdf->pages();
    if (page_count <= 0) return Status(StatusCode::kInvalidArgument, "PDF has no pages");
    for (int i = 0; i < page_count; ++i) {
      std::unique_ptr<poppler::page> page(pdf->create_page(i));
      std::string text;
      if (page != nullptr) {
        text = CleanPageText(
            ToString(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout)));
      }
      if (!text.empty() && !doc->content.empty()) doc->content.append("\n\n");
      const std::size_t start = doc->content.size();
      doc->content.append(text);
      doc->pages.push_back({i + 1, start, doc->content.size()});
    }
    doc->title = CleanLine(ToString(pdf->get_title()));
    if (doc->title.empty()) doc->title = Stem(name);
    (*metadata)["pages"] = page_count;
    if (std::string author = CleanLine(ToString(pdf->get_author())); !author.empty()) {
      (*metadata)["author"] = author;
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("PDF text extraction failed: ") + e.what());
  } catch (...) {
    return Status(StatusCode::kInternal, "PDF text extraction failed");
  }
  return Status::Ok();
}

// ---- HTML and Markdown ----

void LoadHtml(std::string_view html, std::string_view base_url, const fs::path& name,
              LoadedDocument* doc, json::object* metadata) {
  scrape::ExtractedPage page = scrape::ExtractHtml(html, base_url);
  doc->title = page.title.empty() ? Stem(name) : std::move(page.title);
  doc->content = std::move(page.text);
  const scrape::PageMetadata& m = page.metadata;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) (*metadata)[key] = value;
  };
  put("description", m.description);
  put("author", m.author);
  put("lang", m.lang);
  put("canonical_url", m.canonical_url);
  put("published_time", m.published_time);
  if (!m.og.empty()) {
    json::object og;
    for (const auto& [key, value] : m.og) og[key] = value;
    (*metadata)["og"] = std::move(og);
  }
}

void LoadMarkdown(std::string text, const fs::path& name, const LoaderOptions& options,
                  LoadedDocument* doc, json::object* metadata) {
  const FrontMatter fm = FindFrontMatter(text);
  std::string title;
  if (fm.end > 0) {
    json::object fields;
    for (auto& [key, value] : ParseFrontMatter(fm.block)) {
      if (key == "title" && title.empty()) title = value;
      fields[key] = std::move(value);
    }
    if (!fields.empty()) (*metadata)["front_matter"] = std::move(fields);
  }
  if (title.empty()) title = MarkdownTitle(std::string_view(text).substr(fm.end));
  doc->title = title.empty() ? Stem(name) : std::move(title);
  if (options.strip_front_matter && fm.end > 0) text.erase(0, fm.end);
  doc->content = std::move(text);
}

// Percent-encodes a path for a file: URL (unreserved characters and '/' stay as they are).
std::string FileUrl(const fs::path& absolute) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string url = "file://";
  for (char ch : absolute.string()) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsAsciiAlnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      url.push_back(ch);
    } else {
      url.push_back('%');
      url.push_back(kHex[c >> 4]);
      url.push_back(kHex[c & 0xF]);
    }
  }
  return url;
}

Result<LoadedDocument> Load(std::string_view bytes, const fs::path& name, std::string source,
                            std::string_view base_url, const LoaderOptions& options) {
  if (Status s = options.Validate(); !s.ok()) return Error(s);
  if (bytes.size() > options.max_file_bytes) {
    return Error(StatusCode::kPayloadTooLarge, "file is " + std::to_string(bytes.size()) +
                                                   " bytes, over the limit of " +
                                                   std::to_string(options.max_file_bytes));
  }
  const std::string_view prefix = bytes.substr(0, kSniffBytes);
  auto kind = Classify(name, prefix, prefix.size() == bytes.size());
  if (!kind) return Error(kind.error());

  LoadedDocument doc;
  doc.content_type = std::string(ContentTypeOf(*kind));
  json::object metadata;
  metadata["source"] = text::SanitizeUtf8(source);
  metadata["file_name"] = text::SanitizeUtf8(name.filename().string());
  metadata["size"] = static_cast<std::uint64_t>(bytes.size());
  if (*kind == Kind::kPdf) {
    if (Status s = LoadPdf(bytes, name, &doc, &metadata); !s.ok()) return Error(s);
  } else {
    auto text = DecodeText(bytes);
    if (!text) return Error(text.error());
    if (*kind == Kind::kHtml) {
      LoadHtml(*text, base_url, name, &doc, &metadata);
    } else if (*kind == Kind::kMarkdown) {
      LoadMarkdown(std::move(*text), name, options, &doc, &metadata);
    } else {
      doc.title = Stem(name);
      doc.content = std::move(*text);
    }
  }
  doc.metadata_json = json::serialize(metadata);
  return doc;
}

// ---- files ----

Status StatError(const fs::path& path, const std::error_code& ec) {
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
    return Status(StatusCode::kNotFound, "no such file or directory: " + path.string());
  }
  if (ec == std::errc::permission_denied) {
    return Status(StatusCode::kPermissionDenied, "permission denied: " + path.string());
  }
  return Status(StatusCode::kInternal, path.string() + ": " + ec.message());
}

// Checks that `path` is an existing regular file (following links).
Status CheckRegularFile(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return StatError(path, ec ? ec : std::make_error_code(std::errc::no_such_file_or_directory));
  }
  if (fs::is_directory(st)) return Status(StatusCode::kInvalidArgument, "is a directory");
  if (!fs::is_regular_file(st)) return Status(StatusCode::kInvalidArgument, "not a regular file");
  return Status::Ok();
}

// Reads at most `limit` bytes of `path`.
Result<std::string> ReadPrefix(const fs::path& path, std::size_t limit) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr)
    return Error(StatError(path, std::error_code(errno, std::generic_category())));
  std::string data;
  constexpr std::size_t kChunk = 1 << 16;
  while (data.size() < limit) {
    const std::size_t want = std::min(kChunk, limit - data.size());
    const std::size_t old_size = data.size();
    data.resize(old_size + want);
    const std::size_t got = std::fread(data.data() + old_size, 1, want, file.get());
    data.resize(old_size + got);
    if (got < want) {
      if (std::ferror(file.get()) != 0) {
        return Error(StatusCode::kInternal, "read error: " + path.string());
      }
      break;
    }
  }
  return data;
}

struct Lister {
  FileList list;
  std::set<fs::path> visited_dirs;
  std::set<fs::path> seen_files;

  static fs::path Canonical(const fs::path& path) {
    std::error_code ec;
    fs::path canonical = fs::canonical(path, ec);
    return ec ? fs::absolute(path, ec).lexically_normal() : canonical;
  }

  void AddFile(const fs::path& path) {
    if (!seen_files.insert(Canonical(path)).second) return;
    auto type = DetectContentType(path);
    if (type) {
      list.supported.push_back(path);
    } else {
      list.skipped.push_back({path, type.error().message()});
    }
  }

  void AddDirectory(const fs::path& dir, bool recursive) {
    if (!visited_dirs.insert(Canonical(dir)).second) return;  // a link loop or listed already
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      list.skipped.push_back({dir, "cannot read directory: " + ec.message()});
      return;
    }
    std::vector<fs::directory_entry> entries;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->path().filename().string().front() != '.') entries.push_back(*it);
    }
    if (ec) list.skipped.push_back({dir, "cannot read directory: " + ec.message()});
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path().filename().native() < b.path().filename().native();
    });
    for (const fs::directory_entry& entry : entries) {
      std::error_code status_ec;
      const fs::file_status st = entry.status(status_ec);
      if (status_ec || !fs::exists(st)) {
        list.skipped.push_back({entry.path(), entry.is_symlink(status_ec) ? "broken symbolic link"
                                                                          : "cannot stat file"});
      } else if (fs::is_directory(st)) {
        if (recursive) AddDirectory(entry.path(), recursive);
      } else if (fs::is_regular_file(st)) {
        AddFile(entry.path());
      } else {
        list.skipped.push_back({entry.path(), "not a regular file"});
      }
    }
  }
};

}  // namespace

Status LoaderOptions::Validate() const {
  if (max_file_bytes == 0) {
    return Status(StatusCode::kInvalidArgument, "max_file_bytes must be > 0");
  }
  return Status::Ok();
}

Result<LoadedDocument> LoadFile(const fs::path& path, const LoaderOptions& options) {
  if (Status s = options.Validate(); !s.ok()) return Error(s);
  if (Status s = CheckRegularFile(path); !s.ok()) return Error(s);
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) return Error(StatError(path, ec));
  if (size > options.max_file_bytes) {
    return Error(StatusCode::kPayloadTooLarge, "file is " + std::to_string(size) +
                                                   " bytes, over the limit of " +
                                                   std::to_string(options.max_file_bytes));
  }
  // Read one byte past the limit so a file that grew since the stat is still refused.
  const std::size_t read_limit =
      options.max_file_bytes == SIZE_MAX ? SIZE_MAX : options.max_file_bytes + 1;
  auto bytes = ReadPrefix(path, read_limit);
  if (!bytes) return Error(bytes.error());
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) absolute = path;
  return Load(*bytes, path, absolute.string(), FileUrl(absolute), options);
}

Result<LoadedDocument> LoadBytes(std::string_view bytes, std::string_view file_name,
                                 const LoaderOptions& options) {
  return Load(bytes, fs::path(file_name), std::string(file_name), "", options);
}

Result<std::string> DetectContentType(const fs::path& path) {
  if (Status s = CheckRegularFile(path); !s.ok()) return Error(s);
  auto prefix = ReadPrefix(path, kSniffBytes);
  if (!prefix) return Error(prefix.error());
  auto kind = Classify(path, *prefix, prefix->size() < kSniffBytes);
  if (!kind) return Error(kind.error());
  return std::string(ContentTypeOf(*kind));
}

Result<FileList> ListFiles(std::span<const fs::path> paths, bool recursive) {
  Lister lister;
  for (const fs::path& path : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      return Error(
          StatError(path, ec ? ec : std::make_error_code(std::errc::no_such_file_or_directory)));
    }
    if (fs::is_directory(st)) {
      lister.AddDirectory(path, recursive);
    } else if (fs::is_regular_file(st)) {
      lister.AddFile(path);
    } else {
      lister.list.skipped.push_back({path, "not a regular file"});
    }
  }
  return std::move(lister.list);
}

Result<FileList> ListFiles(std::span<const std::string> paths, bool recursive) {
  std::vector<fs::path> converted(paths.begin(), paths.end());
  return ListFiles(std::span<const fs::path>(converted), recursive);
}

}  // namespace jrvs::rag
