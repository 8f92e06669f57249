// fleetctl lint and fleetctl test, as a user runs them: exit codes, what
// they print, and (for test) a real scratch database.
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::ExampleDir;
using ::fleet::testing::Result;
using ::fleet::testing::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A versions directory: users, then tickets with an index, then whatever
// a test adds.
class Versions {
 public:
  Versions() : dir_(tmp_.path() + "/versions") {
    std::filesystem::create_directories(dir_);
    Add("aaaa00000001", "", "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
        "DROP TABLE users;");
    Add("aaaa00000002", "aaaa00000001",
        "CREATE TABLE tickets (id bigint PRIMARY KEY, subject text, owner_id bigint);\n"
        "CREATE INDEX tickets_owner_idx ON tickets (owner_id);",
        "DROP TABLE tickets;");
  }

  void Add(const std::string& id, const std::string& down, const std::string& upgrade,
           const std::string& downgrade, const std::string& extra_header = "") {
    Write(dir_ + "/" + id + "_r.sql",
          "-- revision: " + id + "\n-- down_revision: " + down + "\n" + extra_header +
              "-- migrate:upgrade\n" + upgrade + "\n" +
              (downgrade.empty() ? "" : "-- migrate:downgrade\n" + downgrade + "\n"));
  }
  const std::string& dir() const { return dir_; }

 private:
  fleet::testing::TempDir tmp_;
  std::string dir_;
};

