// A parser for multipart/form-data bodies (RFC 7578), used by POST /api/documents/upload.
// Pure function over the whole body already read by the server (bounded by the body limit).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::api {

struct MultipartPart {
  std::string name;          // form field name
  std::string filename;      // "" for a plain field
  std::string content_type;  // "" if the part has none
  std::string_view data;     // a view into the body passed to ParseMultipart
};

// The boundary parameter of a multipart/form-data Content-Type; InvalidArgument otherwise.
Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` into parts; InvalidArgument on a malformed body (missing boundary lines, no final
// boundary, a part without a Content-Disposition). The parts' data views point into `body`.
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace jrvs::api
