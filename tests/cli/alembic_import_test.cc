// fleetctl import alembic against a small Alembic project
// (tests/data/alembic_project) rendered by Debian's python3-alembic, and the
// imported history against Alembic itself, online, on real databases:
// the same pg_dump --schema-only.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::Result;
using ::fleet::testing::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPython[] = "/usr/bin/python3";

// Runs `cmd` through the shell; its stdout and exit code.
Result Shell(const std::string& cmd) {
  Result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class AlembicImportTest : public fleet::testing::PostgresTest {
 protected:
  void SetUp() override {
    if (Shell(absl::StrCat(kPython, " -c 'import alembic, psycopg2'")).code != 0) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "python3-alembic or python3-psycopg2 is missing: run the tests through "
                  "tests/run.sh, which installs them";
      }
      GTEST_SKIP() << "python3-alembic and python3-psycopg2 are needed (tests/run.sh installs "
                      "them)";
    }
    PostgresTest::SetUp();
  }

  // A copy of the project pointed at database `db`; without e1 (the
  // revision that reads rows) unless `with_reader`.
  std::string Project(const std::string& db, bool with_reader) {
    std::string dir = absl::StrCat(tmp_.path(), "/project-", db);
    std::filesystem::copy(std::string(FLEET_SOURCE_DIR) + "/tests/data/alembic_project", dir,
                          std::filesystem::copy_options::recursive);
    if (!with_reader) std::filesystem::remove(dir + "/alembic/versions/e1_read_rows.py");
    std::string ini = fleet::testing::ReadWhole(dir + "/alembic.ini");
    ini = absl::StrReplaceAll(ini, {{"postgresql+psycopg2://localhost/set_by_the_test", Url(db)}});
    std::ofstream(dir + "/alembic.ini", std::ios::trunc) << ini;
    return dir;
  }

  // The SQLAlchemy URL of `db` on the test server.
  std::string Url(const std::string& db) {
    std::map<std::string, std::string> kv;
    for (absl::string_view part : absl::StrSplit(admin_, ' ', absl::SkipWhitespace())) {
      std::vector<std::string> p = absl::StrSplit(part, absl::MaxSplits('=', 1));
      if (p.size() == 2) kv[p[0]] = p[1];
    }
    return absl::StrCat("postgresql+psycopg2://", kv["user"], "@", kv["host"], ":", kv["port"], "/",
                        db);
  }

  Result Alembic(const std::string& project, const std::string& args) {
    return Shell(absl::StrCat("cd '", project, "' && ", kPython, " -m alembic -c alembic.ini ", args));
  }

  Result Import(const std::string& project, const std::string& out, bool check = false) {
    std::vector<std::string> args{"import", "alembic", "--config", project + "/alembic.ini",
                                  "--out", out, "--python", kPython};
    if (check) args.push_back("--check");
    return RunCli(args);
  }

  // The schema as pg_dump prints it, without fleet's own log and the
  // dump's per-run lines.
  std::string Dump(const std::string& db) {
    Result r = Shell(absl::StrCat("pg_dump --schema-only --no-owner --no-privileges "
                                  "--exclude-table='fleet_migration_log*' '",
                                  DsnFor(db), "'"));
    EXPECT_EQ(r.code, 0) << r.out;
    std::string out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      if (absl::StartsWith(line, "--") || absl::StartsWith(line, "\\restrict") ||
          absl::StartsWith(line, "\\unrestrict") || line.empty()) {
        continue;
      }
      absl::StrAppend(&out, line, "\n");
    }
    return out;
  }

  std::string Heads(const std::string& db) {
    auto rows = fleet::testing::Query(DsnFor(db), "SELECT string_agg(version_num, ',' ORDER BY "
                                                  "version_num) FROM alembic_version");
    return rows[0][0];
  }

  fleet::testing::TempDir tmp_;
};

