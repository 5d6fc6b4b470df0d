#include "api/multipart.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"

namespace jrvs::api {

namespace {

// The value of parameter `name` in a header value like `form-data; name="x"; filename="y"`.
std::string Param(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    if (semi == std::string_view::npos) semi = header.size();
    std::string_view item = text::TrimAscii(header.substr(pos, semi - pos));
    pos = semi + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    if (text::AsciiLower(text::TrimAscii(item.substr(0, eq))) != name) continue;
    std::string_view value = text::TrimAscii(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      std::string out;
      for (size_t i = 1; i + 1 < value.size(); ++i) {
        if (value[i] == '\\' && i + 2 < value.size()) ++i;
        out += value[i];
      }
      return out;
    }
    return std::string(value);
  }
  return {};
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  std::string lower = text::AsciiLower(content_type);
  if (lower.rfind("multipart/form-data", 0) != 0) {
    return Error(StatusCode::kInvalidArgument, "Content-Type must be multipart/form-data");
  }
  std::string boundary = Param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    return Error(StatusCode::kInvalidArgument, "multipart boundary missing or too long");
  }
  return boundary;
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                  std::string_view boundary) {
  auto bad = [](std::string_view why) {
    return Error(StatusCode::kInvalidArgument, "malformed multipart body: " + std::string(why));
  };
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next = "\r\n" + delimiter;
  std::vector<MultipartPart> parts;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return bad("no boundary");
  pos += delimiter.size();
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // final boundary
    if (body.substr(pos, 2) != "\r\n") return bad("boundary not followed by CRLF");
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return bad("part headers not terminated");
    MultipartPart part;
    bool has_disposition = false;
    std::string_view headers = body.substr(pos, headers_end - pos);
    size_t line_start = 0;
    while (line_start <= headers.size()) {
      size_t line_end = headers.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = headers.size();
      std::string_view line = headers.substr(line_start, line_end - line_start);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name = text::AsciiLower(text::TrimAscii(line.substr(0, colon)));
        std::string_view value = text::TrimAscii(line.substr(colon + 1));
        if (name == "content-disposition") {
          has_disposition = true;
          part.name = Param(value, "name");
          part.filename = Param(value, "filename");
        } else if (name == "content-type") {
          part.content_type = std::string(value);
        }
      }
      line_start = line_end + 2;
    }
    if (!has_disposition) return bad("part without Content-Disposition");
    size_t data_start = headers_end + 4;
    size_t data_end = body.find(next, data_start);
    if (data_end == std::string_view::npos) return bad("no closing boundary");
    part.data = body.substr(data_start, data_end - data_start);
    parts.push_back(std::move(part));
    pos = data_end + next.size();
  }
}

}  // namespace jrvs::api
