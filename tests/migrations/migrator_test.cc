// The Migrator against a real PostgreSQL (tests/run.sh starts one): each
// fault the engine promises to survive, shown surviving.
#include "migrations/migrator.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::fleet::testing::ScriptText;
using ::fleet::testing::TempDir;
using ::fleet::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class MigratorTest : public fleet::testing::PostgresTest {
 protected:
  MigratorOptions Options(const std::string& dsn) const {
    MigratorOptions o;
    o.dsn = dsn;
    o.actor = "tester@host";
    o.retry_backoff = absl::Milliseconds(10);
    return o;
  }
  MigratorOptions Options() const { return Options(Dsn()); }

  std::vector<std::string> Heads(const std::string& dsn, const std::string& table =
                                                             "alembic_version") {
    std::vector<std::string> heads;
    for (auto& row : Query(dsn, "SELECT version_num FROM " + table + " ORDER BY 1")) {
      heads.push_back(row[0]);
    }
    return heads;
  }
  std::vector<std::string> Heads() { return Heads(Dsn()); }

  bool TableExists(const std::string& name) {
    return Query(Dsn(), "SELECT to_regclass('" + name + "') IS NOT NULL")[0][0] == "t";
  }

  // Rows of the log: "revision direction outcome".
  std::vector<std::string> Log() {
    std::vector<std::string> out;
    for (auto& r : Query(Dsn(), "SELECT revision, direction, outcome FROM fleet_migration_log "
                                "ORDER BY id")) {
      out.push_back(r[0] + " " + r[1] + " " + r[2]);
    }
    return out;
  }

  std::unique_ptr<const RevisionGraph> SupportDesk() {
    auto g = LoadRevisionGraph(DefaultFileSystem(),
                               std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
    EXPECT_TRUE(g.ok()) << g.status();
    return *std::move(g);
  }
};

TEST_F(MigratorTest, UpgradesSupportDeskAndLogsEveryStep) {
  auto g = SupportDesk();
  Migrator m(*g, Options());
  std::vector<std::string> events;
  auto r = m.Upgrade("heads", [&](const StepEvent& e) {
    events.push_back(absl::StrCat(e.kind == StepEvent::Kind::kStarted ? "start " : "end ",
                                  e.revision));
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->steps, 9);
  EXPECT_EQ(events.size(), 18u);
  EXPECT_THAT(Heads(), ElementsAre("9c0d1e2f3041"));
  EXPECT_TRUE(TableExists("satisfaction_surveys"));
  auto log = Query(Dsn(), "SELECT revision, checksum, actor, rollout_id, outcome, duration_ms >= 0, "
                          "finished_at >= started_at FROM fleet_migration_log ORDER BY id");
  ASSERT_EQ(log.size(), 9u);
  for (const auto& row : log) {
    auto idx = g->FindExact(row[0]);
    ASSERT_TRUE(idx.has_value());
    EXPECT_EQ(row[1], g->script(*idx).checksum);
    EXPECT_EQ(row[2], "tester@host");
    EXPECT_EQ(row[3], "");
    EXPECT_EQ(row[4], "ok");
    EXPECT_EQ(row[5], "t");
    EXPECT_EQ(row[6], "t");
  }
  // Exactly Alembic's table, so Alembic reads it back.
  EXPECT_EQ(Query(Dsn(), "SELECT data_type, character_maximum_length, is_nullable FROM "
                         "information_schema.columns WHERE table_name = 'alembic_version'"),
            (std::vector<std::vector<std::string>>{{"character varying", "32", "NO"}}));
  EXPECT_EQ(Query(Dsn(), "SELECT conname FROM pg_constraint WHERE conrelid = "
                         "'alembic_version'::regclass")[0][0],
            "alembic_version_pkc");
  auto again = m.Upgrade("heads");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->steps, 0);

  auto down = m.Downgrade("base");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_TRUE(Heads().empty());
  EXPECT_FALSE(TableExists("tickets"));
  EXPECT_FALSE(TableExists("report_daily_ticket_counts"));
}

TEST_F(MigratorTest, FailingSecondStatementLeavesThePreviousRevisionAndNoPartialDdl) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1",
                                 "CREATE TABLE partial (x int);\nSELECT no_such_column FROM t;"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  auto r = m.Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("revision a2 (" + dir.path() + "/a2.sql:7) failed"));
  EXPECT_THAT(r.status().message(), HasSubstr("no_such_column"));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("partial"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade failed"));
  EXPECT_THAT(Query(Dsn(), "SELECT error FROM fleet_migration_log WHERE outcome = 'failed'")[0][0],
              HasSubstr("no_such_column"));
}

