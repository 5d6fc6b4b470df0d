#include "http/target.h"

#include <boost/url/grammar/string_token.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace jrvs::http {

Status ParseTarget(std::string_view target, std::string* path, std::string_view* encoded_path,
                   std::vector<std::pair<std::string, std::string>>* query) {
  namespace urls = boost::urls;
  urls::result<urls::url_view> parsed;
  if (!target.empty() && target.front() == '/') {
    parsed = urls::parse_origin_form(target);
  } else {
    parsed = urls::parse_absolute_uri(target);
  }
  if (!parsed) {
    return Status(StatusCode::kInvalidArgument, "malformed request target");
  }
  const urls::url_view& url = *parsed;
  auto encoded = url.encoded_path();
  if (encoded.empty()) {
    *encoded_path = "/";
    path->assign(1, '/');  // (not = "/": g++ 12 -Wrestrict false positive)
  } else {
    *encoded_path = std::string_view(encoded.data(), encoded.size());
    url.path(urls::string_token::assign_to(*path));
  }
  query->clear();
  if (url.has_query()) {
    for (auto param : url.params()) {
      query->emplace_back(std::move(param.key), std::move(param.value));
    }
  }
  return Status::Ok();
}

Status ParseTarget(std::string_view target, ParsedTarget* out) {
  return ParseTarget(target, &out->path, &out->encoded_path, &out->query);
}

}  // namespace jrvs::http
