#include "store/fts_query.h"

#include <gtest/gtest.h>

namespace jrvs::store {
namespace {

TEST(FtsQueryTest, QuotesEachTermAndJoinsWithOr) {
  EXPECT_EQ(BuildFtsMatchExpression({"running", "dogs"}), R"("running" OR "dogs")");
}

TEST(FtsQueryTest, DoublesInnerQuotesAndKeepsOperatorsLiteral) {
  EXPECT_EQ(BuildFtsMatchExpression({"\""}), R"("""")");
  EXPECT_EQ(BuildFtsMatchExpression({"say \"hi\""}), R"("say ""hi""")");
  EXPECT_EQ(BuildFtsMatchExpression({"AND", "NEAR(", "*"}), R"("AND" OR "NEAR(" OR "*")");
  EXPECT_EQ(BuildFtsMatchExpression({"col:x"}), R"("col:x")");
}

TEST(FtsQueryTest, SkipsEmptyTerms) {
  EXPECT_EQ(BuildFtsMatchExpression({}), "");
  EXPECT_EQ(BuildFtsMatchExpression({"", ""}), "");
  EXPECT_EQ(BuildFtsMatchExpression({"", "a", ""}), R"("a")");
}

}  // namespace
}  // namespace jrvs::store
