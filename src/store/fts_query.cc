#include "store/fts_query.h"

namespace jrvs::store {

std::string BuildFtsMatchExpression(const std::vector<std::string>& terms) {
  std::string expr;
  for (const std::string& term : terms) {
    if (term.empty()) continue;
    if (!expr.empty()) expr += " OR ";
    expr += '"';
    for (char c : term) {
      if (c == '"') expr += '"';
      expr += c;
    }
    expr += '"';
  }
  return expr;
}

}  // namespace jrvs::store
