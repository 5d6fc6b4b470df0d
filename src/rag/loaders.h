// Document loaders: turn a local file (or an uploaded one) into a title and plain text for the
// ingest pipeline, and list the files a path argument stands for.
//
// Types, chosen by extension (case-insensitive), with a content sniff for anything else:
//   .txt .text               text/plain       title: the file stem (first lines of plain text are
//                                             too often a date, a greeting or a licence header)
//   .md .markdown            text/markdown    title: front matter `title:`, else the first level-1
//                                             heading ("# Title" or Setext "Title\n==="), outside
//                                             code fences, else the stem. Content is the Markdown
//                                             source as is, minus a leading front matter block
//                                             (---\n ... \n--- or ...) unless told to keep it.
//   .html .htm .xhtml        text/html        scrape::ExtractHtml with base "file:///abs/path":
//                                             title from the page, else the stem; content is the
//                                             extracted main text; description, author, lang,
//                                             canonical URL, published time and og:* go to
//                                             metadata.
//   .pdf                     application/pdf  poppler: page texts in reading order joined with a
//                                             blank line, one PageSpan per page; title from the
//                                             document info Title, else the stem.
//   anything else            sniffed: "%PDF-" in the first 1 KiB -> PDF; "<!doctype html" or
//                            "<html" at the start -> HTML; valid UTF-8 (or a UTF-16 BOM) without
//                            NUL bytes -> text/plain; otherwise "unsupported or binary file".
// Text files must not contain NUL bytes (a binary file with a text extension is refused). UTF-8
// and UTF-16 byte order marks are honoured; other bytes that are not valid UTF-8 become U+FFFD;
// CRLF and CR line ends become LF. All output strings are valid UTF-8.
//
// Errors: kNotFound (no such file), kInvalidArgument (directory, special file, unsupported or
// binary content, corrupt PDF, encrypted PDF needing a password, PDF without pages),
// kPayloadTooLarge (over LoaderOptions::max_file_bytes), kPermissionDenied (unreadable),
// kInternal (other I/O errors). A corrupt or hostile file is an error value, never a crash.
//
// Thread safety: every function here may be called concurrently (the ingest command loads files
// on several threads). Poppler's error messages are routed to spdlog at debug level, process-wide.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::rag {

struct LoaderOptions {
  // Files larger than this are refused with kPayloadTooLarge. Bytes; must be > 0.
  std::size_t max_file_bytes = std::size_t{50} << 20;
  // Remove a leading YAML front matter block from Markdown content (its title: is used either way).
  bool strip_front_matter = true;

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

// A page of a paginated source (PDF): the byte range [start, end) of its text in the content.
struct PageSpan {
  int page = 0;  // 1-based
  std::size_t start = 0;
  std::size_t end = 0;
};

struct LoadedDocument {
  std::string title;
  std::string content;
  // "text/plain", "text/markdown", "text/html" or "application/pdf".
  std::string content_type;
  // A JSON object: {"source": absolute path (or the upload's file name), "file_name", "size":
  // bytes on disk} plus, per type, "pages" (PDF), "author" (PDF, HTML), "front_matter" (Markdown:
  // its top-level `key: value` pairs as strings), "description", "lang", "canonical_url",
  // "published_time", "og" (HTML).
  std::string metadata_json;
  // PDF only: one span per page, in order; an empty page has start == end.
  std::vector<PageSpan> pages;
};

// Loads one file. See the file comment for types, titles and errors.
Result<LoadedDocument> LoadFile(const std::filesystem::path& path,
                                const LoaderOptions& options = {});

// Loads a document held in memory (an upload). `file_name` chooses the type like a path's
// extension does and becomes "source" in the metadata.
Result<LoadedDocument> LoadBytes(std::string_view bytes, std::string_view file_name,
                                 const LoaderOptions& options = {});

// The content type LoadFile would use for `path`, from its extension and its first 8 KiB; the
// same errors as LoadFile for files it would refuse on type (it does not check the size limit).
Result<std::string> DetectContentType(const std::filesystem::path& path);

struct SkippedFile {
  std::filesystem::path path;
  std::string reason;  // e.g. "unsupported or binary file", "not a regular file"
};

struct FileList {
  std::vector<std::filesystem::path> supported;  // in order, each file once
  std::vector<SkippedFile> skipped;              // for the caller to warn about
};

// Expands command-line paths into the files to load. Files named explicitly are classified (even
// hidden ones); directories are listed in byte-wise name order, descending into subdirectories
// only when `recursive` (then depth-first, in the same order). Inside directories, names starting
// with '.' are ignored, symbolic links are followed, and a directory already visited (a link
// loop, or the same tree named twice) is not listed again; a file reached twice is listed once.
// Files DetectContentType refuses, special files, broken links and unreadable directories go to
// `skipped`. kNotFound if a path given does not exist.
Result<FileList> ListFiles(std::span<const std::filesystem::path> paths, bool recursive);
Result<FileList> ListFiles(std::span<const std::string> paths, bool recursive);

}  // namespace jrvs::rag