TEST_F(MigratorTest, ARehearsalPredictsTheFailureAndLeavesNothingBehind) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (subject text);"));
  dir.Write("a2.sql", ScriptText("a2", "a1",
                                 "CREATE TABLE extra (x int);\n"
                                 "ALTER TABLE t ADD CONSTRAINT subject_min CHECK "
                                 "(char_length(subject) >= 3);",
                                 "ALTER TABLE t DROP CONSTRAINT subject_min;\nDROP TABLE extra;"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  ASSERT_TRUE(m.Upgrade("a1").ok());
  Exec(Dsn(), "INSERT INTO t VALUES ('printer on fire'), ('hi')");
  const auto log_before = Log();

  auto bad = m.Rehearse("heads");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_TRUE(bad->failed);
  EXPECT_EQ(bad->revision, "a2");
  EXPECT_EQ(bad->file, dir.path() + "/a2.sql");
  EXPECT_EQ(bad->line, 7);
  EXPECT_THAT(bad->statement, HasSubstr("ADD CONSTRAINT subject_min"));
  EXPECT_THAT(bad->error, HasSubstr("subject_min"));
  EXPECT_THAT(bad->start_heads, ElementsAre("a1"));
  EXPECT_TRUE(bad->rehearsed.empty());
  // Nothing moved: revision, schema, rows, log.
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("extra"));
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM t")[0][0], "2");
  EXPECT_EQ(Log(), log_before);

  Exec(Dsn(), "DELETE FROM t WHERE subject = 'hi'");
  auto good = m.Rehearse("heads");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_FALSE(good->failed) << good->error;
  EXPECT_THAT(good->rehearsed, ElementsAre("a2"));
  EXPECT_TRUE(good->not_rehearsed.empty());
  EXPECT_THAT(good->locks, ::testing::Contains(RehearsalLock{"t", "AccessExclusiveLock"}));
  EXPECT_THAT(good->locks, ::testing::Contains(RehearsalLock{"extra", "AccessExclusiveLock"}));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("extra"));
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM pg_constraint WHERE conname = 'subject_min'")[0][0],
            "0");
  EXPECT_EQ(Log(), log_before);
}

TEST_F(MigratorTest, TableSizesCountAPartitionedTablesPartitions) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  auto g = dir.Graph();
  Exec(Dsn(), "CREATE TABLE plain (x int); INSERT INTO plain SELECT generate_series(1, 1000);"
              "CREATE TABLE parted (x int) PARTITION BY RANGE (x);"
              "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (500);"
              "CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (500) TO (2000);"
              "INSERT INTO parted SELECT generate_series(1, 1000); ANALYZE plain; ANALYZE parted;");
  Migrator m(*g, Options());
  auto sizes = m.TableSizes({"plain", "parted", "missing"});
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  ASSERT_EQ(sizes->size(), 2u);  // ordered by name; the missing one left out
  EXPECT_EQ((*sizes)[0].table, "parted");
  EXPECT_GT((*sizes)[0].bytes, 8192);
  EXPECT_EQ((*sizes)[0].rows, 1000);
  EXPECT_EQ((*sizes)[1].table, "plain");
  EXPECT_EQ((*sizes)[1].rows, 1000);
}

