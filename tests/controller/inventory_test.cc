#include "controller/inventory.h"

#include <unistd.h>

#include <atomic>
#include <thread>

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "controller/inventory_lock.h"
#include "controller/leadership.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace fleet::controller {
namespace {

using ::fleet::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

AgentRecord A(const std::string& address) {
  AgentRecord a;
  a.address = address;
  return a;
}

TenantRecord T(const std::string& id, std::map<std::string, std::string> labels = {}) {
  TenantRecord t;
  t.id = id;
  t.labels = std::move(labels);
  t.heads = {"abc"};
  return t;
}

// Each test runs on both kinds of inventory: a SQLite file, and a
// PostgreSQL database of the harness's server.
class InventoryKindTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() != "postgres") return;
    admin_ = fleet::testing::AdminDsn();
    if (admin_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") FAIL() << "FLEET_TEST_PG is not set";
      GTEST_SKIP() << "FLEET_TEST_PG is not set (tests/run.sh sets it)";
    }
    db_ = absl::StrCat("fleet_inv_", getpid(), "_", counter_++);
    fleet::testing::Exec(admin_, absl::StrCat("CREATE DATABASE \"", db_, "\""));
  }
  void TearDown() override {
    if (!db_.empty()) {
      fleet::testing::Exec(admin_, absl::StrCat("DROP DATABASE IF EXISTS \"", db_, "\" WITH (FORCE)"));
    }
  }
  absl::StatusOr<std::unique_ptr<Inventory>> Open() {
    if (GetParam() == "sqlite") return OpenSqliteInventory(dir_.path() + "/f.sqlite");
    return OpenPostgresInventory(absl::StrCat(admin_, " dbname=", db_));
  }

  TempDir dir_;
  std::string admin_, db_;
  static inline std::atomic<int> counter_{0};
};

INSTANTIATE_TEST_SUITE_P(Kinds, InventoryKindTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(InventoryKindTest, AgentsTenantsAndOperatorLabels) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok()) << inv.status();
  Inventory& i = **inv;
  ASSERT_TRUE(i.AddAgent(A("a:1")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(i.AddAgent(A("a:1"))));
  ASSERT_TRUE(i.AddAgent(A("b:1")).ok());
  ASSERT_TRUE(i.ReplaceAgentTenants("a:1", {T("t1", {{"tier", "gold"}}), T("t2")}).ok());
  // A tenant id is one tenant: another agent cannot claim it.
  absl::Status dup = i.ReplaceAgentTenants("b:1", {T("t1")});
  EXPECT_TRUE(absl::IsAlreadyExists(dup));
  EXPECT_THAT(dup.message(), HasSubstr("tenant t1 of agent b:1 is already served by agent a:1"));
  // Operator labels overlay the agent's and survive the next report.
  ASSERT_TRUE(i.SetTenantLabels("t1", {{"region", "eu"}}).ok());
  ASSERT_TRUE(i.ReplaceAgentTenants("a:1", {T("t1", {{"tier", "gold"}})}).ok());
  auto t1 = i.GetTenant("t1");
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(t1->labels, (std::map<std::string, std::string>{{"region", "eu"}}));
  // t2 was not reported again: gone.
  EXPECT_TRUE(absl::IsNotFound(i.GetTenant("t2").status()));
  ASSERT_TRUE(i.SetAgentTenantsReachable("a:1", false).ok());
  EXPECT_FALSE(i.GetTenant("t1")->reachable);
  auto removed = i.RemoveAgent("a:1");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(i.ListTenants()->empty());
  EXPECT_TRUE(absl::IsNotFound(i.RemoveAgent("a:1").status()));
}

