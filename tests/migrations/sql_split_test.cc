#include "migrations/sql_split.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

std::vector<std::string> Sqls(absl::string_view sql) {
  std::vector<std::string> out;
  for (const auto& s : SplitSqlStatements(sql, 1)) out.push_back(s.sql);
  return out;
}

TEST(SqlSplitTest, SplitsAtTopLevelSemicolonsWithLines) {
  auto st = SplitSqlStatements("CREATE TABLE a (x int);\n\nINSERT INTO a VALUES (1);\n", 10);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].sql, "CREATE TABLE a (x int)");
  EXPECT_EQ(st[0].line, 10);
  EXPECT_EQ(st[1].sql, "INSERT INTO a VALUES (1)");
  EXPECT_EQ(st[1].line, 12);
}

TEST(SqlSplitTest, IgnoresSemicolonsInsideQuotesCommentsAndBodies) {
  EXPECT_THAT(Sqls("SELECT ';'; SELECT 'it''s;'"), ::testing::ElementsAre("SELECT ';'", "SELECT 'it''s;'"));
  EXPECT_THAT(Sqls("SELECT E'a\\';b'; SELECT 2"), ::testing::ElementsAre("SELECT E'a\\';b'", "SELECT 2"));
  EXPECT_THAT(Sqls("SELECT \"we;ird\" FROM t; SELECT 2"),
              ::testing::ElementsAre("SELECT \"we;ird\" FROM t", "SELECT 2"));
  EXPECT_THAT(Sqls("-- a; comment\nSELECT 1; /* x; /* nested; */ y; */ SELECT 2;"),
              ::testing::ElementsAre("-- a; comment\nSELECT 1", "/* x; /* nested; */ y; */ SELECT 2"));
  EXPECT_THAT(Sqls("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;"
                   "DO $body$ BEGIN PERFORM 1; END $body$;"),
              ::testing::ElementsAre("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                                     "DO $body$ BEGIN PERFORM 1; END $body$"));
  EXPECT_THAT(Sqls("SELECT $1; SELECT a$b FROM t"), ::testing::ElementsAre("SELECT $1", "SELECT a$b FROM t"));
}

TEST(SqlSplitTest, DropsEmptyAndCommentOnlyStatements) {
  EXPECT_TRUE(Sqls("  ;\n-- nothing\n;").empty());
  EXPECT_TRUE(Sqls("").empty());
  auto st = SplitSqlStatements("-- leading comment\n\nSELECT 1", 5);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].line, 7);  // the line of its first code, not of the comment before it
}

TEST(SqlSplitTest, UnterminatedQuoteEndsTheText) {
  EXPECT_THAT(Sqls("SELECT 'oops; SELECT 2"), ::testing::ElementsAre("SELECT 'oops; SELECT 2"));
}

}  // namespace
}  // namespace fleet::migrations