TEST_F(MigratorTest, ARehearsalStopsAtTheFirstNonTransactionalRevision) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "ALTER TABLE t ADD COLUMN y int;"));
  dir.Write("a3.sql", ScriptText("a3", "a2", "CREATE INDEX CONCURRENTLY t_y ON t (y);",
                                 "DROP INDEX CONCURRENTLY t_y;", "-- transactional: false\n"));
  dir.Write("a4.sql", ScriptText("a4", "a3", "ALTER TABLE t ADD COLUMN z int;"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  ASSERT_TRUE(m.Upgrade("a1").ok());
  auto r = m.Rehearse("heads");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->failed);
  EXPECT_THAT(r->rehearsed, ElementsAre("a2"));
  EXPECT_THAT(r->not_rehearsed, ElementsAre("a3", "a4"));
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'")[0][0],
            "1");
}

TEST_F(MigratorTest, BackendKilledDuringAMigrationLeavesThePreviousRevision) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE half (x int);\nSELECT pg_sleep(60);"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  absl::StatusOr<RunResult> r;
  std::thread runner([&] { r = m.Upgrade("head"); });
  std::string sleeping = "SELECT pid FROM pg_stat_activity WHERE datname = '" + name_ +
                         "' AND query LIKE 'SELECT pg_sleep(60)%'";
  ASSERT_TRUE(WaitFor([&] { return !Query(admin_, sleeping).empty(); }));
  Exec(admin_, "SELECT pg_terminate_backend(pid) FROM (" + sleeping + ") s");
  runner.join();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("lost the connection"));
  EXPECT_THAT(r.status().message(), HasSubstr("revision a2"));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("half"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade failed"));
}

TEST_F(MigratorTest, TwoMigratorsAtOnceApplyEachRevisionExactlyOnce) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "SELECT pg_sleep(1);\nCREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "ALTER TABLE t ADD COLUMN y int;"));
  auto g = dir.Graph();
  Migrator first(*g, Options());
  Migrator second(*g, Options());
  absl::StatusOr<RunResult> r1, r2;
  std::thread t1([&] { r1 = first.Upgrade("head"); });
  std::string lock_state = "SELECT granted FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                           "WHERE l.locktype = 'advisory' AND a.datname = '" + name_ + "'";
  ASSERT_TRUE(WaitFor([&] { return Query(admin_, lock_state).size() == 1; }));
  std::thread t2([&] { r2 = second.Upgrade("head"); });
  // The second one waits on the lock while the first works.
  ASSERT_TRUE(WaitFor([&] {
    for (auto& row : Query(admin_, lock_state)) {
      if (row[0] == "f") return true;
    }
    return false;
  }));
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r1->steps, 2);
  EXPECT_EQ(r2->steps, 0);  // found nothing to do
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade ok"));
}

TEST_F(MigratorTest, HeldTableLockTimesOutRetriesAndNamesTheBlocker) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "ALTER TABLE t ADD COLUMN y int;"));
  auto g = dir.Graph();
  MigratorOptions o = Options();
  o.lock_timeout = absl::Milliseconds(150);
  o.retries = 2;
  Migrator m(*g, o);
  ASSERT_TRUE(m.Upgrade("a1").ok());
  pqxx::connection holder(Dsn());
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE t IN ACCESS SHARE MODE");
  const int holder_pid = holder.backendpid();
  auto r = m.Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsAborted(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("revision a2"));
  EXPECT_THAT(r.status().message(), HasSubstr("after 3 attempts"));
  EXPECT_THAT(r.status().message(), HasSubstr("lock timeout"));
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("blocked by pid ", holder_pid)));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  hold.abort();
  ASSERT_TRUE(m.Upgrade("head").ok());
  EXPECT_THAT(Heads(), ElementsAre("a2"));
}

