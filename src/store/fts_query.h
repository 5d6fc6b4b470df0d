// Builds FTS5 MATCH expressions from plain words, so no FTS5 syntax (AND, NEAR, *, ^, column
// filters, parentheses) in user input can change the meaning of a query or make it fail.
// Thread safety: pure function.
#pragma once

#include <string>
#include <vector>

namespace jrvs::store {

// Each non-empty term becomes an FTS5 string (wrapped in double quotes, inner double quotes
// doubled), and the strings are joined with OR: `"running" OR "say ""hi"""`. A quoted string is
// tokenised like document text (porter stemming applies; a term of several words becomes a
// phrase). Returns "" when no term is non-empty.
std::string BuildFtsMatchExpression(const std::vector<std::string>& terms);

}  // namespace jrvs::store
