#include "migrations/lint.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/script.h"

namespace fleet::migrations {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A base revision every fixture builds on: tables that exist before the
// revision under test, with the column types the type rule reads.
constexpr char kBase[] =
    "-- revision: base0001\n"
    "-- message: base\n"
    "-- migrate:upgrade\n"
    "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n"
    "CREATE TABLE tickets (id bigint PRIMARY KEY, subject varchar(80), status text,\n"
    "  price numeric(10,2), owner_id bigint);\n"
    "CREATE INDEX tickets_status_idx ON tickets (status);\n"
    "-- migrate:downgrade\n"
    "DROP TABLE tickets;\n"
    "DROP TABLE users;\n";

struct Revision {
  std::string upgrade;
  bool transactional = true;
  bool downgrade = true;
};

Script Parse(const std::string& text, const std::string& path) {
  auto s = ParseScript(path, text, {.keep_misplaced_transaction_statements = true});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : Script{};
}

// The findings of the revision on top of kBase (the base's own are not
// reported).
std::vector<LintFinding> LintOnTop(const Revision& r) {
  std::string text = absl::StrCat("-- revision: next0002\n-- down_revision: base0001\n",
                                   r.transactional ? "" : "-- transactional: false\n",
                                   "-- message: under test\n-- migrate:upgrade\n", r.upgrade,
                                   r.downgrade ? "-- migrate:downgrade\nSELECT 1;\n" : "");
  std::vector<Script> scripts;
  scripts.push_back(Parse(kBase, "v/base0001.sql"));
  scripts.push_back(Parse(text, "v/next0002.sql"));
  auto graph = RevisionGraph::Build(std::move(scripts));
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return {};
  auto next = (*graph)->FindExact("next0002");
  return LintRevisions(**graph, {*next});
}

std::vector<std::string> Rules(const std::vector<LintFinding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.rule->id);
  return out;
}

struct RuleCase {
  const char* rule;
  Revision revision;
};

class LintRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(LintRuleTest, TheFixtureTripsItsRuleAndNoOther) {
  const RuleCase& c = GetParam();
  std::vector<LintFinding> findings = LintOnTop(c.revision);
  EXPECT_THAT(Rules(findings), ElementsAre(c.rule)) << c.revision.upgrade;
  for (const auto& f : findings) {
    EXPECT_EQ(f.revision, "next0002");
    EXPECT_EQ(f.path, "v/next0002.sql");
    EXPECT_GT(f.line, 0);
    EXPECT_EQ(f.severity, f.rule->severity);
    EXPECT_FALSE(f.ignored);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, LintRuleTest,
    ::testing::Values(
        RuleCase{"index-not-concurrent", {"CREATE INDEX tickets_owner_idx ON tickets (owner_id);\n"}},
        RuleCase{"drop-index-not-concurrent", {"DROP INDEX tickets_status_idx;\n"}},
        RuleCase{"concurrently-in-transaction",
                 {"CREATE INDEX CONCURRENTLY tickets_owner_idx ON tickets (owner_id);\n"}},
        RuleCase{"transaction-control", {"COMMIT;\nSELECT 1;\n"}},
        RuleCase{"add-column-volatile-default",
                 {"ALTER TABLE tickets ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"}},
        RuleCase{"add-column-volatile-default", {"ALTER TABLE tickets ADD COLUMN seq bigserial;\n"}},
        RuleCase{"add-not-null-column-without-default",
                 {"ALTER TABLE tickets ADD COLUMN team_id bigint NOT NULL;\n"}},
        RuleCase{"set-not-null", {"ALTER TABLE tickets ALTER COLUMN subject SET NOT NULL;\n"}},
        RuleCase{"alter-column-type", {"ALTER TABLE tickets ALTER COLUMN owner_id TYPE integer;\n"}},
        RuleCase{"alter-column-type",
                 {"ALTER TABLE tickets ALTER COLUMN subject TYPE varchar(40);\n"}},
        RuleCase{"add-foreign-key-without-not-valid",
                 {"ALTER TABLE tickets ADD CONSTRAINT tickets_owner_fk FOREIGN KEY (owner_id) "
                  "REFERENCES users (id);\n"}},
        RuleCase{"add-check-without-not-valid",
                 {"ALTER TABLE tickets ADD CONSTRAINT subject_len CHECK (char_length(subject) >= "
                  "3);\n"}},
        RuleCase{"add-unique-constraint",
                 {"ALTER TABLE tickets ADD CONSTRAINT tickets_subject_key UNIQUE (subject);\n"}},
        RuleCase{"add-primary-key", {"ALTER TABLE users DROP CONSTRAINT users_pkey, ADD PRIMARY "
                                     "KEY (id, name);\n"}},
        RuleCase{"rename-column", {"ALTER TABLE tickets RENAME COLUMN subject TO title;\n"}},
        RuleCase{"rename-table", {"ALTER TABLE tickets RENAME TO issues;\n"}},
        RuleCase{"drop-column", {"ALTER TABLE tickets DROP COLUMN price;\n"}},
        RuleCase{"drop-table", {"DROP TABLE users;\n"}},
        RuleCase{"truncate", {"TRUNCATE tickets;\n"}},
        RuleCase{"missing-downgrade",
                 {"ALTER TABLE tickets ADD COLUMN note text;\n", true, /*downgrade=*/false}},
        RuleCase{"data-change-with-ddl",
                 {"ALTER TABLE tickets ADD COLUMN note text;\n"
                  "UPDATE tickets SET note = 'x' WHERE status = 'open';\n"}}),
    [](const ::testing::TestParamInfo<RuleCase>& info) {
      std::string name = absl::StrCat(info.param.rule, "_", info.index);
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

TEST(LintTest, SafeFormsOfTheSameChangesTripNothing) {
  EXPECT_THAT(LintOnTop({"-- an index built without blocking writes\n"
                         "CREATE INDEX CONCURRENTLY tickets_owner_idx ON tickets (owner_id);\n"
                         "DROP INDEX CONCURRENTLY tickets_status_idx;\n",
                         /*transactional=*/false}),
              IsEmpty());
  EXPECT_THAT(
      LintOnTop({"ALTER TABLE tickets ADD COLUMN note text;\n"
                 "ALTER TABLE tickets ADD COLUMN opened_at timestamptz DEFAULT now();\n"
                 "ALTER TABLE tickets ADD COLUMN weight integer NOT NULL DEFAULT 1;\n"
                 "ALTER TABLE tickets ADD CONSTRAINT tickets_owner_fk FOREIGN KEY (owner_id)\n"
                 "  REFERENCES users (id) NOT VALID;\n"
                 "ALTER TABLE tickets ADD CONSTRAINT subject_len CHECK (char_length(subject) >= 3) "
                 "NOT VALID;\n"
                 "ALTER TABLE tickets VALIDATE CONSTRAINT subject_len;\n"
                 "ALTER TABLE tickets ALTER COLUMN subject TYPE varchar(200);\n"
                 "ALTER TABLE tickets ALTER COLUMN status TYPE text;\n"
                 "ALTER TABLE tickets ALTER COLUMN price TYPE numeric(12,2);\n"
                 "INSERT INTO users (id, name) VALUES (1, 'system');\n"}),
      IsEmpty());
}

TEST(LintTest, ATableTheRevisionCreatesIsNewAndSoNotLocked) {
  EXPECT_THAT(LintOnTop({"CREATE TABLE surveys (id bigint, ticket_id bigint, score int);\n"
                         "CREATE INDEX surveys_ticket_idx ON surveys (ticket_id);\n"
                         "ALTER TABLE surveys ADD PRIMARY KEY (id);\n"
                         "ALTER TABLE surveys ADD CONSTRAINT surveys_ticket_fk FOREIGN KEY "
                         "(ticket_id) REFERENCES tickets (id);\n"
                         "ALTER TABLE surveys ALTER COLUMN score SET NOT NULL;\n"
                         "ALTER TABLE surveys ADD COLUMN token uuid NOT NULL DEFAULT "
                         "gen_random_uuid();\n"}),
              IsEmpty());
}

TEST(LintTest, ABatchedUpdateIsNoDataChangeWithDdlAndThePostSectionIsRead) {
  const std::string update =
      "UPDATE tickets SET status = 'open' WHERE id IN (SELECT id FROM tickets WHERE status IS "
      "NULL LIMIT 1000);\n";
  // In the upgrade section, beside DDL: one transaction holds both.
  EXPECT_THAT(Rules(LintOnTop({"ALTER TABLE tickets ADD COLUMN urgent boolean;\n" + update})),
              ElementsAre("data-change-with-ddl"));
  // In a batch section: its own transactions, which is the point.
  auto batched = LintOnTop({"ALTER TABLE tickets ADD COLUMN urgent boolean;\n"
                            "-- migrate:batch\n" + update +
                            "-- migrate:post\n"
                            "ALTER TABLE tickets ALTER COLUMN status SET NOT NULL;\n"});
  ASSERT_THAT(Rules(batched), ElementsAre("set-not-null"));
  EXPECT_EQ(batched[0].line, 9);  // the post section's statement
}

TEST(LintTest, FindingsNameFileLineStatementTableAndTheSafeWay) {
  std::vector<LintFinding> findings =
      LintOnTop({"ALTER TABLE tickets ADD COLUMN note text;\n\n"
                 "CREATE INDEX tickets_owner_idx\n  ON tickets (owner_id);\n"});
  ASSERT_EQ(findings.size(), 1u);
  const LintFinding& f = findings[0];
  EXPECT_EQ(f.line, 7);  // 3 header lines, the marker, the ALTER, a blank line
  EXPECT_EQ(f.statement, "CREATE INDEX tickets_owner_idx ON tickets (owner_id)");
  EXPECT_EQ(f.table, "tickets");
  EXPECT_EQ(f.severity, LintSeverity::kWarning);
  EXPECT_THAT(f.rule->fix, HasSubstr("CONCURRENTLY"));
}

TEST(LintTest, AnIgnoreWithAReasonSilencesOneFindingAndKeepsTheReason) {
  std::vector<LintFinding> findings =
      LintOnTop({"-- lint:ignore drop-column nothing has read price since 2025\n"
                 "ALTER TABLE tickets DROP COLUMN price;\n"
                 "ALTER TABLE tickets DROP COLUMN owner_id;\n"});
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_TRUE(findings[0].ignored);
  EXPECT_EQ(findings[0].ignore_reason, "nothing has read price since 2025");
  EXPECT_FALSE(findings[1].ignored);  // the ignore covers one statement only
  LintCounts counts = CountFindings(findings);
  EXPECT_EQ(counts.warnings, 1);
  EXPECT_EQ(counts.ignored, 1);
  EXPECT_EQ(counts.errors, 0);
}

TEST(LintTest, AnIgnoreOfNoKnownRuleOrWithoutAReasonIsAnError) {
  std::vector<LintFinding> findings =
      LintOnTop({"-- lint:ignore drop-colum typo in the rule\n"
                 "ALTER TABLE tickets DROP COLUMN price;\n"
                 "-- lint:ignore drop-column\n"
                 "ALTER TABLE tickets DROP COLUMN owner_id;\n"});
  EXPECT_THAT(Rules(findings),
              ElementsAre("bad-lint-ignore", "drop-column", "bad-lint-ignore", "drop-column"));
  EXPECT_THAT(findings[0].detail, HasSubstr("drop-colum"));
  EXPECT_THAT(findings[2].detail, HasSubstr("no reason"));
  EXPECT_EQ(CountFindings(findings).errors, 2);
}

TEST(LintTest, MissingDowngradeIsIgnoredFromTheUpgradeSection) {
  std::vector<LintFinding> findings =
      LintOnTop({"-- lint:ignore missing-downgrade the backfill cannot be undone\n"
                 "ALTER TABLE tickets ADD COLUMN note text;\n",
                 true, /*downgrade=*/false});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].ignored);
}

TEST(LintTest, OnlyTheAskedRevisionsAreReportedButHistoryIsRead) {
  // The type rule knows subject is varchar(80) from the base, which is
  // not itself reported.
  std::vector<LintFinding> findings =
      LintOnTop({"ALTER TABLE tickets ALTER COLUMN subject TYPE varchar(100);\n"});
  EXPECT_THAT(findings, IsEmpty());
}

TEST(LintTest, EveryRuleHasAnIdWhyAndFixAndIsFoundByName) {
  std::set<std::string> ids;
  for (const LintRule& r : LintRules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_EQ(FindLintRule(r.id), &r);
    EXPECT_GT(std::string(r.why).size(), 10u);
    EXPECT_GT(std::string(r.fix).size(), 10u);
  }
  EXPECT_EQ(FindLintRule("no-such-rule"), nullptr);
}

}  // namespace
}  // namespace fleet::migrations
