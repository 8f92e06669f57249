// The connection pool against a real PostgreSQL: reuse, the budget under
// many threads, eviction, waiting, reset between holders, idle expiry, and
// the Migrator leasing from it (one session for many calls, a connection
// the server closed replaced without the caller noticing).
#include "migrations/connection_pool.h"

#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/migrator.h"
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

class ConnectionPoolTest : public fleet::testing::PostgresTest {
 protected:
  // Opens `dsn` marked with this test's application_name, so the server's
  // view of our sessions can be counted.
  ConnectionPool::Opener OpenerFor(const std::string& dsn) {
    return [dsn]() -> absl::StatusOr<std::unique_ptr<pqxx::connection>> {
      try {
        return std::make_unique<pqxx::connection>(dsn);
      } catch (const std::exception& e) {
        return absl::UnavailableError(e.what());
      }
    };
  }
  std::string Marked(const std::string& db) const {
    return absl::StrCat(DsnFor(db), " application_name=pooltest");
  }
  absl::StatusOr<ConnectionPool::Lease> Get(ConnectionPool& pool, const std::string& db,
                                            absl::Duration wait = absl::Seconds(10)) {
    return pool.Acquire(Marked(db), OpenerFor(Marked(db)), absl::Now() + wait);
  }
  // Sessions the server has now to `dbs`. Its view after a connection was
  // closed may lag a moment: callers wait on it.
  static std::string CountSql(const std::vector<std::string>& dbs) {
    std::string list;
    for (const auto& d : dbs) absl::StrAppend(&list, list.empty() ? "" : ",", "'", d, "'");
    return absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE datname IN (", list, ")");
  }
  int ServerSessions(const std::vector<std::string>& dbs) {
    return std::stoi(Query(admin_, CountSql(dbs))[0][0]);
  }
  static int Pid(const ConnectionPool::Lease& l) { return l.connection().backendpid(); }
  // A migrator's options on this test's database, leasing from `pool`.
  MigratorOptions Pooled(ConnectionPool& pool) const {
    MigratorOptions o;
    o.dsn = Dsn();
    o.pool = &pool;
    return o;
  }
};

TEST_F(ConnectionPoolTest, AReturnedConnectionServesTheNextCallerOfTheSameString) {
  ConnectionPool pool({4, absl::Seconds(60)});
  int first_pid;
  {
    auto a = Get(pool, name_);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_FALSE(a->reused());
    first_pid = Pid(*a);
  }
  auto b = Get(pool, name_);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->reused());
  EXPECT_EQ(Pid(*b), first_pid);
  // Another database never gets it.
  std::string other = NewDatabase();
  auto c = Get(pool, other);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->reused());
  EXPECT_EQ(pool.stats().opened, 2);
  EXPECT_EQ(pool.stats().reused, 1);
}

TEST_F(ConnectionPoolTest, ManyThreadsOverManyDatabasesNeverExceedTheBudget) {
  const int kBudget = 3;
  std::vector<std::string> dbs = {name_};
  for (int i = 0; i < 5; ++i) dbs.push_back(NewDatabase());
  ConnectionPool pool({kBudget, absl::Seconds(60)});
  std::atomic<bool> done{false};
  std::atomic<int> server_peak{0};
  // The server's count, sampled while the threads work.
  std::thread sampler([&] {
    pqxx::connection c(admin_);
    const std::string sql = CountSql(dbs);
    while (!done) {
      pqxx::nontransaction tx(c);
      server_peak = std::max(server_peak.load(), tx.exec(sql)[0][0].as<int>());
    }
  });
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto lease = Get(pool, dbs[(t + i) % dbs.size()], absl::Seconds(30));
        if (!lease.ok()) {
          ++failures;
          continue;
        }
        pqxx::nontransaction tx(lease->connection());
        tx.exec("SELECT pg_sleep(0.002)");
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  sampler.join();
  EXPECT_EQ(failures, 0);
  ConnectionPoolStats s = pool.stats();
  EXPECT_LE(s.peak_open, kBudget);
  // The server's view lags: a session the pool closed to make room
  // (PQfinish does not wait) still shows while its backend exits; once they
  // have exited, no more than the budget is left.
  EXPECT_LE(server_peak, kBudget + s.closed);
  EXPECT_TRUE(fleet::testing::WaitFor([&] {
    pqxx::connection c(admin_);
    pqxx::nontransaction tx(c);
    return tx.exec(CountSql(dbs))[0][0].as<int>() <= kBudget;
  }));
  EXPECT_GT(server_peak, 0);  // the sampler saw our sessions at all
  EXPECT_EQ(s.opened + s.reused, 120);
}

