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
  EXPECT_EQ(s->upgrade.sql, "ALTER TABLE tickets ADD COLUMN satisfaction_rating integer;");
  EXPECT_EQ(s->upgrade.line, 11);
  ASSERT_TRUE(s->downgrade.has_value());
  EXPECT_EQ(s->downgrade->sql, "ALTER TABLE tickets DROP COLUMN satisfaction_rating;");
  EXPECT_EQ(s->downgrade->line, 14);
  ASSERT_TRUE(s->verify.has_value());
  EXPECT_EQ(s->verify->sql, "SELECT true;");
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

}  // namespace
}  // namespace fleet::migrations