TEST_F(AlembicImportTest, EveryRevisionKeepsItsPlaceAndWhatCannotRenderIsNamed) {
  std::string project = Project(name_, /*with_reader=*/true);
  std::string out = tmp_.path() + "/versions";
  Result r = Import(project, out);
  EXPECT_EQ(r.code, 1) << r.out << r.err;  // e1 reads rows: not importable
  EXPECT_THAT(r.out, HasSubstr("b1_start_reporting.sql: irreversible (its downgrade raises "
                               "NotImplementedError: reports are kept for good)"));
  EXPECT_THAT(r.out, HasSubstr("d1_users_active_flag_name_index_.sql: transactional: false"));
  EXPECT_THAT(r.out, HasSubstr("5 of 6 revisions imported"));
  EXPECT_THAT(r.out, HasSubstr("e1 (alembic/versions/e1_read_rows.py): AttributeError"));
  std::string e1 = fleet::testing::ReadWhole(out + "/e1_normalise_names_reading_rows.sql");
  EXPECT_THAT(e1, HasSubstr("-- NOT IMPORTED"));
  EXPECT_THAT(e1, HasSubstr("--     for (uid, name) in bind.execute("));  // its source, kept
  EXPECT_THAT(e1, HasSubstr("RAISE EXCEPTION 'revision e1 was not imported from Alembic"));
  std::string a2 = fleet::testing::ReadWhole(out + "/a2_add_email_backfill.sql");
  EXPECT_THAT(a2, HasSubstr("name LIKE '%a%'"));  // % survives
  EXPECT_THAT(a2, HasSubstr("-- create_date: 2026-11-02 10:00:00.000000"));
  std::string d1 = fleet::testing::ReadWhole(out + "/d1_users_active_flag_name_index_.sql");
  EXPECT_THAT(d1, HasSubstr("-- depends_on: b1"));
  EXPECT_THAT(d1, Not(HasSubstr("COMMIT")));
  EXPECT_THAT(fleet::testing::ReadWhole(out + "/b1_start_reporting.sql"),
              HasSubstr("-- branch_labels: reporting"));

  // The graph is Alembic's: --check, and the verbs that read it.
  Result check = Import(project, out, /*check=*/true);
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("Same revisions, parents and heads as Alembic's: 6 revisions, "
                                   "heads e1"));
  EXPECT_EQ(RunCli({"heads", "--dir", out}).out.substr(0, 2), "e1");
  // Importing again over it is refused; nothing is overwritten.
  Result again = Import(project, out);
  EXPECT_EQ(again.code, 3);
  EXPECT_THAT(again.err, HasSubstr("already holds revisions"));

  // Run, e1 stops and names itself; the database stays at d1.
  Result up = RunCli({"upgrade", "heads", "--dir", out, "--dsn", Dsn()});
  EXPECT_EQ(up.code, 3);
  EXPECT_THAT(up.err, HasSubstr("revision e1 was not imported from Alembic"));
  EXPECT_EQ(Heads(name_), "d1");
}

TEST_F(AlembicImportTest, TheImportedHistoryBuildsWhatAlembicBuildsOnline) {
  std::string by_alembic = NewDatabase();
  std::string project = Project(by_alembic, /*with_reader=*/false);
  std::string out = tmp_.path() + "/versions";
  Result r = Import(project, out);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  Result alembic = Alembic(project, "upgrade heads");
  ASSERT_EQ(alembic.code, 0) << alembic.out;
  Result fleet = RunCli({"upgrade", "heads", "--dir", out, "--dsn", Dsn()});
  ASSERT_EQ(fleet.code, 0) << fleet.err;
  EXPECT_EQ(Dump(name_), Dump(by_alembic));
  EXPECT_EQ(Heads(name_), "d1");
  EXPECT_EQ(Heads(by_alembic), "d1");

  // A database Alembic migrated half way goes on with fleetctl, no stamp.
  std::string half = NewDatabase();
  std::string half_project = Project(half, /*with_reader=*/false);
  ASSERT_EQ(Alembic(half_project, "upgrade a2").code, 0);
  Result rest = RunCli({"upgrade", "heads", "--dir", out, "--dsn", DsnFor(half)});
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(Dump(half), Dump(by_alembic));
  EXPECT_EQ(Heads(half), "d1");
}

TEST_F(AlembicImportTest, APythonWithoutAlembicIsOneClearError) {
  std::string project = Project(name_, false);
  Result missing = RunCli({"import", "alembic", "--config", project + "/alembic.ini", "--out",
                           tmp_.path() + "/v", "--python", "/nonexistent/python3"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_THAT(missing.err, HasSubstr("no /nonexistent/python3 to run"));
  Result no_ini = RunCli({"import", "alembic", "--config", tmp_.path() + "/nope.ini"});
  EXPECT_EQ(no_ini.code, 2);
  EXPECT_THAT(no_ini.err, HasSubstr("no Alembic config at"));
}

}  // namespace
}  // namespace fleet::cli