TEST_F(MigratorTest, FailingNonTransactionalScriptIsDirtyUntilStamped) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "",
                                 "CREATE TABLE t (a int, b int);\n"
                                 "INSERT INTO t VALUES (1, 1), (2, 1);"));
  dir.Write("a2.sql", ScriptText("a2", "a1",
                                 "CREATE INDEX CONCURRENTLY t_a ON t (a);\n"
                                 "CREATE UNIQUE INDEX CONCURRENTLY t_b ON t (b);",
                                 "DROP INDEX t_b;\nDROP INDEX t_a;", "-- transactional: false\n"));
  dir.Write("a3.sql", ScriptText("a3", "a2", "CREATE TABLE later (x int);"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  auto r = m.Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("a2.sql:8) is non-transactional and failed part-way"));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  auto state = m.Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->dirty);
  EXPECT_EQ(state->dirty_revision, "a2");
  EXPECT_THAT(state->invalid_indexes, ElementsAre("t_b"));

  for (auto attempt : {m.Upgrade("head"), m.Downgrade("base")}) {
    ASSERT_FALSE(attempt.ok());
    EXPECT_THAT(attempt.status().message(), HasSubstr("is dirty: revision a2 failed part-way"));
    EXPECT_THAT(attempt.status().message(), HasSubstr("INVALID indexes left behind: t_b"));
  }
  EXPECT_FALSE(TableExists("later"));

  // The operator repairs by hand, then stamps where the database really is.
  Exec(Dsn(), "DROP INDEX t_b; DROP INDEX t_a; DELETE FROM t WHERE a = 2");
  auto stamp = m.Stamp({"a1"}, false);
  ASSERT_TRUE(stamp.ok()) << stamp.status();
  EXPECT_FALSE(m.Inspect()->dirty);
  auto done = m.Upgrade("head");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(Heads(), ElementsAre("a3"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade dirty", "a1 stamp ok",
                                 "a2 upgrade ok", "a3 upgrade ok"));
}

TEST_F(MigratorTest, VerifyReturningFalseRollsTheRevisionBack) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);", "DROP TABLE t;", "",
                                 "SELECT count(*) = 1 FROM t;"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  auto r = m.Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("revision a1 (" + dir.path() + "/a1.sql:12) failed: "
                                              "its migrate:verify query returned false"));
  EXPECT_TRUE(Heads().empty());
  EXPECT_FALSE(TableExists("t"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade failed"));
}


// The version change and the log row go in one statement; a version table
// moved under the engine is still caught, and the whole revision undone.
TEST_F(MigratorTest, AVersionTableMovedByTheScriptRollsTheRevisionBack) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE u (x int);\n"
                                             "DELETE FROM alembic_version;"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  ASSERT_TRUE(m.Upgrade("a1").ok());
  auto r = m.Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("revision a2 (" + dir.path() + "/a2.sql:6) failed: Online migration "
                        "expected to match one row when updating 'a1' to 'a2' in "
                        "'alembic_version'; 0 found"));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("u"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade failed"));
  // A stamp writes its version change and log row the same way.
  ASSERT_TRUE(m.Stamp({"a2"}, /*purge=*/false).ok());
  EXPECT_THAT(Heads(), ElementsAre("a2"));
  EXPECT_THAT(Log(), ElementsAre("a1 upgrade ok", "a2 upgrade failed", "a2 stamp ok"));
}
TEST_F(MigratorTest, ContinuesADatabaseAlembicMigrated) {
  std::ifstream in(std::string(FLEET_SOURCE_DIR) + "/tests/data/alembic_support_desk_to_4d5e.sql");
  std::stringstream sql;
  sql << in.rdbuf();
  Exec(Dsn(), sql.str());
  EXPECT_THAT(Heads(), ElementsAre("4d5e6f708192"));
  auto g = SupportDesk();
  Migrator m(*g, Options());
  auto state = m.Inspect();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(state->drift.empty());  // applied before the log existed: not drift
  auto r = m.Upgrade("heads");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->steps, 5);
  EXPECT_THAT(Heads(), ElementsAre("9c0d1e2f3041"));
  // Back to where Alembic left it on the main branch; the reporting branch,
  // not below 4d5e, stays (as Alembic does).
  auto down = m.Downgrade("4d5e6f708192");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_THAT(Heads(), ElementsAre("4d5e6f708192", "8b9c0d1e2f30"));
}