TEST_P(InventoryKindTest, BundlesNewestFirstAndByPrefix) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  EXPECT_TRUE(i.ListBundles()->empty());
  BundleRecord one{std::string(64, 'a'), "", {"h1"}, 1, {{"a.sql", "x", "c1"}}};
  BundleRecord two{std::string(64, 'b'), "", {"h2"}, 1, {{"b.sql", "y", "c2"}}};
  ASSERT_TRUE(i.PutBundle(one).ok());
  ASSERT_TRUE(i.PutBundle(two).ok());
  EXPECT_EQ(i.ListBundles()->front().digest, two.digest);
  ASSERT_TRUE(i.PutBundle(one).ok());  // a re-push makes it the newest again
  EXPECT_EQ(i.ListBundles()->front().digest, one.digest);
  EXPECT_TRUE(i.ListBundles()->front().files.empty());  // a listing carries no scripts
  EXPECT_EQ(i.GetBundle(one.digest)->files.size(), 1u);
  auto info = i.GetBundleInfo("aaaaaaaa");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->digest, one.digest);
  EXPECT_TRUE(info->files.empty());
  auto by_prefix = i.GetBundle("bbbbbbbb");
  ASSERT_TRUE(by_prefix.ok());
  EXPECT_EQ(by_prefix->files[0].content, "y");
  EXPECT_TRUE(absl::IsNotFound(i.GetBundle("cccccccc").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(i.GetBundle("abc").status()));
}

// A shared PostgreSQL inventory: one leader at a time, and a deposed
// leader's writes refused.
class LeadershipTest : public InventoryKindTest {
 protected:
  std::string Dsn() const { return absl::StrCat(admin_, " dbname=", db_); }
};

INSTANTIATE_TEST_SUITE_P(Postgres, LeadershipTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(LeadershipTest, AStandbyTakesOverWhenTheLeadersSessionEndsAndTheOldEpochIsFenced) {
  ASSERT_TRUE(OpenPostgresInventory(Dsn()).ok());  // the schema, with its leader row
  auto first = Leadership::Open({Dsn(), "10.0.0.1:7070"});
  ASSERT_TRUE(first.ok()) << first.status();
  std::atomic<bool> stop{false};
  auto epoch = (*first)->WaitToLead(stop, [](const std::string&) {});
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 1);
  auto led = OpenPostgresInventory(Dsn(), *epoch);
  ASSERT_TRUE(led.ok()) << led.status();
  ASSERT_TRUE((*led)->AddAgent(A("a:1")).ok());

  // A second controller stands by, naming the leader, while the first leads.
  auto second = Leadership::Open({Dsn(), "10.0.0.2:7070"});
  ASSERT_TRUE(second.ok()) << second.status();
  std::atomic<bool> standing{false};
  std::string leader_seen;
  absl::StatusOr<int64_t> second_epoch;
  std::thread standby([&] {
    second_epoch = (*second)->WaitToLead(stop, [&](const std::string& leader) {
      leader_seen = leader;
      standing = true;
    });
  });
  ASSERT_TRUE(fleet::testing::WaitFor([&] { return standing.load(); }));
  EXPECT_TRUE((*first)->Leading());
  // The leader's session ends (its process gone): the standby leads.
  first->reset();
  standby.join();
  EXPECT_EQ(leader_seen, "10.0.0.1:7070");
  ASSERT_TRUE(second_epoch.ok()) << second_epoch.status();
  EXPECT_EQ(*second_epoch, 2);
  // The old leader's inventory, still open, can read but not write.
  EXPECT_EQ((*led)->ListAgents()->size(), 1u);
  absl::Status refused = (*led)->AddAgent(A("b:1"));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("this controller no longer leads the inventory (its "
                                           "epoch 1, now 2, led by 10.0.0.2:7070)"));
  EXPECT_TRUE(absl::IsFailedPrecondition((*led)->RemoveAgent("a:1").status()));
  auto now = OpenPostgresInventory(Dsn(), *second_epoch);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE((*now)->AddAgent(A("b:1")).ok());
  EXPECT_EQ((*now)->ListAgents()->size(), 2u);
}

TEST_P(LeadershipTest, AnInventoryWhoseSessionWasEndedConnectsAgainBetweenCalls) {
  auto inv = OpenPostgresInventory(Dsn());
  ASSERT_TRUE(inv.ok()) << inv.status();
  ASSERT_TRUE((*inv)->AddAgent(A("a:1")).ok());
  fleet::testing::Exec(admin_, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "datname = '" + db_ + "' AND application_name = 'fleet-controller'");
  ASSERT_TRUE(fleet::testing::WaitFor([&] {
    return fleet::testing::Query(admin_, "SELECT count(*) FROM pg_stat_activity WHERE datname = '" +
                                             db_ + "' AND application_name = 'fleet-controller'")[0][0] == "0";
  }));
  // The first call after may fail (its connection was gone); the next works.
  (void)(*inv)->ListAgents();
  auto agents = (*inv)->ListAgents();
  ASSERT_TRUE(agents.ok()) << agents.status();
  EXPECT_EQ(agents->size(), 1u);
  EXPECT_TRUE((*inv)->AddAgent(A("b:1")).ok());
}

