// Batched revisions (Script::batch) against a real PostgreSQL: batches that
// commit one by one beside a live writer, progress, and every way a run can
// stop — cancelled, a failing batch, a batch over its time, a failing post
// section — followed by the run that resumes it.
#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/migrator.h"
#include "migrations/offline_sql.h"
#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::fleet::testing::ScriptText;
using ::fleet::testing::TempDir;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;

// A batched revision's file.
struct Batched {
  std::string revision = "b1", down = "a1";
  std::string headers;  // "-- batch_pause: 10ms\n"
  std::string upgrade, batch, post, verify, downgrade;
  std::string Text() const {
    std::string s = absl::StrCat("-- revision: ", revision, "\n-- down_revision: ", down, "\n",
                                 headers, "-- message: ", revision, "\n\n-- migrate:upgrade\n",
                                 upgrade, "\n\n-- migrate:batch\n", batch, "\n");
    if (!post.empty()) absl::StrAppend(&s, "\n-- migrate:post\n", post, "\n");
    if (!verify.empty()) absl::StrAppend(&s, "\n-- migrate:verify\n", verify, "\n");
    if (!downgrade.empty()) absl::StrAppend(&s, "\n-- migrate:downgrade\n", downgrade, "\n");
    return s;
  }
};

class BatchedTest : public fleet::testing::PostgresTest {
 protected:
  MigratorOptions Options() const {
    MigratorOptions o;
    o.dsn = Dsn();
    o.actor = "tester@host";
    o.retry_backoff = absl::Milliseconds(10);
    return o;
  }
  // "outcome phase rows_done batches" of b1's log rows, oldest first.
  std::vector<std::string> LogOf(const std::string& revision = "b1") {
    std::vector<std::string> out;
    for (auto& r : Query(Dsn(), "SELECT outcome, phase, rows_done, batches FROM "
                                "fleet_migration_log WHERE revision = '" + revision +
                                    "' AND direction = 'upgrade' ORDER BY id")) {
      out.push_back(absl::StrCat(r[0], " ", r[1], " ", r[2], " ", r[3]));
    }
    return out;
  }
  std::string Version() { return Query(Dsn(), "SELECT version_num FROM alembic_version")[0][0]; }

  // An upgrade to head cancelled once its `batches`th batch committed.
  absl::StatusOr<RunResult> CancelledAfterBatch(const RevisionGraph& g, int batches) {
    Migrator m(g, Options());
    return m.Upgrade("head", [&](const StepEvent& e) {
      if (e.kind == StepEvent::Kind::kProgress && e.batches == batches) m.Cancel();
    });
  }

  // `rows` rows t(id, x, y) with y to be filled by b1's batches of `limit`.
  void Write(TempDir& dir, int rows, int limit, const std::string& headers = "",
             const std::string& post = "") {
    dir.Write("a1.sql", ScriptText("a1", "",
                                   absl::StrCat("CREATE TABLE t (id int PRIMARY KEY, x int NOT "
                                                "NULL);\nINSERT INTO t SELECT g, g % 7 + 1 FROM "
                                                "generate_series(1, ",
                                                rows, ") g;")));
    Batched b;
    b.headers = headers;
    b.upgrade = "ALTER TABLE t ADD COLUMN y int;";
    b.batch = absl::StrCat(
        "UPDATE t SET y = 700 / x WHERE id IN (SELECT id FROM t WHERE y IS NULL ORDER BY id "
        "LIMIT ",
        limit, ");");
    b.post = post;
    b.verify = "SELECT NOT EXISTS (SELECT 1 FROM t WHERE y IS DISTINCT FROM 700 / x);";
    b.downgrade = "ALTER TABLE t DROP COLUMN y;";
    dir.Write("b1.sql", b.Text());
  }
};