TEST(LintCommandTest, TheExampleHistoryHasWarningsAndNoErrors) {
  Result r = RunCli({"lint", "--dir", ExampleDir()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("3c4d5e6f7081_assign_tickets_to_agents.sql:10: warning "
                               "index-not-concurrent (revision 3c4d5e6f7081)"));
  EXPECT_THAT(r.out, HasSubstr("0 errors, 3 warnings"));
  EXPECT_THAT(r.out, HasSubstr("(9 revisions linted)"));
}

TEST(LintCommandTest, AnErrorExitsOneAndLoadsWhatTheMigratorWouldRefuse) {
  Versions v;
  v.Add("aaaa00000003", "aaaa00000002",
        "CREATE INDEX CONCURRENTLY tickets_subject_idx ON tickets (subject);",
        "DROP INDEX tickets_subject_idx;");
  Result r = RunCli({"lint", "--dir", v.dir()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("aaaa00000003_r.sql:4: error concurrently-in-transaction"));
  EXPECT_THAT(r.out, HasSubstr("1 error, 0 warnings"));
  // The migrator itself still refuses it.
  Result up = RunCli({"upgrade", "heads", "--sql", "--dir", v.dir()});
  EXPECT_EQ(up.code, 3);
  EXPECT_THAT(up.err, HasSubstr("CONCURRENTLY cannot run inside a transaction"));
}

TEST(LintCommandTest, RangeJsonAndShowIgnored) {
  Versions v;
  v.Add("aaaa00000003", "aaaa00000002",
        "-- lint:ignore drop-column nothing reads it since the 2025 release\n"
        "ALTER TABLE tickets DROP COLUMN owner_id;",
        "ALTER TABLE tickets ADD COLUMN owner_id bigint;");
  // Only the newest revision: the index of aaaa00000002 is on a new table.
  Result r = RunCli({"lint", "aaaa00000003", "--dir", v.dir(), "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["revisions"], 1);
  ASSERT_EQ(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["rule"], "drop-column");
  EXPECT_EQ(j["findings"][0]["ignored"], true);
  EXPECT_EQ(j["findings"][0]["ignore_reason"], "nothing reads it since the 2025 release");
  EXPECT_EQ(j["findings"][0]["line"], 5);

  Result quiet = RunCli({"lint", "base:", "--dir", v.dir()});
  EXPECT_EQ(quiet.code, 0);
  EXPECT_THAT(quiet.out, Not(HasSubstr("drop-column")));
  EXPECT_THAT(quiet.out, HasSubstr("No lint findings (1 ignored; --show-ignored lists them)"));
  Result shown = RunCli({"lint", "--show-ignored", "--dir", v.dir()});
  EXPECT_THAT(shown.out, HasSubstr("ignored warning drop-column"));
  EXPECT_THAT(shown.out, HasSubstr("ignored because: nothing reads it since the 2025 release"));

  Result unknown = RunCli({"lint", "ffff", "--dir", v.dir()});
  EXPECT_EQ(unknown.code, 3);
  EXPECT_THAT(unknown.err, HasSubstr("ffff"));
}

class TestCommandTest : public fleet::testing::PostgresTest {};

TEST_F(TestCommandTest, TheExampleHistoryPassesTheStairwayAndMatchesItsDeclaredSchema) {
  if (IsSkipped()) return;
  std::string example = std::string(FLEET_SOURCE_DIR) + "/examples/support-desk";
  Result r = RunCli({"test", "--dir", example + "/versions", "--declared",
                     example + "/schema/support_desk.sql", "--dev-url", Dsn()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok   1a2b3c4d5e6f"));
  EXPECT_THAT(r.out, HasSubstr("ok   declared schema"));
  EXPECT_THAT(r.out, HasSubstr("All 9 revisions passed."));
  // Nothing is left in the scratch database.
  EXPECT_EQ(fleet::testing::Query(Dsn(), "SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                         "'fleet_autogen%'")[0][0],
            "0");
}

TEST_F(TestCommandTest, ADowngradeThatForgetsAnIndexFailsNamingRevisionAndIndex) {
  if (IsSkipped()) return;
  Versions v;
  v.Add("aaaa00000003", "aaaa00000002", "CREATE INDEX tickets_subject_idx ON tickets (subject);",
        "SELECT 1;  -- forgot DROP INDEX tickets_subject_idx");
  v.Add("aaaa00000004", "aaaa00000003", "ALTER TABLE users ADD COLUMN email text;",
        "ALTER TABLE users DROP COLUMN email;");
  Result r = RunCli({"test", "--dir", v.dir(), "--dev-url", Dsn()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok   aaaa00000002"));
  EXPECT_THAT(r.out, HasSubstr("FAIL aaaa00000003 (" + v.dir() + "/aaaa00000003_r.sql)"));
  EXPECT_THAT(r.out, HasSubstr("drop index tickets_subject_idx"));
  EXPECT_THAT(r.out, Not(HasSubstr("ok   aaaa00000004")));  // it stops at the first
}

TEST_F(TestCommandTest, AFailingVerifyOrTwoHeadsFail) {
  if (IsSkipped()) return;
  Versions v;
  v.Add("aaaa00000003", "aaaa00000002", "ALTER TABLE users ADD COLUMN email text;",
        "ALTER TABLE users DROP COLUMN email;\n-- migrate:verify\nSELECT count(*) = 1 FROM users;");
  Result verify = RunCli({"test", "--dir", v.dir(), "--dev-url", Dsn()});
  EXPECT_EQ(verify.code, 1) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("FAIL aaaa00000003"));
  EXPECT_THAT(verify.out, HasSubstr("its migrate:verify query returned false"));

  v.Add("aaaa00000004", "aaaa00000002", "SELECT 1;", "SELECT 1;");
  Result heads = RunCli({"test", "--dir", v.dir(), "--dev-url", Dsn()});
  EXPECT_EQ(heads.code, 1);
  EXPECT_THAT(heads.out, HasSubstr("FAIL heads: the versions directory has 2 heads"));

  Result no_dev = RunCli({"test", "--dir", v.dir()});
  if (std::getenv("FLEET_DEV_URL") == nullptr) {
    EXPECT_EQ(no_dev.code, 2);
    EXPECT_THAT(no_dev.err, HasSubstr("--dev-url or FLEET_DEV_URL"));
  }
}

TEST_F(TestCommandTest, ADatabaseThatIsNotEmptyIsRefused) {
  if (IsSkipped()) return;
  fleet::testing::Exec(Dsn(), "CREATE TABLE precious (id int)");
  Versions v;
  Result r = RunCli({"test", "--dir", v.dir(), "--dev-url", Dsn()});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("is not empty (public.precious)"));
  EXPECT_EQ(fleet::testing::Query(Dsn(), "SELECT count(*) FROM precious")[0][0], "0");
}

}  // namespace
}  // namespace fleet::cli