TEST_F(MigratorTest, SixteenDatabasesFromSixteenThreads) {
  auto g = SupportDesk();
  std::vector<std::string> dbs;
  for (int i = 0; i < 16; ++i) dbs.push_back(NewDatabase());
  std::vector<absl::StatusOr<RunResult>> results(dbs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < dbs.size(); ++i) {
    threads.emplace_back([&, i] {
      Migrator m(*g, Options(DsnFor(dbs[i])));
      results[i] = m.Upgrade("heads");
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < dbs.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << dbs[i] << ": " << results[i].status();
    EXPECT_EQ(results[i]->steps, 9);
    EXPECT_THAT(Heads(DsnFor(dbs[i])), ElementsAre("9c0d1e2f3041"));
  }
}

TEST_F(MigratorTest, AnotherMigratorHoldingTheLockIsNamed) {
  auto g = SupportDesk();
  pqxx::connection holder(Dsn());
  pqxx::nontransaction tx(holder);
  // The key names database, schema and table, each quoted.
  tx.exec("SELECT pg_advisory_lock(hashtextextended('fleet-migration/\"" + name_ +
          "\"/\"public\"/\"alembic_version\"', 0))");
  MigratorOptions o = Options();
  o.lock_wait = absl::Milliseconds(200);
  Migrator m(*g, o);
  auto r = m.Upgrade("heads");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("another migration is running on ", name_, "/public (pid ",
                                     holder.backendpid(), ")")));
  EXPECT_FALSE(TableExists("users"));
}

TEST_F(MigratorTest, DriftIsNamedAndRefusedUnlessAllowed) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);", "DROP TABLE t;"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE u (x int);", "DROP TABLE u;"));
  auto g = dir.Graph();
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("a1").ok());
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x bigint);", "DROP TABLE t;"));
  auto changed = dir.Graph();
  Migrator m(*changed, Options());
  auto state = m.Inspect();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->drift.size(), 1u);
  EXPECT_EQ(state->drift[0].revision, "a1");
  EXPECT_EQ(state->drift[0].path, dir.path() + "/a1.sql");
  auto refused = m.Upgrade("head");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("drift"));
  EXPECT_THAT(refused.status().message(), HasSubstr("a1 (" + dir.path() + "/a1.sql)"));
  MigratorOptions o = Options();
  o.allow_drift = true;
  ASSERT_TRUE(Migrator(*changed, o).Upgrade("head").ok());
  EXPECT_THAT(Heads(), ElementsAre("a2"));
}

TEST_F(MigratorTest, SchemaPerTenantWithHostileNames) {
  auto g = SupportDesk();
  const std::string hostile = "tenant \"7\"; DROP TABLE x; é✓";
  MigratorOptions o = Options();
  o.schema = hostile;
  auto missing = Migrator(*g, o).Upgrade("heads");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("does not exist"));
  o.create_schema = true;
  o.version_table = "version's";
  auto r = Migrator(*g, o).Upgrade("heads");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Query(Dsn(), "SELECT version_num FROM \"tenant \"\"7\"\"; DROP TABLE x; é✓\".\"version's\"")[0][0],
            "9c0d1e2f3041");
  EXPECT_FALSE(TableExists("public.tickets"));
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM pg_tables WHERE tablename = 'tickets'")[0][0], "1");
  // A second tenant schema in the same database is independent.
  MigratorOptions o2 = Options();
  o2.schema = "tenant_b";
  o2.create_schema = true;
  auto b = Migrator(*g, o2).Upgrade("2b3c");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(Heads(Dsn(), "tenant_b.alembic_version"), ElementsAre("2b3c4d5e6f70"));
}

