#include "migrations/script.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/revision_graph.h"

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

// What the history verbs load: the header and the sections, not their SQL,
// and nothing can be planned (so run) with it.
TEST(ScriptTest, HeadersOnlyLeavesTheSqlUnparsedAndUnrunnable) {
  constexpr char kBadSql[] =
      "-- revision: a1\n"
      "-- message: first\n"
      "-- migrate:upgrade\n"
      "CREATE TABLE t (;\n"
      "-- migrate:downgrade\n"
      "DROP TABLE t;\n";
  absl::StatusOr<Script> full = ParseScript("a1_x.sql", kBadSql);
  ASSERT_FALSE(full.ok());
  EXPECT_THAT(full.status().message(), HasSubstr("a1_x.sql:4:"));
  absl::StatusOr<Script> headers = ParseScript("a1_x.sql", kBadSql, {.headers_only = true});
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_FALSE(headers->statements_parsed);
  EXPECT_EQ(headers->revision, "a1");
  EXPECT_EQ(headers->message, "first");
  EXPECT_TRUE(headers->is_reversible());
  EXPECT_TRUE(headers->upgrade.statements.empty());
  EXPECT_EQ(headers->checksum, Sha256Hex(kBadSql));  // drift checks still work
  // A header error is still one.
  EXPECT_FALSE(ParseScript("a1_x.sql", "-- revision: a1\n-- bogus: 1\n-- migrate:upgrade\n",
                           {.headers_only = true})
                   .ok());
  auto graph = RevisionGraph::Build({*headers});
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ((*graph)->heads().size(), 1u);
  for (auto plan : {(*graph)->PlanUpgrade({}, "heads"), (*graph)->PlanDowngrade({"a1"}, "base")}) {
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(plan.status().message(), HasSubstr("without its SQL: nothing can run it"));
  }
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


constexpr char kBatched[] =
    "-- revision: b1\n"
    "-- down_revision: a1\n"
    "-- message: backfill urgency\n"
    "-- batch_pause: 250ms\n"
    "-- batch_max_seconds: 30\n"
    "\n"
    "-- migrate:upgrade\n"
    "ALTER TABLE tickets ADD COLUMN urgent boolean;\n"
    "\n"
    "-- migrate:batch\n"
    "UPDATE tickets SET urgent = (priority = 'high')\n"
    "WHERE id IN (SELECT id FROM tickets WHERE urgent IS NULL LIMIT 5000);\n"
    "\n"
    "-- migrate:post\n"
    "ALTER TABLE tickets ALTER COLUMN urgent SET NOT NULL;\n"
    "\n"
    "-- migrate:downgrade\n"
    "ALTER TABLE tickets DROP COLUMN urgent;\n";

TEST(ScriptTest, ParsesABatchedRevision) {
  auto s = ParseScript("v/b1.sql", kBatched);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->is_batched());
  EXPECT_EQ(s->batch->line, 11);
  ASSERT_EQ(s->batch->statements.size(), 1u);
  EXPECT_THAT(std::string(StatementText(s->batch->sql, s->batch->statements[0])),
              HasSubstr("LIMIT 5000)"));
  ASSERT_TRUE(s->post.has_value());
  EXPECT_EQ(s->post->statements.size(), 1u);
  EXPECT_EQ(s->batch_pause, absl::Milliseconds(250));
  EXPECT_EQ(s->batch_max, absl::Seconds(30));
  // The defaults, and the other spellings of a duration.
  std::string plain = kBatched;
  plain.replace(plain.find("-- batch_pause: 250ms\n-- batch_max_seconds: 30\n"),
                std::string("-- batch_pause: 250ms\n-- batch_max_seconds: 30\n").size(), "");
  auto d = ParseScript("v/b1.sql", plain);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->batch_pause, absl::ZeroDuration());
  EXPECT_EQ(d->batch_max, absl::Seconds(60));
  std::string half = kBatched;
  half.replace(half.find("250ms"), 5, "0.5");
  EXPECT_EQ(ParseScript("v/b1.sql", half)->batch_pause, absl::Milliseconds(500));
  // Written back, it reads the same.
  auto again = ParseScript("v/b1.sql", FormatScript(*s));
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << FormatScript(*s);
  EXPECT_EQ(again->batch_pause, s->batch_pause);
  EXPECT_EQ(again->batch_max, s->batch_max);
  EXPECT_EQ(StatementText(again->batch->sql, again->batch->statements[0]),
            StatementText(s->batch->sql, s->batch->statements[0]));
  EXPECT_TRUE(again->post.has_value());
}

TEST(ScriptTest, ABatchedRevisionBrokenAnyWayIsRefusedWithItsLine) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string text = kBatched;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  EXPECT_THAT(ErrorOf(with("LIMIT 5000);\n", "LIMIT 5000);\nDELETE FROM tickets WHERE false;\n")),
              HasSubstr("v/x.sql:13: the batch section must hold exactly one statement (it "
                        "holds 2)"));
  EXPECT_THAT(ErrorOf(with("UPDATE tickets SET urgent = (priority = 'high')\n"
                           "WHERE id IN (SELECT id FROM tickets WHERE urgent IS NULL LIMIT 5000);",
                           "SELECT 1;")),
              HasSubstr("v/x.sql:11: the batch statement is SELECT; it must be an UPDATE, "
                        "DELETE, INSERT or MERGE"));
  EXPECT_THAT(ErrorOf(with("-- message: backfill urgency\n",
                           "-- message: backfill urgency\n-- transactional: false\n")),
              HasSubstr("a batched revision must be transactional"));
  EXPECT_THAT(ErrorOf(with("250ms", "soon")),
              HasSubstr("v/x.sql:4: batch_pause must be a duration from 0 to 24h such as 100ms "
                        "or 2s, not 'soon'"));
  EXPECT_THAT(ErrorOf(with("batch_max_seconds: 30", "batch_max_seconds: 0")),
              HasSubstr("v/x.sql:5: batch_max_seconds must be a number of seconds above 0"));
  EXPECT_THAT(ErrorOf(with("LIMIT 5000);\n", "LIMIT 5000);\nCOMMIT;\n")),
              HasSubstr("v/x.sql:13: COMMIT in the batch section would end the transaction"));
  // The batch section's companions alone.
  std::string unbatched = with(
      "-- migrate:batch\nUPDATE tickets SET urgent = (priority = 'high')\n"
      "WHERE id IN (SELECT id FROM tickets WHERE urgent IS NULL LIMIT 5000);\n\n",
      "");
  EXPECT_THAT(ErrorOf(unbatched),
              HasSubstr("v/x.sql:10: a '-- migrate:post' section without a '-- migrate:batch' "
                        "section"));
  std::string keys_only = unbatched;
  keys_only.replace(keys_only.find("-- migrate:post\n"),
                    std::string("-- migrate:post\nALTER TABLE tickets ALTER COLUMN urgent SET NOT "
                                "NULL;\n\n").size(),
                    "");
  EXPECT_THAT(ErrorOf(keys_only),
              HasSubstr("v/x.sql:4: batch_pause and batch_max_seconds need a '-- migrate:batch' "
                        "section"));
  EXPECT_THAT(ErrorOf(with("-- migrate:post\n", "-- migrate:later\n")),
              HasSubstr("sections are upgrade, downgrade, verify, batch and post"));
}

}  // namespace
}  // namespace fleet::migrations