TEST_F(BatchedTest, BackfillsAMillionRowsInBatchesWhileAWriterKeepsWriting) {
  TempDir dir;
  dir.Write("a1.sql",
            ScriptText("a1", "",
                       "CREATE TABLE tickets (id bigserial PRIMARY KEY, priority text NOT NULL, "
                       "subject text NOT NULL DEFAULT '');\n"
                       "INSERT INTO tickets (priority) SELECT CASE WHEN g % 3 = 0 THEN 'high' "
                       "ELSE 'low' END FROM generate_series(1, 1000000) g;"));
  Batched b;
  // The expand step: the column, and a partial index that finds the rows
  // left to do without scanning the done ones.
  b.upgrade =
      "ALTER TABLE tickets ADD COLUMN urgent boolean;\n"
      "CREATE INDEX tickets_urgent_todo ON tickets (id) WHERE urgent IS NULL;";
  b.batch =
      "UPDATE tickets SET urgent = (priority = 'high') WHERE id IN (SELECT id FROM tickets WHERE "
      "urgent IS NULL LIMIT 10000);";
  b.post = "DROP INDEX tickets_urgent_todo;\nALTER TABLE tickets ALTER COLUMN urgent SET NOT NULL;";
  b.verify = "SELECT NOT EXISTS (SELECT 1 FROM tickets WHERE urgent IS DISTINCT FROM "
             "(priority = 'high'));";
  dir.Write("b1.sql", b.Text());
  auto g = dir.Graph();
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("a1").ok());

  std::atomic<bool> migrated{false};
  absl::StatusOr<RunResult> result;
  int64_t progress_events = 0;
  std::thread migration([&] {
    Migrator m(*g, Options());
    result = m.Upgrade("head", [&](const StepEvent& e) {
      progress_events += e.kind == StepEvent::Kind::kProgress;
    });
    migrated = true;
  });
  // The application, deployed once the column exists: it writes the new
  // column itself and edits rows the batches are working through.
  ASSERT_TRUE(WaitFor([&] { return !LogOf().empty() || migrated; }));
  int writes = 0;
  std::string writer_error;
  absl::Duration longest;
  {
    pqxx::connection c(Dsn());
    pqxx::nontransaction tx(c);
    tx.exec("SET lock_timeout = '2s'");
    for (int i = 0; i < 100000 && !migrated; ++i) {
      const absl::Time start = absl::Now();
      try {
        tx.exec_params("INSERT INTO tickets (priority, urgent) VALUES ($1, $1 = 'high')",
                       i % 2 == 0 ? "high" : "low");
        tx.exec_params("UPDATE tickets SET subject = 'edited' WHERE id = $1", 1 + (i * 7919) % 1000000);
      } catch (const std::exception& e) {
        writer_error = e.what();
        break;
      }
      longest = std::max(longest, absl::Now() - start);
      ++writes;
    }
  }
  migration.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(writer_error, "");  // no writer waited out the 2 s lock timeout
  EXPECT_LT(longest, absl::Seconds(2));
  EXPECT_GT(writes, 0);
  EXPECT_EQ(Version(), "b1");
  // What the unbatched statement would have left: every row right, none null.
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM tickets WHERE urgent IS DISTINCT FROM "
                         "(priority = 'high')")[0][0],
            "0");
  auto log = LogOf();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0], HasSubstr("ok  1000000 "));  // the writer's rows came with their value
  // One progress event per batch: 100 that changed rows and the empty last.
  EXPECT_EQ(progress_events, 101);
}

