#include "migrations/script.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

using ::testing::HasSubstr;

constexpr char kFull[] =
    "-- revision: 3f2a9c1b7d10\n"
    "-- down_revision: 1a2b3c4d5e6f, 9c8b7a6d5e4f\n"
    "-- branch_labels: reporting\n"
    "-- depends_on: 9c8b7a6d5e4f\n"
    "-- message: add satisfaction rating to tickets\n"
    "-- create_date: 2026-11-24 10:00:00\n"
    "-- transactional: false\n"
    "-- a free comment: not a key because of the capital? no, it has spaces\n"
    "\n"
    "-- migrate:upgrade\n"
    "ALTER TABLE tickets ADD COLUMN satisfaction_rating integer;\n"
    "\n"
    "-- migrate:downgrade\n"
    "ALTER TABLE tickets DROP COLUMN satisfaction_rating;\n"
    "\n"
    "-- migrate:verify\n"
    "SELECT true;\n";

std::string ErrorOf(absl::string_view text) {
  auto s = ParseScript("v/x.sql", text);
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(ScriptTest, ParsesEveryHeaderAndSection) {
  auto s = ParseScript("v/3f2a.sql", kFull);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->revision, "3f2a9c1b7d10");
  EXPECT_EQ(s->down_revisions, (std::vector<std::string>{"1a2b3c4d5e6f", "9c8b7a6d5e4f"}));
  EXPECT_EQ(s->branch_labels, std::vector<std::string>{"reporting"});
  EXPECT_EQ(s->depends_on, std::vector<std::string>{"9c8b7a6d5e4f"});
  EXPECT_EQ(s->message, "add satisfaction rating to tickets");
  EXPECT_EQ(s->create_date, "2026-11-24 10:00:00");
  EXPECT_FALSE(s->transactional);
  // A section is the file's bytes between the markers, exactly.
  EXPECT_EQ(s->upgrade.sql, "ALTER TABLE tickets ADD COLUMN satisfaction_rating integer;\n\n");
  ASSERT_EQ(s->upgrade.statements.size(), 1u);
  EXPECT_EQ(StatementText(s->upgrade.sql, s->upgrade.statements[0]),
            "ALTER TABLE tickets ADD COLUMN satisfaction_rating integer");
  EXPECT_EQ(s->upgrade.statements[0].line, 11);
  EXPECT_EQ(s->upgrade.line, 11);
  ASSERT_TRUE(s->downgrade.has_value());
  EXPECT_EQ(s->downgrade->sql, "ALTER TABLE tickets DROP COLUMN satisfaction_rating;\n\n");
  EXPECT_EQ(s->downgrade->line, 14);
  ASSERT_TRUE(s->verify.has_value());
  EXPECT_EQ(s->verify->sql, "SELECT true;\n");
  EXPECT_EQ(s->checksum, Sha256Hex(kFull));
  EXPECT_EQ(s->revision_line, 1);
}

TEST(ScriptTest, DefaultsAndIrreversible) {
  auto s = ParseScript("v/a.sql", "-- revision: a1\n-- migrate:upgrade\nSELECT 1;\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->down_revisions.empty());
  EXPECT_TRUE(s->transactional);
  EXPECT_FALSE(s->is_reversible());
  EXPECT_FALSE(s->verify.has_value());
}

TEST(ScriptTest, EmptyDowngradeSectionIsReversible) {
  auto s = ParseScript("v/a.sql", "-- revision: a1\n-- migrate:upgrade\n-- migrate:downgrade\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->is_reversible());
  EXPECT_EQ(s->downgrade->sql, "");
}

TEST(ScriptTest, Sha256OfKnownInput) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ScriptTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(ErrorOf("-- message: m\n-- migrate:upgrade\n"),
            "v/x.sql:1: missing '-- revision:' header");
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- colour: blue\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: unknown header key 'colour'"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n"), HasSubstr("v/x.sql:2: missing '-- migrate:upgrade'"));
  EXPECT_THAT(ErrorOf("-- revision: a-1\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:1: Character(s) '-' not allowed in revision id 'a-1'"));
  for (const char* bad : {"a@b", "a+b", "a:b"}) {
    EXPECT_THAT(ErrorOf(absl::StrCat("-- revision: ", bad, "\n-- migrate:upgrade\n")),
                HasSubstr("not allowed in revision id"));
  }
  EXPECT_THAT(ErrorOf("-- revision: 0123456789abcdef0123456789abcdef0\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:1: revision id '0123456789abcdef0123456789abcdef0' is longer than 32"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- revision: a2\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: header key 'revision' given twice"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- transactional: maybe\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: transactional must be true or false"));
  EXPECT_THAT(ErrorOf("-- revision: a1\nCREATE TABLE t();\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: SQL before '-- migrate:upgrade'"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\n-- migrate:sideways\n"),
              HasSubstr("v/x.sql:3: unknown section '-- migrate:sideways'"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:3: a second '-- migrate:upgrade' section"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\n-- migrate:verify\n\n"),
              HasSubstr("v/x.sql:3: empty '-- migrate:verify' section"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- down_revision: x y\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: revision id 'x y' contains whitespace"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- branch_labels: a@b\n-- migrate:upgrade\n"),
              HasSubstr("v/x.sql:2: Character(s) '@' not allowed in branch label"));
  EXPECT_THAT(ErrorOf("-- revision: head\n-- migrate:upgrade\n"), HasSubstr("reserved word"));
}