TEST_F(ConnectionPoolTest, AFullBudgetOfIdleConnectionsMakesRoomForAnotherDatabase) {
  ConnectionPool pool({2, absl::Seconds(60)});
  std::string b = NewDatabase(), c = NewDatabase();
  { auto x = Get(pool, name_); auto y = Get(pool, b); }
  EXPECT_EQ(pool.stats().idle, 2);
  auto z = Get(pool, c);  // both places idle: the older one is closed
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(pool.stats().open, 2);
  EXPECT_EQ(pool.stats().closed, 1);
  EXPECT_TRUE(WaitFor([&] { return ServerSessions({name_, b, c}) == 2; }));
}

TEST_F(ConnectionPoolTest, WhenEveryConnectionIsLeasedACallerWaitsThenGivesUpOrIsCancelled) {
  ConnectionPool pool({1, absl::Seconds(60)});
  auto held = Get(pool, name_);
  ASSERT_TRUE(held.ok());
  auto late = Get(pool, name_, absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.status())) << late.status();
  EXPECT_THAT(late.status().message(), HasSubstr("max_connections"));

  std::atomic<bool> cancelled{false};
  absl::StatusOr<ConnectionPool::Lease> waiting;
  std::thread waiter([&] {
    waiting = pool.Acquire(Marked(name_), OpenerFor(Marked(name_)),
                           absl::Now() + absl::Minutes(5), &cancelled);
  });
  cancelled = true;
  waiter.join();
  EXPECT_TRUE(absl::IsCancelled(waiting.status())) << waiting.status();

  // Given back, it goes to the next waiter.
  int pid = Pid(*held);
  std::thread giver([&] { held = absl::CancelledError("given back"); });
  auto next = Get(pool, name_, absl::Seconds(30));
  giver.join();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(Pid(*next), pid);
}

TEST_F(ConnectionPoolTest, TheNextHolderFindsNothingTheLastOneLeft) {
  ConnectionPool pool({2, absl::Seconds(60)});
  Exec(Dsn(), "CREATE SCHEMA elsewhere");
  {
    auto a = Get(pool, name_);
    pqxx::nontransaction tx(a->connection());
    tx.exec("SET search_path TO elsewhere");
    tx.exec("SET statement_timeout = '5min'");
    tx.exec("SELECT pg_advisory_lock(4242)");
    tx.exec("CREATE TEMP TABLE scratch (x int)");
  }
  auto b = Get(pool, name_);
  ASSERT_TRUE(b->reused());
  pqxx::nontransaction tx(b->connection());
  EXPECT_EQ(tx.exec("SELECT current_schema()")[0][0].as<std::string>(), "public");
  EXPECT_EQ(tx.exec("SHOW statement_timeout")[0][0].as<std::string>(), "0");
  EXPECT_TRUE(tx.exec("SELECT to_regclass('pg_temp.scratch') IS NULL")[0][0].as<bool>());
  EXPECT_TRUE(Query(admin_, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")
                  .empty());
}

TEST_F(ConnectionPoolTest, DiscardedAndIdleTooLongAreClosed) {
  ConnectionPool pool({4, absl::Milliseconds(100)});
  {
    auto a = Get(pool, name_);
    a->Discard();
  }
  EXPECT_EQ(pool.stats().open, 0);
  { auto b = Get(pool, name_); }
  EXPECT_EQ(pool.stats().idle, 1);
  EXPECT_TRUE(WaitFor([&] { return pool.stats().open == 0; }));
  EXPECT_EQ(pool.stats().closed, 2);
  EXPECT_TRUE(WaitFor([&] { return ServerSessions({name_}) == 0; }));
}

TEST_F(ConnectionPoolTest, AMigratorLeasesOneSessionForManyCallsAndReadsItsHeadsBack) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  // A script that writes a version row of its own: the heads returned are
  // what the table holds afterwards, not what the plan expected.
  dir.Write("a2.sql",
            ScriptText("a2", "a1", "INSERT INTO alembic_version VALUES ('zz_by_hand');"));
  auto g = dir.Graph();
  ASSERT_NE(g, nullptr);
  ConnectionPool pool({4, absl::Seconds(60)});
  MigratorOptions o = Pooled(pool);
  auto up = Migrator(*g, o).Upgrade("a1");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(up->end_heads, ElementsAre("a1"));
  ASSERT_TRUE(Migrator(*g, o).Inspect().ok());
  auto again = Migrator(*g, o).Upgrade("a1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->steps, 0);
  EXPECT_THAT(again->end_heads, ElementsAre("a1"));
  auto two = Migrator(*g, o).Upgrade("a2");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(two->end_heads, ElementsAre("a2", "zz_by_hand"));
  EXPECT_EQ(pool.stats().opened, 1);
  EXPECT_EQ(pool.stats().reused, 3);
}

// Readers tagged with an affinity get their own session back, warm, and
// never another tag's (the agent reads each chunk of schemas on its own).
TEST_F(ConnectionPoolTest, AnAffinityKeepsACallersOwnSessionForIt) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  auto g = dir.Graph();
  ASSERT_NE(g, nullptr);
  ConnectionPool pool({8, absl::Seconds(60)});
  MigratorOptions o = Pooled(pool);
  ASSERT_TRUE(Migrator(*g, o).Upgrade("a1").ok());  // the untagged session
  MigratorOptions a = o, b = o;
  a.pool_affinity = "schemas 1/2";
  b.pool_affinity = "schemas 2/2";
  ASSERT_TRUE(Migrator(*g, a).Inspect().ok());
  ASSERT_TRUE(Migrator(*g, b).Inspect().ok());
  EXPECT_EQ(pool.stats().opened, 3);  // one per tag, and the untagged one
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Migrator(*g, a).Inspect().ok());
    ASSERT_TRUE(Migrator(*g, b).Inspect().ok());
    ASSERT_TRUE(Migrator(*g, o).Inspect().ok());
  }
  EXPECT_EQ(pool.stats().opened, 3);
  EXPECT_EQ(pool.stats().reused, 9);
  EXPECT_EQ(pool.stats().idle, 3);
}