TEST_F(BatchedTest, ReportsProgressAfterEachBatchAndLogsTheTotals) {
  TempDir dir;
  Write(dir, 25000, 5000);
  auto g = dir.Graph();
  std::vector<StepEvent> events;
  auto r = Migrator(*g, Options()).Upgrade("head", [&](const StepEvent& e) {
    if (e.revision == "b1") events.push_back(e);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(events.size(), 8u);  // started, 6 batches (the last changes nothing), succeeded
  EXPECT_EQ(events[0].kind, StepEvent::Kind::kStarted);
  for (int i = 1; i <= 6; ++i) {
    EXPECT_EQ(events[i].kind, StepEvent::Kind::kProgress);
    EXPECT_EQ(events[i].batches, i);
    EXPECT_EQ(events[i].rows, std::min(i, 5) * 5000);
    EXPECT_EQ(events[i].resumed_rows, -1);
  }
  EXPECT_GT(events[1].rows_per_second, 0);
  EXPECT_EQ(events[7].kind, StepEvent::Kind::kSucceeded);
  EXPECT_EQ(events[7].rows, 25000);
  EXPECT_EQ(events[7].batches, 6);
  EXPECT_EQ(LogOf(), std::vector<std::string>{"ok  25000 6"});
  EXPECT_EQ(Version(), "b1");
}

TEST_F(BatchedTest, ACancelStopsBetweenBatchesAndTheNextRunResumes) {
  TempDir dir;
  Write(dir, 5000, 500, "-- batch_pause: 20ms\n");
  auto g = dir.Graph();
  auto stopped = CancelledAfterBatch(*g, 3);
  ASSERT_TRUE(absl::IsCancelled(stopped.status())) << stopped.status();
  EXPECT_THAT(stopped.status().message(),
              HasSubstr("revision b1 was cancelled between batches: 1500 rows in 3 batches are "
                        "done and kept; the revision stays in progress (not applied) and the next "
                        "upgrade resumes it"));
  EXPECT_EQ(Version(), "a1");
  EXPECT_EQ(LogOf(), std::vector<std::string>{"in_progress batches 1500 3"});
  EXPECT_EQ(Query(Dsn(), "SELECT count(y) FROM t")[0][0], "1500");
  // Not dirty: status reads it as a1 with b1 in progress, and the same
  // command goes on.
  auto state = Migrator(*g, Options()).Inspect();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_FALSE(state->dirty);
  EXPECT_EQ(state->last_outcome, "in_progress");
  EXPECT_EQ(state->in_progress_revision, "b1");
  EXPECT_EQ(state->in_progress_rows, 1500);
  EXPECT_EQ(state->in_progress_batches, 3);
  std::vector<StepEvent> events;
  auto resumed = Migrator(*g, Options()).Upgrade("head", [&](const StepEvent& e) {
    events.push_back(e);
  });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[1].kind, StepEvent::Kind::kProgress);
  EXPECT_EQ(events[1].resumed_rows, 1500);
  EXPECT_EQ(events[1].rows, 1500);
  EXPECT_EQ(events.back().rows, 5000);
  EXPECT_EQ(LogOf(), std::vector<std::string>{"ok  5000 11"});  // one row: applied once
  EXPECT_EQ(Version(), "b1");
  EXPECT_EQ(Migrator(*g, Options()).Inspect()->in_progress_revision, "");
}

TEST_F(BatchedTest, AFailingBatchKeepsTheRowsDoneAndNamesItsFileAndLine) {
  TempDir dir;
  Write(dir, 1000, 100);
  auto g = dir.Graph();
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("a1").ok());
  Exec(Dsn(), "UPDATE t SET x = 0 WHERE id = 250");
  auto failed = Migrator(*g, Options()).Upgrade("head");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(),
              HasSubstr("batch 3 of revision b1 (" + dir.path() + "/b1.sql:9) failed: ERROR: "
                        "division by zero"));
  EXPECT_THAT(failed.status().message(), HasSubstr("200 rows in 2 batches are done and kept"));
  EXPECT_EQ(LogOf(), std::vector<std::string>{"in_progress batches 200 2"});
  EXPECT_THAT(Query(Dsn(), "SELECT error FROM fleet_migration_log WHERE revision = 'b1'")[0][0],
              HasSubstr("division by zero"));
  // Repaired, the same command resumes at row 201.
  Exec(Dsn(), "UPDATE t SET x = 1 WHERE id = 250");
  auto resumed = Migrator(*g, Options()).Upgrade("head");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(LogOf(), std::vector<std::string>{"ok  1000 11"});
}

TEST_F(BatchedTest, ABatchOverItsTimeIsCancelledAndTheStepFailsSayingWhy) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (id int PRIMARY KEY, y int);\n"
                                           "INSERT INTO t SELECT generate_series(1, 10);"));
  Batched b;
  b.headers = "-- batch_max_seconds: 0.2\n";
  b.upgrade = "SELECT 1;";
  b.batch = "UPDATE t SET y = 1 WHERE y IS NULL AND (SELECT pg_sleep(2)) IS NOT NULL;";
  dir.Write("b1.sql", b.Text());
  auto g = dir.Graph();
  auto r = Migrator(*g, Options()).Upgrade("head");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("statement timeout"));
  EXPECT_THAT(r.status().message(),
              HasSubstr("(one batch may run 200ms: batch_max_seconds; make each batch change "
                        "fewer rows)"));
  EXPECT_EQ(LogOf(), std::vector<std::string>{"in_progress batches 0 0"});
}

TEST_F(BatchedTest, AFailingPostSectionLeavesItInProgressAndTheNextRunFinishes) {
  TempDir dir;
  Write(dir, 300, 100, "", "ALTER TABLE t ADD CONSTRAINT y_small CHECK (y < 700);");
  auto g = dir.Graph();
  auto failed = Migrator(*g, Options()).Upgrade("head");
  ASSERT_FALSE(failed.ok());  // x = 1 gives y = 700
  EXPECT_THAT(failed.status().message(), HasSubstr("y_small"));
  EXPECT_THAT(failed.status().message(),
              HasSubstr("every batch is done: 300 rows in 4 batches are done and kept"));
  EXPECT_EQ(LogOf(), std::vector<std::string>{"in_progress post 300 4"});
  EXPECT_EQ(Version(), "a1");
  // Repaired by hand, as the verify query wants it (y = 700 / x).
  Exec(Dsn(), "UPDATE t SET x = 2, y = 350 WHERE x = 1");
  auto finished = Migrator(*g, Options()).Upgrade("head");
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(LogOf(), std::vector<std::string>{"ok  300 5"});  // one more, empty, batch
  EXPECT_EQ(Version(), "b1");
}