TEST(InventoryTest, ReopensAndRefusesANewerSchema) {
  TempDir dir;
  std::string path = dir.path() + "/f.sqlite";
  {
    auto inv = OpenSqliteInventory(path);
    ASSERT_TRUE(inv.ok());
    ASSERT_TRUE((*inv)->AddAgent(A("a:1")).ok());
  }
  {
    auto inv = OpenSqliteInventory(path);
    ASSERT_TRUE(inv.ok());
    EXPECT_EQ((*inv)->ListAgents()->size(), 1u);
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto newer = OpenSqliteInventory(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.status().message(), HasSubstr("schema version 99 is newer"));
}

// A rollout r-1 over tenants t1 (wave 0) and t2, t3 (wave 1).
void CreateRollout(Inventory& i, const std::string& id = "r-1",
                   std::vector<std::string> tenants = {"t1", "t2", "t3"}) {
  RolloutRecord r;
  r.id = id;
  r.state = fleet::v1::ROLLOUT_RUNNING;
  r.spec_json = "{}";
  r.bundle_digest = std::string(64, 'a');
  r.waves = 2;
  std::vector<RolloutTenantRecord> members;
  for (size_t n = 0; n < tenants.size(); ++n) {
    RolloutTenantRecord m;
    m.rollout_id = id;
    m.tenant_id = tenants[n];
    m.agent = "a:1";
    m.wave = n == 0 ? 0 : 1;
    members.push_back(m);
  }
  ASSERT_TRUE(i.CreateRollout(r, members, AuditEntry{"", "op", "rollout started", id, "", ""}).ok());
}

TEST_P(InventoryKindTest, ScriptBytesComeBackExactly) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok()) << inv.status();
  const std::string bytes("-- \xc3\xa9t\xc3\xa9\n\0SELECT '\\x00';\r\n\xff", 27);
  BundleRecord b{std::string(64, 'b'), "", {"h"}, 1, {{"a.sql", bytes, "c"}}};
  ASSERT_TRUE((*inv)->PutBundle(b).ok());
  ASSERT_TRUE((*inv)->PutBundle(b).ok());  // again: idempotent
  auto back = (*inv)->GetBundle(std::string(12, 'b'));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->files.size(), 1u);
  EXPECT_EQ(back->files[0].content, bytes);
  auto audit = (*inv)->Audit(AuditEntry{"", "op", "pushed", "", "t9", "it's \"quoted\""});
  ASSERT_TRUE(audit.ok()) << audit;
  auto entries = (*inv)->TenantAudit("t9");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].detail, "it's \"quoted\"");
}

TEST_P(InventoryKindTest, RolloutTransitionsAreCompareAndSet) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  CreateRollout(i);
  // An operator pauses; the runner, which read "running at wave 0", may
  // not write over it: refused as ABORTED, and nothing changes.
  RolloutTransition pause;
  pause.id = "r-1";
  pause.from = fleet::v1::ROLLOUT_RUNNING;
  pause.to = fleet::v1::ROLLOUT_PAUSED;
  pause.reason = "paused by op";
  ASSERT_TRUE(i.TransitionRollout(pause).ok());
  RolloutTransition advance;
  advance.id = "r-1";
  advance.from = fleet::v1::ROLLOUT_RUNNING;
  advance.from_wave = 0;
  advance.to = fleet::v1::ROLLOUT_RUNNING;
  advance.wave = 1;
  absl::Status stale = i.TransitionRollout(advance);
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  EXPECT_THAT(stale.message(), HasSubstr("it is paused at wave 0, not running at wave 0"));
  auto r = i.GetRollout("r-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, fleet::v1::ROLLOUT_PAUSED);
  EXPECT_EQ(r->wave, 0);
  EXPECT_EQ(r->reason, "paused by op");
  // The wave is compared too: a writer that read an older wave is refused.
  RolloutTransition resume = pause;
  std::swap(resume.from, resume.to);
  resume.reason.reset();
  ASSERT_TRUE(i.TransitionRollout(resume).ok());
  ASSERT_TRUE(i.TransitionRollout(advance).ok());
  EXPECT_TRUE(absl::IsAborted(i.TransitionRollout(advance)));
  EXPECT_EQ(i.GetRollout("r-1")->wave, 1);
  EXPECT_EQ(i.GetRollout("r-1")->reason, "paused by op");  // absent: unchanged
  EXPECT_TRUE(absl::IsNotFound(i.TransitionRollout([] {
                                  RolloutTransition t;
                                  t.id = "r-nope";
                                  return t;
                                }())));
}