TEST(ScriptTest, RejectsBytesThatAreNotUtf8WithTheirLine) {
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\nSELECT '\xff';\n"),
              HasSubstr("v/x.sql:3: bytes that are not UTF-8"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\n\xc0\xaf\n"),  // overlong
              HasSubstr("v/x.sql:3:"));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\n\xed\xa0\x80\n"),  // surrogate
              HasSubstr("v/x.sql:3:"));
  EXPECT_TRUE(ParseScript("v/x.sql", "-- revision: a1\n-- migrate:upgrade\nSELECT 'é ✓ 😀';\n").ok());
}

TEST(ScriptTest, FormatScriptRoundTrips) {
  auto s = ParseScript("v/3f2a.sql", kFull);
  ASSERT_TRUE(s.ok());
  auto again = ParseScript("v/3f2a.sql", FormatScript(*s));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revision, s->revision);
  EXPECT_EQ(again->down_revisions, s->down_revisions);
  EXPECT_EQ(again->branch_labels, s->branch_labels);
  EXPECT_EQ(again->depends_on, s->depends_on);
  EXPECT_EQ(again->message, s->message);
  EXPECT_EQ(again->transactional, s->transactional);
  EXPECT_EQ(again->upgrade.sql, s->upgrade.sql);
  EXPECT_EQ(again->downgrade->sql, s->downgrade->sql);
  EXPECT_EQ(again->verify->sql, s->verify->sql);
}

TEST(ScriptTest, TheSqlThatRunsIsTheFilesBytes) {
  // Trailing blanks and tabs inside a multi-line literal, and CRLF line
  // ends, reach the statement untouched.
  const std::string literal = "'line one   \r\n\tline two\t\r\n'";
  const std::string text = "-- revision: a1\r\n-- migrate:upgrade\r\nINSERT INTO t VALUES (" +
                           literal + ");  \r\n-- migrate:downgrade\r\nDELETE FROM t;\r\n";
  auto s = ParseScript("v/a.sql", text);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NE(text.find(s->upgrade.sql), std::string::npos);
  ASSERT_EQ(s->upgrade.statements.size(), 1u);
  EXPECT_EQ(StatementText(s->upgrade.sql, s->upgrade.statements[0]),
            "INSERT INTO t VALUES (" + literal + ")");
}

TEST(ScriptTest, StatementsThatWouldEscapeTheTransactionAreRefusedWithTheirLine) {
  const std::string head = "-- revision: a1\n-- migrate:upgrade\nCREATE TABLE t (x int);\n";
  EXPECT_THAT(ErrorOf(head + "COMMIT;\nSELECT 1/0;\n"),
              HasSubstr("v/x.sql:4: COMMIT in the upgrade section would end the transaction the "
                        "revision runs in"));
  for (const char* control : {"BEGIN", "START TRANSACTION", "END", "ROLLBACK", "ABORT",
                              "PREPARE TRANSACTION 'x'"}) {
    EXPECT_THAT(ErrorOf(head + control + ";\n"), HasSubstr("v/x.sql:4: ")) << control;
  }
  EXPECT_THAT(ErrorOf(head + "-- migrate:downgrade\nDROP TABLE t;\n  commit;\n"),
              HasSubstr("v/x.sql:6: COMMIT in the downgrade section"));
  EXPECT_THAT(ErrorOf(head + "CREATE INDEX CONCURRENTLY t_x ON t (x);\n"),
              HasSubstr("v/x.sql:4: CREATE INDEX ... CONCURRENTLY cannot run inside a "
                        "transaction; mark the revision '-- transactional: false'"));
  // Savepoints stay inside the transaction: allowed.
  EXPECT_TRUE(ParseScript("v/a.sql", head + "SAVEPOINT s;\nROLLBACK TO s;\nRELEASE s;\n").ok());
  // A non-transactional revision runs statement by statement: allowed.
  const std::string loose = "-- revision: a1\n-- transactional: false\n-- migrate:upgrade\n"
                            "CREATE INDEX CONCURRENTLY t_x ON t (x);\nCOMMIT;\n";
  EXPECT_TRUE(ParseScript("v/a.sql", loose).ok());
  // A verify query always runs in a transaction.
  EXPECT_THAT(ErrorOf(loose + "-- migrate:verify\nCOMMIT;\n"),
              HasSubstr("v/x.sql:7: COMMIT in the verify section"));
}

TEST(ScriptTest, SqlThePostgresParserRefusesNamesItsLine) {
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\nCREATE TABLE t (x int);\n\n"
                      "ALTER TABEL t ADD y int;\n"),
              HasSubstr("v/x.sql:5: syntax error at or near \"TABEL\""));
  EXPECT_THAT(ErrorOf("-- revision: a1\n-- migrate:upgrade\nSELECT 1;\n-- migrate:downgrade\n"
                      "SELECT 'unterminated;\n"),
              HasSubstr("v/x.sql:5: unterminated quoted string"));
}

}  // namespace
}  // namespace fleet::migrations
