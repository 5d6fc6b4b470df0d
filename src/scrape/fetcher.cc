#include "scrape/fetcher.h"

namespace jrvs::scrape {

const char* FetchErrorName(FetchError e) {
  switch (e) {
    case FetchError::kNone:
      return "none";
    case FetchError::kInvalidUrl:
      return "invalid_url";
    case FetchError::kBlocked:
      return "blocked";
    case FetchError::kRobotsDisallowed:
      return "robots_disallowed";
    case FetchError::kDns:
      return "dns";
    case FetchError::kConnect:
      return "connect";
    case FetchError::kTimeout:
      return "timeout";
    case FetchError::kTooLarge:
      return "too_large";
    case FetchError::kUnsupportedType:
      return "unsupported_type";
    case FetchError::kTooManyRedirects:
      return "too_many_redirects";
    case FetchError::kHttpStatus:
      return "http_status";
    case FetchError::kNotModified:
      return "not_modified";
    case FetchError::kOther:
      return "other";
  }
  return "other";
}

}  // namespace jrvs::scrape