TEST_F(ConnectionPoolTest, AnIdleConnectionTheServerClosedIsReplacedUnnoticed) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE t (x int);"));
  auto g = dir.Graph();
  ConnectionPool pool({4, absl::Seconds(60)});
  MigratorOptions o = Pooled(pool);
  ASSERT_TRUE(Migrator(*g, o).Inspect().ok());
  // The server ends the idle session (a restart, idle_session_timeout).
  Exec(admin_, absl::StrCat("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = '", name_, "'"));
  auto up = Migrator(*g, o).Upgrade("head");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(up->end_heads, ElementsAre("a1"));
  EXPECT_EQ(pool.stats().opened, 2);
}

// Schema-per-tenant on one pooled session: tenants migrated in turns end
// with their own tables in their own schema and nothing in another's, and a
// tenant whose script fails part-way, having taken a lock, made a temporary
// table and pointed search_path elsewhere, leaves nothing for the next.
TEST_F(ConnectionPoolTest, TenantsTakingTurnsOnOneSessionLeaveNothingToEachOther) {
  TempDir dir;
  dir.Write("a1.sql", ScriptText("a1", "", "CREATE TABLE one (x int);"));
  dir.Write("a2.sql", ScriptText("a2", "a1", "CREATE TABLE two (x int);"));
  auto g = dir.Graph();
  ASSERT_NE(g, nullptr);
  TempDir bad;
  bad.Write("b1.sql", ScriptText("b1", "",
                                 "SELECT pg_advisory_lock(99);\nCREATE TEMP TABLE leak (x int);\n"
                                 "SET search_path TO public;\nSET lock_timeout = '1ms';\n"
                                 "SELECT 1/0;",
                                 "", "-- transactional: false\n"));
  auto gb = bad.Graph();
  ASSERT_NE(gb, nullptr);
  ConnectionPool pool({1, absl::Seconds(60)});
  auto options = [&](const std::string& schema) {
    MigratorOptions o = Pooled(pool);
    o.schema = schema;
    o.create_schema = true;
    return o;
  };
  for (const char* target : {"a1", "a2"}) {
    for (const char* schema : {"s1", "s2"}) {
      auto r = Migrator(*g, options(schema)).Upgrade(target);
      ASSERT_TRUE(r.ok()) << schema << " " << target << ": " << r.status();
    }
  }
  auto failed = Migrator(*gb, options("s3")).Upgrade("head");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("division by zero"));
  // Nothing is held while the session waits idle.
  EXPECT_TRUE(Query(admin_, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 99")
                  .empty());
  auto next = Migrator(*g, options("s4")).Upgrade("head");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(pool.stats().opened, 1);  // one session served them all

  auto tables = [&](const std::string& schema) {
    std::vector<std::string> out;
    for (auto& row : Query(Dsn(), "SELECT tablename FROM pg_tables WHERE schemaname = '" + schema +
                                      "' AND tablename NOT IN ('alembic_version', "
                                      "'fleet_migration_log') ORDER BY 1")) {
      out.push_back(row[0]);
    }
    return out;
  };
  EXPECT_THAT(tables("s1"), ElementsAre("one", "two"));
  EXPECT_THAT(tables("s2"), ElementsAre("one", "two"));
  EXPECT_THAT(tables("s4"), ElementsAre("one", "two"));
  EXPECT_TRUE(tables("public").empty());
  EXPECT_TRUE(tables("s3").empty());
  EXPECT_TRUE(Query(admin_, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 99")
                  .empty());
  auto lease = pool.Acquire(Dsn(), OpenerFor(Dsn()), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(lease.ok()) << lease.status();
  pqxx::nontransaction tx(lease->connection());
  EXPECT_TRUE(tx.exec("SELECT to_regclass('pg_temp.leak') IS NULL")[0][0].as<bool>());
  EXPECT_EQ(tx.exec("SHOW lock_timeout")[0][0].as<std::string>(), "0");
}

}  // namespace
}  // namespace fleet::migrations
