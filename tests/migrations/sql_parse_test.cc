// Statements as PostgreSQL's parser splits them, with their exact bytes,
// lines and what a transaction cannot hold.
#include "migrations/sql_parse.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Texts(absl::string_view sql) {
  auto st = ParseSqlStatements(sql, 1);
  EXPECT_TRUE(st.ok()) << st.status();
  std::vector<std::string> out;
  if (!st.ok()) return out;
  for (const auto& s : *st) out.emplace_back(StatementText(sql, s));
  return out;
}

TEST(SqlParseTest, SplitsWithLinesAndKinds) {
  absl::string_view sql = "CREATE TABLE a (x int);\n\nINSERT INTO a VALUES (1);\n";
  auto st = ParseSqlStatements(sql, 10);
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->size(), 2u);
  EXPECT_EQ(StatementText(sql, (*st)[0]), "CREATE TABLE a (x int)");
  EXPECT_EQ((*st)[0].line, 10);
  EXPECT_EQ((*st)[1].line, 12);
}

TEST(SqlParseTest, KeepsEveryByteOfAStatementIncludingTrailingBlanksInLiterals) {
  const std::string literal = "'line one   \n\tline two\t\t\nthree  '";
  const std::string sql = "UPDATE t SET body = " + literal + " WHERE id = 1;";
  EXPECT_THAT(Texts(sql), ElementsAre("UPDATE t SET body = " + literal + " WHERE id = 1"));
}

TEST(SqlParseTest, SemicolonsInsideQuotesCommentsAndBodiesDoNotSplit) {
  EXPECT_THAT(Texts("SELECT ';'; SELECT 'it''s;'"), ElementsAre("SELECT ';'", "SELECT 'it''s;'"));
  EXPECT_THAT(Texts("SELECT E'a\\';b'; SELECT 2"), ElementsAre("SELECT E'a\\';b'", "SELECT 2"));
  EXPECT_THAT(Texts("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;"
                    "DO $body$ BEGIN PERFORM 1; END $body$;"),
              ElementsAre("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                          "DO $body$ BEGIN PERFORM 1; END $body$"));
  auto st = ParseSqlStatements("-- leading; comment\n\n/* x; /* nested; */ */ SELECT 1", 5);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->size(), 1u);
  EXPECT_EQ((*st)[0].line, 7);  // its first token, not the comment before it
}

TEST(SqlParseTest, CommentsAndEmptyStatementsAreNoStatements) {
  EXPECT_TRUE(Texts("  ;\n-- nothing\n;").empty());
  EXPECT_TRUE(Texts("").empty());
}

TEST(SqlParseTest, SyntaxErrorsNameTheirFileLine) {
  auto st = ParseSqlStatements("SELECT 1;\n\nSELEC 2;", 20);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(st.status()));
  EXPECT_THAT(st.status().message(), HasSubstr("line 22: syntax error at or near \"SELEC\""));
  auto unterminated = ParseSqlStatements("SELECT 'oops; SELECT 2", 1);
  ASSERT_FALSE(unterminated.ok());
  EXPECT_THAT(unterminated.status().message(), HasSubstr("unterminated quoted string"));
  // Positions count characters: a multi-byte letter before the error.
  auto utf8 = ParseSqlStatements("SELECT 'é';\nSELECT 'ü' FROM;", 1);
  ASSERT_FALSE(utf8.ok());
  EXPECT_THAT(utf8.status().message(), HasSubstr("line 2:"));
}

TEST(SqlParseTest, TransactionControlAndConcurrentlyAreMarked) {
  auto st = ParseSqlStatements(
      "BEGIN; START TRANSACTION; COMMIT; END; ROLLBACK; ABORT; PREPARE TRANSACTION 'x';"
      "COMMIT PREPARED 'x'; ROLLBACK PREPARED 'x';"
      "SAVEPOINT s; RELEASE s; ROLLBACK TO s; PREPARE q AS SELECT 1;"
      "CREATE INDEX CONCURRENTLY i ON t (x); DROP INDEX CONCURRENTLY i; REINDEX INDEX "
      "CONCURRENTLY i; ALTER TABLE p DETACH PARTITION c CONCURRENTLY;"
      "REFRESH MATERIALIZED VIEW CONCURRENTLY v; CREATE INDEX i2 ON t (x);",
      1);
  ASSERT_TRUE(st.ok()) << st.status();
  std::vector<bool> control, concurrently;
  for (const auto& s : *st) {
    control.push_back(s.transaction_control);
    concurrently.push_back(s.concurrently);
  }
  EXPECT_THAT(control, ElementsAre(true, true, true, true, true, true, true, true, true, false,
                                   false, false, false, false, false, false, false, false, false));
  EXPECT_THAT(concurrently,
              ElementsAre(false, false, false, false, false, false, false, false, false, false,
                          false, false, false, true, true, true, true, false, false));
}

TEST(SqlParseTest, RestrictedKeywordsAreThoseQuoteIdentQuotes) {
  for (const char* k : {"default", "user", "order", "select", "table", "left", "int"}) {
    EXPECT_TRUE(IsRestrictedKeyword(k)) << k;
  }
  for (const char* w : {"tenant_1", "name", "version", "alembic_version", "schema", ""}) {
    EXPECT_FALSE(IsRestrictedKeyword(w)) << w;
  }
}

}  // namespace
}  // namespace fleet::migrations