TEST_F(BatchedTest, AStampAbandonsARunInProgress) {
  TempDir dir;
  Write(dir, 1000, 100, "-- batch_pause: 10ms\n");
  auto g = dir.Graph();
  auto stopped = CancelledAfterBatch(*g, 2);
  ASSERT_TRUE(absl::IsCancelled(stopped.status()));
  // The operator undoes the expand step by hand and says where it is.
  Exec(Dsn(), "ALTER TABLE t DROP COLUMN y");
  ASSERT_TRUE(Migrator(*g, Options()).Stamp({"a1"}, false).ok());
  auto fresh = Migrator(*g, Options()).Upgrade("head");
  ASSERT_TRUE(fresh.ok()) << fresh.status();  // ran the upgrade section again
  EXPECT_EQ(LogOf(), (std::vector<std::string>{"in_progress batches 200 2", "ok  1000 11"}));
}

TEST_F(BatchedTest, ALogTableFromBeforeBatchesGainsItsColumns) {
  // The log as fleet made it before batched revisions.
  Exec(Dsn(),
       "CREATE TABLE fleet_migration_log (id bigserial PRIMARY KEY, revision varchar(32) NOT "
       "NULL, direction text NOT NULL CHECK (direction IN ('upgrade', 'downgrade', 'stamp')), "
       "checksum text NOT NULL DEFAULT '', started_at timestamptz NOT NULL, finished_at "
       "timestamptz, duration_ms bigint, outcome text NOT NULL CHECK (outcome IN ('ok', "
       "'failed', 'dirty')), error text NOT NULL DEFAULT '', actor text NOT NULL DEFAULT '', "
       "rollout_id text NOT NULL DEFAULT '', version_table text NOT NULL DEFAULT "
       "'alembic_version')");
  TempDir dir;
  Write(dir, 300, 100);
  auto g = dir.Graph();
  auto r = Migrator(*g, Options()).Upgrade("head");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(LogOf(), std::vector<std::string>{"ok  300 4"});
  EXPECT_EQ(LogOf("a1"), std::vector<std::string>{"ok  0 0"});
}

TEST_F(BatchedTest, OfflineSqlLoopsTheBatchesAndEndsAsTheOnlineRunDoes) {
  TempDir dir;
  Write(dir, 2000, 300, "", "ALTER TABLE t ALTER COLUMN y SET NOT NULL;");
  auto g = dir.Graph();
  auto plan = g->PlanUpgrade({}, "head");
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string sql = RenderOfflineSql(*plan, VersionTable{"", "alembic_version"});
  EXPECT_THAT(sql, HasSubstr("DO $fleet_batch$\nBEGIN\n  LOOP\n    UPDATE t SET y = 700 / x"));
  EXPECT_THAT(sql, HasSubstr("EXIT WHEN NOT FOUND;"));
  const std::string offline = NewDatabase();
  Exec(DsnFor(offline), sql);
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("head").ok());
  const std::string sum = "SELECT count(*), sum(y), count(y) FROM t";
  EXPECT_EQ(Query(DsnFor(offline), sum), Query(Dsn(), sum));
  EXPECT_EQ(Query(DsnFor(offline), "SELECT version_num FROM alembic_version")[0][0], "b1");
}

TEST_F(BatchedTest, ARehearsalRunsTheUpgradeSectionAndOneBatchThenStops) {
  TempDir dir;
  Write(dir, 1000, 100);
  dir.Write("c1.sql", ScriptText("c1", "b1", "CREATE TABLE after_it (x int);"));
  auto g = dir.Graph();
  ASSERT_TRUE(Migrator(*g, Options()).Upgrade("a1").ok());
  auto r = Migrator(*g, Options()).Rehearse("head");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->failed) << r->error;
  EXPECT_EQ(r->rehearsed, std::vector<std::string>{"b1"});
  EXPECT_EQ(r->not_rehearsed, std::vector<std::string>{"c1"});
  bool locked_t = false;
  for (const auto& l : r->locks) locked_t |= l.relation == "t";
  EXPECT_TRUE(locked_t);
  EXPECT_EQ(Query(Dsn(), "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND "
                         "attname = 'y'")[0][0],
            "0");  // rolled back
  // A batch that fails is the rehearsal's finding, with its line.
  Exec(Dsn(), "UPDATE t SET x = 0 WHERE id = 50");
  auto failing = Migrator(*g, Options()).Rehearse("head");
  ASSERT_TRUE(failing.ok()) << failing.status();
  EXPECT_TRUE(failing->failed);
  EXPECT_EQ(failing->revision, "b1");
  EXPECT_EQ(failing->line, 9);
  EXPECT_THAT(failing->statement, HasSubstr("UPDATE t SET y = 700 / x"));
}

}  // namespace
}  // namespace fleet::migrations