TEST_P(InventoryKindTest, ATenantStartsOnlyWhileItsRolloutRuns) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  CreateRollout(i);
  auto start = [&](const std::string& tenant) {
    TenantStepWrite w;
    w.step.rollout_id = "r-1";
    w.step.tenant_id = tenant;
    w.step.state = fleet::v1::TENANT_RUNNING;
    w.from = fleet::v1::TENANT_PENDING;
    w.while_rollout = fleet::v1::ROLLOUT_RUNNING;
    return i.WriteTenantStep(w);
  };
  ASSERT_TRUE(start("t1").ok());
  EXPECT_TRUE(absl::IsAborted(start("t1")));  // it moved: no longer pending
  RolloutTransition abort;
  abort.id = "r-1";
  abort.from = fleet::v1::ROLLOUT_RUNNING;
  abort.to = fleet::v1::ROLLOUT_ABORTED;
  ASSERT_TRUE(i.TransitionRollout(abort).ok());
  absl::Status refused = start("t2");
  EXPECT_TRUE(absl::IsAborted(refused));
  EXPECT_THAT(refused.message(), HasSubstr("it is pending in a aborted rollout"));
  // The in-flight tenant still records its outcome, with its heads and
  // the audit entry in the same write.
  ASSERT_TRUE(i.AddAgent(A("a:1")).ok());
  ASSERT_TRUE(i.ReplaceAgentTenants("a:1", {T("t1")}).ok());
  TenantStepWrite done;
  done.step.rollout_id = "r-1";
  done.step.tenant_id = "t1";
  done.step.state = fleet::v1::TENANT_SUCCEEDED;
  done.step.heads = {"def"};
  done.from = fleet::v1::TENANT_RUNNING;
  done.record_heads = true;
  done.audit = AuditEntry{"", "op", "upgrade succeeded", "r-1", "t1", "abc -> def"};
  ASSERT_TRUE(i.WriteTenantStep(done).ok());
  EXPECT_THAT(i.GetTenant("t1")->heads, ElementsAre("def"));
  auto audit = i.TenantAudit("t1");
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().action, "upgrade succeeded");
  auto steps = i.ListRolloutTenants("r-1");
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ((*steps)[0].state, fleet::v1::TENANT_SUCCEEDED);
  EXPECT_EQ((*steps)[1].state, fleet::v1::TENANT_PENDING);
}

TEST_P(InventoryKindTest, HaltAndTheTenantsToRollBackAreOneWrite) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  CreateRollout(i);
  for (auto [tenant, state] : {std::pair{"t1", fleet::v1::TENANT_SUCCEEDED},
                               std::pair{"t2", fleet::v1::TENANT_FAILED}}) {
    TenantStepWrite w;
    w.step.rollout_id = "r-1";
    w.step.tenant_id = tenant;
    w.step.state = fleet::v1::TENANT_RUNNING;
    w.from = fleet::v1::TENANT_PENDING;
    ASSERT_TRUE(i.WriteTenantStep(w).ok());
    w.step.state = state;
    w.from = fleet::v1::TENANT_RUNNING;
    ASSERT_TRUE(i.WriteTenantStep(w).ok());
  }
  RolloutTransition halt;
  halt.id = "r-1";
  halt.from = fleet::v1::ROLLOUT_RUNNING;
  halt.from_wave = 0;  // what the runner read
  halt.to = fleet::v1::ROLLOUT_ROLLING_BACK;
  halt.reason = "wave 1 failed";
  halt.tenants.push_back({{fleet::v1::TENANT_SUCCEEDED, fleet::v1::TENANT_FAILED,
                           fleet::v1::TENANT_RUNNING},
                          1,
                          fleet::v1::TENANT_ROLLING_BACK});
  ASSERT_TRUE(i.TransitionRollout(halt).ok());
  auto steps = i.ListRolloutTenants("r-1");
  ASSERT_TRUE(steps.ok());
  // ...and only wave 1's moved tenants are marked; pending ones never moved.
  EXPECT_EQ((*steps)[0].state, fleet::v1::TENANT_SUCCEEDED);
  EXPECT_EQ((*steps)[1].state, fleet::v1::TENANT_ROLLING_BACK);
  EXPECT_EQ((*steps)[2].state, fleet::v1::TENANT_PENDING);
  // Repeated from the old state, the whole write is refused: no tenant moves.
  halt.tenants[0].wave.reset();
  EXPECT_TRUE(absl::IsAborted(i.TransitionRollout(halt)));
  EXPECT_EQ((*i.ListRolloutTenants("r-1"))[0].state, fleet::v1::TENANT_SUCCEEDED);
}