// Many schemas of one database read in a few queries say exactly what one
// Inspect per schema says: heads, the last step, dirty, drift, a missing
// schema, an empty one, hostile names and a version table named oddly.
TEST_F(MigratorTest, InspectSchemasReadsManyAsInspectReadsOne) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);", "DROP TABLE t;"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE u (x int);", "DROP TABLE u;"));
  dir.Write("a3.sql", ScriptText("a3", "a2", "SELECT 1/0;", "", "-- transactional: false\n"));
  auto g = dir.Graph();
  ASSERT_NE(g, nullptr);
  const std::vector<std::string> schemas = {"at_a2", "tenant \"7\"; é✓", "empty", "missing",
                                            "dirty", "order", "stamped"};
  for (const std::string& schema : schemas) {
    if (schema == "missing") continue;
    MigratorOptions o = Options();
    o.schema = schema;
    o.create_schema = true;
    o.version_table = "version's";
    if (schema == "empty") {
      ASSERT_TRUE(Migrator(*g, o).Upgrade("base").ok());  // creates the schema only
      continue;
    }
    ASSERT_TRUE(Migrator(*g, o).Upgrade(schema == "at_a2" ? "a2" : "a1").ok()) << schema;
    if (schema == "dirty" || schema == "stamped") {
      ASSERT_FALSE(Migrator(*g, o).Upgrade("a3").ok());
    }
    if (schema == "stamped") {  // repaired by hand: the stamp clears the mark
      ASSERT_TRUE(Migrator(*g, o).Stamp({"a2"}, /*purge=*/true).ok());
    }
  }
  // A script changed since it ran in "order": drift.
  TempDir changed;
  changed.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x bigint);", "DROP TABLE t;"));
  changed.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE u (x int);", "DROP TABLE u;"));
  changed.Write("a3.sql", ScriptText("a3", "a2", "SELECT 1/0;", "", "-- transactional: false\n"));
  auto g2 = changed.Graph();
  ASSERT_NE(g2, nullptr);

  MigratorOptions o = Options();
  o.version_table = "version's";
  auto many = Migrator(*g2, o).InspectSchemas(schemas);
  ASSERT_EQ(many.size(), schemas.size());
  for (size_t i = 0; i < schemas.size(); ++i) {
    MigratorOptions one = o;
    one.schema = schemas[i];
    auto single = Migrator(*g2, one).Inspect();
    ASSERT_EQ(many[i].ok(), single.ok()) << schemas[i] << ": " << many[i].status();
    if (!single.ok()) {
      EXPECT_EQ(many[i].status(), single.status()) << schemas[i];
      continue;
    }
    EXPECT_EQ(many[i]->database, single->database);
    EXPECT_EQ(many[i]->schema, single->schema);
    EXPECT_EQ(many[i]->has_version_table, single->has_version_table) << schemas[i];
    EXPECT_EQ(many[i]->heads, single->heads) << schemas[i];
    EXPECT_EQ(many[i]->dirty, single->dirty) << schemas[i];
    EXPECT_EQ(many[i]->dirty_revision, single->dirty_revision) << schemas[i];
    EXPECT_EQ(many[i]->dirty_error, single->dirty_error) << schemas[i];
    EXPECT_EQ(many[i]->last_revision, single->last_revision) << schemas[i];
    EXPECT_EQ(many[i]->last_direction, single->last_direction) << schemas[i];
    EXPECT_EQ(many[i]->last_outcome, single->last_outcome) << schemas[i];
    EXPECT_EQ(many[i]->last_finished_at, single->last_finished_at) << schemas[i];
    EXPECT_EQ(many[i]->in_progress_revision, single->in_progress_revision) << schemas[i];
    ASSERT_EQ(many[i]->drift.size(), single->drift.size()) << schemas[i];
    for (size_t d = 0; d < single->drift.size(); ++d) {
      EXPECT_EQ(many[i]->drift[d].revision, single->drift[d].revision);
    }
  }
  EXPECT_THAT(many[0]->heads, ElementsAre("a2"));
  EXPECT_TRUE(many[2]->heads.empty());
  EXPECT_THAT(many[3].status().message(), HasSubstr("schema \"missing\" does not exist"));
  EXPECT_TRUE(many[4]->dirty);
  EXPECT_EQ(many[4]->dirty_revision, "a3");
  ASSERT_EQ(many[5]->drift.size(), 1u);
  EXPECT_EQ(many[5]->drift[0].revision, "a1");
  EXPECT_FALSE(many[6]->dirty);
  EXPECT_EQ(many[6]->last_direction, "stamp");
  EXPECT_THAT(many[6]->heads, ElementsAre("a2"));
}

