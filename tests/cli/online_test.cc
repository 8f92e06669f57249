// fleetctl against a real PostgreSQL, as users run it: real processes,
// signals, exit codes, and every output checked for the password.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"


namespace fleet::cli {
namespace {

using ::fleet::testing::ExampleDir;
using ::fleet::testing::Process;
using ::fleet::testing::Query;
using ::fleet::testing::RunCli;
using ::fleet::testing::ScriptText;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

class OnlineTest : public fleet::testing::PostgresTest {};

TEST_F(OnlineTest, UpgradeCurrentCheckValidateAndHistory) {
  auto check = RunCli({"check", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(check.code, kExitCheckFailed) << check.err;
  EXPECT_THAT(check.out, HasSubstr("9 pending revision(s)"));
  auto up = RunCli({"upgrade", "4d5e", "--dir", ExampleDir(), "--dsn", Dsn()});
  ASSERT_EQ(up.code, kExitOk) << up.err;
  EXPECT_THAT(up.out, HasSubstr("Running upgrade 3c4d5e6f7081 -> 4d5e6f708192, track ticket "
                                "resolution ... done ("));
  auto current = RunCli({"current", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(current.out, "4d5e6f708192\n");
  auto check_mid = RunCli({"check", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(check_mid.code, kExitCheckFailed);
  EXPECT_THAT(check_mid.out, HasSubstr("4d5e6f708192 -> 5e6f708192a3, add satisfaction surveys"));
  ASSERT_EQ(RunCli({"upgrade", "heads", "--dir", ExampleDir(), "--dsn", Dsn()}).code, kExitOk);
  auto check_done = RunCli({"check", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(check_done.code, kExitOk);
  EXPECT_THAT(check_done.out, HasSubstr("No pending revisions"));
  auto history = RunCli({"history", "--indicate-current", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_THAT(history.out, HasSubstr("-> 9c0d1e2f3041 (reporting) (head) (current) (mergepoint)"));
  auto validate = RunCli({"validate", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(validate.code, kExitOk) << validate.out << validate.err;

  // Drift: a copy of the example with one applied script edited.
  fleet::testing::TempDir copy;
  for (const auto& entry : std::filesystem::directory_iterator(ExampleDir())) {
    std::filesystem::copy(entry.path(), copy.path());
  }
  std::string edited = copy.path() + "/3c4d5e6f7081_assign_tickets_to_agents.sql";
  std::ofstream(edited, std::ios::app) << "-- an innocent-looking edit\n";
  auto drift = RunCli({"validate", "--dir", copy.path(), "--dsn", Dsn()});
  EXPECT_EQ(drift.code, kExitCheckFailed);
  EXPECT_THAT(drift.out, HasSubstr("drift: revision 3c4d5e6f7081 (" + edited + ")"));
  auto refused = RunCli({"upgrade", "heads", "--dir", copy.path(), "--dsn", Dsn()});
  EXPECT_EQ(refused.code, kExitFailed);
  EXPECT_THAT(refused.err, HasSubstr("drift: the scripts of applied revisions changed since they "
                                     "ran: 3c4d5e6f7081 (" + edited + ")"));
  auto allowed = RunCli({"upgrade", "heads", "--allow-drift", "--dir", copy.path(), "--dsn", Dsn()});
  EXPECT_EQ(allowed.code, kExitOk) << allowed.err;
  auto down = RunCli({"downgrade", "base", "--dir", copy.path(), "--dsn", Dsn()});
  EXPECT_EQ(down.code, kExitOk) << down.err;  // drift blocks upgrades only
  EXPECT_EQ(RunCli({"stamp", "base", "--dir", ExampleDir(), "--dsn", Dsn()}).code, kExitOk);
}

TEST_F(OnlineTest, UsageOfTheOnlineFlags) {
  auto bad = RunCli({"upgrade", "heads", "--dir", ExampleDir(), "--dsn", Dsn(), "--lock-wait",
                     "soon"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("--lock-wait takes a duration from 0 to 8760h such as 30s"));
  auto unknown = RunCli({"upgrade", "nowhere", "--dir", ExampleDir(), "--dsn", Dsn()});
  EXPECT_EQ(unknown.code, kExitFailed);
  EXPECT_THAT(unknown.err, HasSubstr("Can't locate revision identified by 'nowhere'"));
}

TEST_F(OnlineTest, TwoProcessesAtOnceApplyEachRevisionOnce) {
  fleet::testing::TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "SELECT pg_sleep(1);\nCREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "ALTER TABLE t ADD COLUMN y int;"));
  Process first({FLEETCTL_PATH, "upgrade", "head", "--dir", dir.path(), "--dsn", Dsn()});
  Process second({FLEETCTL_PATH, "upgrade", "head", "--dir", dir.path(), "--dsn", Dsn()});
  EXPECT_EQ(first.Wait(), 0) << first.Err();
  EXPECT_EQ(second.Wait(), 0) << second.Err();
  auto log = Query(Dsn(), "SELECT revision, count(*) FROM fleet_migration_log WHERE outcome = "
                          "'ok' GROUP BY revision ORDER BY revision");
  EXPECT_EQ(log, (std::vector<std::vector<std::string>>{{"a1", "1"}, {"a2", "1"}}));
  // One of them did the work, the other found nothing to do.
  std::string outs = first.Out() + second.Out();
  EXPECT_THAT(outs, HasSubstr("Done: base -> a2 (2 revisions)"));
  EXPECT_THAT(outs, HasSubstr("Nothing to do: the database is at a2"));
}

TEST_F(OnlineTest, CtrlCCancelsAndLeavesTheLastCompletedRevision) {
  fleet::testing::TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE c2 (x int);\nSELECT pg_sleep(60);"));
  Process p({FLEETCTL_PATH, "upgrade", "head", "--dir", dir.path(), "--dsn", Dsn()});
  ASSERT_TRUE(WaitFor([&] {
    return !Query(admin_, "SELECT 1 FROM pg_stat_activity WHERE datname = '" + name_ +
                              "' AND query LIKE 'SELECT pg_sleep(60)%'")
                .empty();
  }));
  p.Signal(SIGINT);
  int code = p.Wait();
  EXPECT_EQ(code, kExitInterrupted) << p.Err();
  EXPECT_THAT(p.Err(), HasSubstr("revision a2"));
  EXPECT_THAT(p.Err(), HasSubstr("cancelled and rolled back"));
  EXPECT_EQ(Query(Dsn(), "SELECT version_num FROM alembic_version")[0][0], "a1");
  EXPECT_EQ(Query(Dsn(), "SELECT to_regclass('c2') IS NULL")[0][0], "t");
}

TEST_F(OnlineTest, KilledMidBackfillTheSameCommandResumesAndAppliesTheRevisionOnce) {
  fleet::testing::TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "",
                                 "CREATE TABLE tickets (id int PRIMARY KEY, priority text NOT "
                                 "NULL);\nINSERT INTO tickets SELECT g, CASE WHEN g % 3 = 0 THEN "
                                 "'high' ELSE 'low' END FROM generate_series(1, 20000) g;"));
  // The upgrade section cannot run twice (ADD COLUMN would fail): the
  // resumed run must not repeat it.
  dir.Write("b1.sql",
            "-- revision: b1\n-- down_revision: a1\n-- message: backfill urgency\n"
            "-- batch_pause: 50ms\n\n"
            "-- migrate:upgrade\nALTER TABLE tickets ADD COLUMN urgent boolean;\n\n"
            "-- migrate:batch\nUPDATE tickets SET urgent = (priority = 'high') WHERE id IN "
            "(SELECT id FROM tickets WHERE urgent IS NULL ORDER BY id LIMIT 500);\n\n"
            "-- migrate:post\nALTER TABLE tickets ALTER COLUMN urgent SET NOT NULL;\n\n"
            "-- migrate:verify\nSELECT NOT EXISTS (SELECT 1 FROM tickets WHERE urgent IS DISTINCT "
            "FROM (priority = 'high'));\n");
  const std::vector<std::string> command{FLEETCTL_PATH, "upgrade", "heads", "--dir", dir.path(),
                                         "--dsn", Dsn()};
  auto rows_done = [&] {
    auto r = Query(Dsn(), "SELECT coalesce(max(rows_done), 0) FROM fleet_migration_log WHERE "
                          "revision = 'b1' AND outcome = 'in_progress'");
    return std::stoll(r[0][0]);
  };
  Process first(command);
  ASSERT_TRUE(WaitFor([&] {
    try {
      return rows_done() >= 2000;
    } catch (const std::exception&) {
      return false;  // the log does not exist yet
    }
  })) << first.Err();
  first.Signal(SIGKILL);
  EXPECT_EQ(first.Wait(), 128 + SIGKILL);
  const int64_t kept = rows_done();
  EXPECT_GE(kept, 2000);
  EXPECT_LT(kept, 20000);
  EXPECT_EQ(Query(Dsn(), "SELECT version_num FROM alembic_version")[0][0], "a1");
  auto check = RunCli({"check", "--dir", dir.path(), "--dsn", Dsn()});
  EXPECT_EQ(check.code, kExitCheckFailed);
  EXPECT_THAT(check.out, HasSubstr("IN PROGRESS: batched revision b1 stopped after " +
                                   std::to_string(kept) + " rows in"));

  Process second(command);
  EXPECT_EQ(second.Wait(), 0) << second.Err();
  EXPECT_THAT(second.Out(), HasSubstr("Running upgrade a1 -> b1, backfill urgency ... resuming "
                                      "after " + std::to_string(kept) + " rows in"));
  EXPECT_THAT(second.Out(), HasSubstr("20000 rows in 41 batches)"));
  EXPECT_EQ(Query(Dsn(), "SELECT version_num FROM alembic_version")[0][0], "b1");
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM tickets WHERE urgent IS DISTINCT FROM "
                         "(priority = 'high')")[0][0],
            "0");
  // One log row for b1, applied: the killed run's, carried to the end.
  EXPECT_EQ(Query(Dsn(), "SELECT outcome, rows_done, batches FROM fleet_migration_log WHERE "
                         "revision = 'b1'"),
            (std::vector<std::vector<std::string>>{{"ok", "20000", "41"}}));
}

TEST_F(OnlineTest, ThePasswordAppearsInNoOutputLogOrJson) {
  const std::string secret = "Sentinel-Passw0rd-41ab";
  const std::string dsn = absl::StrCat(Dsn(), " password=", secret);  // trust ignores it
  const std::string bad = absl::StrCat(admin_, " port=1 password=", secret);
  std::string everything;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"upgrade", "heads", "--dsn", dsn},
           {"current", "-v", "--dsn", dsn},
           {"current", "-o", "json", "--dsn", dsn},
           {"check", "--dsn", dsn},
           {"validate", "-o", "json", "--dsn", dsn},
           {"history", "-i", "--dsn", dsn},
           {"upgrade", "heads", "--dsn", bad},
           {"current", "-v", "--dsn", bad},
           {"stamp", "heads", "--dsn", bad},
       }) {
    std::vector<std::string> full = args;
    full.push_back("--dir");
    full.push_back(ExampleDir());
    auto r = RunCli(full);
    everything += r.out + r.err;
  }
  // Connections are named user@host:port/dbname, never by their strings.
  EXPECT_THAT(everything, HasSubstr("cannot connect to postgres@127.0.0.1:1/"));
  EXPECT_THAT(everything, Not(HasSubstr("password")));
  EXPECT_THAT(everything, Not(HasSubstr(secret)));
  auto logged = Query(Dsn(), "SELECT string_agg(concat_ws(' ', revision, error, actor, "
                             "rollout_id), ' ') FROM fleet_migration_log");
  EXPECT_THAT(logged[0][0], Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace fleet::cli