TEST_P(InventoryKindTest, ARollbackRefusesTenantsHeldByAnotherActiveRollout) {
  auto inv = Open();
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  CreateRollout(i, "r-1", {"t1", "t2"});
  for (const char* tenant : {"t1", "t2"}) {
    TenantStepWrite w;
    w.step.rollout_id = "r-1";
    w.step.tenant_id = tenant;
    w.step.state = fleet::v1::TENANT_SUCCEEDED;
    w.from = fleet::v1::TENANT_PENDING;
    ASSERT_TRUE(i.WriteTenantStep(w).ok());
  }
  RolloutTransition done;
  done.id = "r-1";
  done.from = fleet::v1::ROLLOUT_RUNNING;
  done.to = fleet::v1::ROLLOUT_SUCCEEDED;
  ASSERT_TRUE(i.TransitionRollout(done).ok());
  // A second rollout now holds t2: a new rollout over it is refused...
  CreateRollout(i, "r-2", {"t2"});
  RolloutRecord third;
  third.id = "r-3";
  third.state = fleet::v1::ROLLOUT_PENDING;
  RolloutTenantRecord member;
  member.rollout_id = "r-3";
  member.tenant_id = "t2";
  absl::Status busy = i.CreateRollout(third, {member}, std::nullopt);
  EXPECT_TRUE(absl::IsAlreadyExists(busy));
  EXPECT_THAT(busy.message(), HasSubstr("tenant t2 is in active rollout r-2"));
  // ...and so is rolling r-1 back: it would move t2 against r-2.
  RolloutTransition rollback;
  rollback.id = "r-1";
  rollback.from = fleet::v1::ROLLOUT_SUCCEEDED;
  rollback.to = fleet::v1::ROLLOUT_ROLLING_BACK;
  rollback.tenants.push_back(
      {{fleet::v1::TENANT_SUCCEEDED}, std::nullopt, fleet::v1::TENANT_ROLLING_BACK});
  rollback.refuse_busy_tenants = true;
  absl::Status refused = i.TransitionRollout(rollback);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("tenants t2 (in rollout r-2)"));
  EXPECT_EQ(i.GetRollout("r-1")->state, fleet::v1::ROLLOUT_SUCCEEDED);
  EXPECT_EQ((*i.ListRolloutTenants("r-1"))[0].state, fleet::v1::TENANT_SUCCEEDED);
  EXPECT_EQ(i.ListActiveRollouts()->size(), 1u);
}

TEST(InventoryLockTest, OneControllerPerInventoryNamingTheHolder) {
  TempDir dir;
  std::string path = dir.path() + "/f.sqlite";
  auto first = InventoryLock::Acquire(path, "fleet-controller");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->path(), path + ".lock");
  // flock locks belong to open file descriptions: a second open in this
  // process is refused like another process would be.
  auto second = InventoryLock::Acquire(path, "fleet-controller");
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status()));
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("is in use by fleet-controller pid ", getpid(), " on host ")));
  first->reset();
  EXPECT_TRUE(InventoryLock::Acquire(path, "fleet-controller").ok());
}

}  // namespace
}  // namespace fleet::controller