// A schema named like a keyword is that schema: the version table, the log
// and the tenant's tables land in it, and nothing in public.
TEST_F(MigratorTest, KeywordSchemasMigrateIntoThemselves) {
  auto g = SupportDesk();
  for (const std::string schema : {"default", "user", "order", "Select"}) {
    MigratorOptions o = Options();
    o.schema = schema;
    o.create_schema = true;
    auto r = Migrator(*g, o).Upgrade("heads");
    ASSERT_TRUE(r.ok()) << schema << ": " << r.status();
    const std::string quoted = "\"" + schema + "\"";
    EXPECT_THAT(Heads(Dsn(), quoted + ".alembic_version"), ElementsAre("9c0d1e2f3041")) << schema;
    EXPECT_TRUE(TableExists(quoted + ".tickets")) << schema;
    EXPECT_TRUE(TableExists(quoted + ".fleet_migration_log")) << schema;
    auto state = Migrator(*g, o).Inspect();
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->schema, schema);
    EXPECT_THAT(state->heads, ElementsAre("9c0d1e2f3041"));
  }
  EXPECT_FALSE(TableExists("public.alembic_version"));
  EXPECT_FALSE(TableExists("public.tickets"));
  EXPECT_FALSE(TableExists("public.fleet_migration_log"));
}

// What reaches the server is the file's bytes: a literal with trailing
// blanks and tabs on its lines arrives whole (length() on the server).
TEST_F(MigratorTest, ALiteralArrivesByteForByte) {
  const std::string body = "line one   \n\tline two\t\t\nline three \t \n";
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE templates (body text);\n"
                                           "INSERT INTO templates VALUES ('" + body + "');"));
  auto g = dir.Graph();
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("head").ok());
  EXPECT_EQ(Query(Dsn(), "SELECT length(body) FROM templates")[0][0],
            std::to_string(body.size()));
  EXPECT_EQ(Query(Dsn(), "SELECT body FROM templates")[0][0], body);
}

TEST_F(MigratorTest, CancelRollsBackTheRunningRevision) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE c2 (x int);\nSELECT pg_sleep(60);"));
  auto g = dir.Graph();
  Migrator m(*g, Options());
  absl::StatusOr<RunResult> r;
  std::thread runner([&] { r = m.Upgrade("head"); });
  ASSERT_TRUE(WaitFor([&] {
    return !Query(admin_, "SELECT 1 FROM pg_stat_activity WHERE datname = '" + name_ +
                              "' AND query LIKE 'SELECT pg_sleep(60)%'")
                .empty();
  }));
  m.Cancel();
  runner.join();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("revision a2"));
  EXPECT_THAT(Heads(), ElementsAre("a1"));
  EXPECT_FALSE(TableExists("c2"));
}

TEST_F(MigratorTest, StampMovesTheTableInOneTransaction) {
  auto g = SupportDesk();
  Migrator m(*g, Options());
  ASSERT_TRUE(m.Stamp({"4d5e", "8b9c"}, false).ok());
  EXPECT_THAT(Heads(), ElementsAre("4d5e6f708192", "8b9c0d1e2f30"));
  EXPECT_FALSE(TableExists("tickets"));  // no script ran
  ASSERT_TRUE(m.Stamp({"1a2b"}, true).ok());
  EXPECT_THAT(Heads(), ElementsAre("1a2b3c4d5e6f"));
  ASSERT_TRUE(m.Stamp({"base"}, false).ok());
  EXPECT_TRUE(Heads().empty());
}

TEST_F(MigratorTest, PasswordsNeverReachAStatusOrTheLog) {
  auto g = SupportDesk();
  const std::string secret = "Sentinel-Passw0rd-9f3c";
  Migrator bad(*g, Options(absl::StrCat(admin_, " port=1 password=", secret)));
  auto r = bad.Upgrade("heads");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr(secret)));
  // Named by its fields, never by the string.
  EXPECT_THAT(r.status().message(), HasSubstr("cannot connect to postgres@127.0.0.1:1/"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("password")));
  Migrator good(*g, Options(absl::StrCat(Dsn(), " password=", secret)));  // trust ignores it
  ASSERT_TRUE(good.Upgrade("heads").ok());
  EXPECT_TRUE(Query(Dsn(), "SELECT 1 FROM fleet_migration_log WHERE error LIKE '%" + secret +
                               "%' OR actor LIKE '%" + secret + "%'")
                  .empty());
}

}  // namespace
}  // namespace fleet::migrations
