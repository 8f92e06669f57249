// The rollout core's promises, as an operator meets them: real agents, a
// real controller, real PostgreSQL. A pause or an abort answered OK holds;
// a controller killed at any named point resumes to the end an
// uninterrupted run reaches, applying no revision twice; an agent that
// comes back with an empty cache does not fail the rollout or its rollback;
// one controller per inventory.
#include <signal.h>

#include <filesystem>

#include "absl/strings/str_format.h"
#include "controller/rollout_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::fleet::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kHead = "9c0d1e2f3041";
const std::string kNext = "aa00bb11cc22";

// kNext after kHead: `upgrade` and `downgrade` are its SQL bodies.
std::string NextRevision(const std::string& upgrade, const std::string& downgrade) {
  return "-- revision: " + kNext + "\n-- down_revision: " + kHead +
         "\n-- message: the next change\n\n-- migrate:upgrade\n" + upgrade +
         "\n\n-- migrate:downgrade\n" + downgrade + "\n";
}

class RolloutObeysTest : public fleet::testing::FleetHarness {
 protected:
  // `n` tenant databases at kHead, named p-00.., split over `agents` agents.
  void Fleet(int n, int agents, const std::string& versions,
             const std::function<void(int, const std::string&)>& prepare = nullptr) {
    std::vector<std::vector<TenantSpec>> by_agent(agents);
    for (int i = 0; i < n; ++i) {
      std::string dsn = DsnFor(NewDatabase());
      UpgradeExample(dsn, {"heads"});
      if (prepare) prepare(i, dsn);
      dsns_.push_back(dsn);
      by_agent[i % agents].push_back({absl::StrFormat("p-%02d", i), dsn, {}});
    }
    for (int a = 0; a < agents; ++a) {
      tenants_of_.push_back(by_agent[a]);
      agent_procs_.push_back(StartAgent(a, by_agent[a]));
    }
    controller_proc_ = StartController();
    Enrol(agents, versions);
  }

  // How many times kNext was applied (ok) to `dsn` in `direction`.
  int Applied(const std::string& dsn, const std::string& direction) {
    return std::stoi(Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE revision = '" +
                                    kNext + "' AND direction = '" + direction +
                                    "' AND outcome = 'ok'")[0][0]);
  }

  // The tenants of rollout JSON `r` by state.
  std::map<std::string, std::string> States(const nlohmann::json& r) {
    std::map<std::string, std::string> out;
    for (const auto& t : r["tenants"]) out[t["id"]] = t["state"];
    return out;
  }

  std::vector<std::string> dsns_;
  std::vector<std::vector<TenantSpec>> tenants_of_;
  std::vector<std::unique_ptr<fleet::testing::Process>> agent_procs_;
  std::unique_ptr<fleet::testing::Process> controller_proc_;
};

class PauseOrAbortTest : public RolloutObeysTest,
                         public ::testing::WithParamInterface<std::string> {};

// Acceptance 1: 12 tenants, a canary then 100%, a revision of ~3 s. The
// action lands while the canary migrates; for 5 s afterwards nobody else
// moves and the state holds.
TEST_P(PauseOrAbortTest, AnsweredOkMeansItHolds) {
  const std::string action = GetParam();
  Fleet(12, 2,
        ExampleVersionsWith(kNext + "_slow.sql",
                            NextRevision("SELECT pg_sleep(3);\nCREATE TABLE slow_marker (x int);",
                                         "DROP TABLE slow_marker;")));
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "100%", "--parallel", "4"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] {
    auto r = Rollout(id);
    return r.is_object() && r["counts"].value("running", 0) == 1;
  }));
  auto answered = Cli({"rollout", action, id, "-o", "json"});
  ASSERT_EQ(answered.code, 0) << answered.err;
  const std::string held = action == "pause" ? "paused" : "aborted";
  EXPECT_EQ(nlohmann::json::parse(answered.out)["state"], held);
  // The canary finishes (in-flight tenants do)...
  ASSERT_TRUE(WaitFor([&] {
    auto r = Rollout(id);
    return r.is_object() && r["counts"].value("succeeded", 0) == 1;
  }));
  // ...and for 5 s afterwards nothing else moves. (An observation window,
  // not a synchronisation: a broken runner starts the next wave at once.)
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    auto r = Rollout(id);
    ASSERT_TRUE(r.is_object());
    ASSERT_EQ(r["state"], held) << r.dump(2);
    ASSERT_EQ(r["counts"].value("succeeded", 0), 1) << r.dump(2);
    ASSERT_EQ(r["counts"].value("running", 0), 0) << r.dump(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  int moved = 0;
  for (const auto& dsn : dsns_) moved += HeadsOf(dsn) == std::vector<std::string>{kNext};
  EXPECT_EQ(moved, 1);
  if (action == "pause") {
    ASSERT_EQ(Cli({"rollout", "resume", id}).code, 0);
    WaitForRollout(id, "succeeded");
    for (const auto& dsn : dsns_) {
      EXPECT_THAT(HeadsOf(dsn), ElementsAre(kNext));
      EXPECT_EQ(Applied(dsn, "upgrade"), 1);
    }
  } else {
    auto again = Cli({"rollout", "resume", id});
    EXPECT_EQ(again.code, 3);
    EXPECT_THAT(again.err, HasSubstr("is aborted; resume applies to a paused rollout"));
  }
}

INSTANTIATE_TEST_SUITE_P(Actions, PauseOrAbortTest, ::testing::Values("pause", "abort"),
                         [](const auto& info) { return info.param; });

// Acceptance 2: the controller exits at a named point (FLEET_CRASH_AT) and
// is started again on the same inventory.
struct CrashCase {
  std::string scenario;  // "succeeds" or "rolls_back"
  std::string point;     // a kRolloutPoints name, ":N" for its N-th time
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.scenario << " at " << c.point; }

class CrashPointTest : public RolloutObeysTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CrashPointTest, RestartEndsWhereAnUninterruptedRunEnds) {
  const CrashCase c = GetParam();
  const bool fails = c.scenario == "rolls_back";
  // The last tenant's data breaks the unique index: its wave fails.
  Fleet(3, 1,
        ExampleVersionsWith(
            kNext + "_uniq.sql",
            NextRevision("CREATE UNIQUE INDEX tickets_subject_uniq ON tickets (subject);",
                         "DROP INDEX tickets_subject_uniq;")),
        [&](int i, const std::string& dsn) {
          if (fails && i == 2) {
            Exec(dsn, "INSERT INTO users (email, display_name) VALUES ('a@x', 'A');"
                      "INSERT INTO tickets (subject, requester_id) VALUES ('x', 1), ('x', 1)");
          }
        });
  // The controller that will crash replaces the harness's one.
  controller_proc_->Signal(SIGTERM);
  ASSERT_EQ(controller_proc_->WaitExit(), 0) << controller_proc_->Err();
  controller_proc_ = StartController("300ms", {"FLEET_CRASH_AT=" + c.point});
  // The start may or may not be answered before the crash.
  (void)Cli({"rollout", "start", "--to", kNext, "--canary", "1", "--waves", "100%", "--parallel",
             "1", "--bake", "1s"});
  EXPECT_EQ(controller_proc_->WaitExit(std::chrono::seconds(60)), 86)
      << "the controller did not stop at " << c.point << ": " << controller_proc_->Err();
  EXPECT_THAT(controller_proc_->Err(), HasSubstr("event=crash-point point=" +
                                                 c.point.substr(0, c.point.find(':'))));
  controller_proc_ = StartController();
  auto list = Cli({"rollout", "list", "-o", "json"});
  ASSERT_EQ(list.code, 0) << list.err;
  auto rollouts = nlohmann::json::parse(list.out);
  ASSERT_EQ(rollouts.size(), 1u) << list.out;
  const std::string id = rollouts[0]["id"];
  auto end = WaitForRollout(id, fails ? "rolled_back" : "succeeded");
  // The uninterrupted end: every tenant where it should be, in the state
  // an uninterrupted run leaves it, and kNext applied at most once.
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 3; ++i) {
    expected[absl::StrFormat("p-%02d", i)] = fails ? "rolled_back" : "succeeded";
  }
  EXPECT_EQ(States(end), expected) << end.dump(2);
  for (const auto& dsn : dsns_) {
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(fails ? kHead : kNext));
    EXPECT_LE(Applied(dsn, "upgrade"), 1) << dsn;
    EXPECT_EQ(Applied(dsn, "downgrade"), fails ? Applied(dsn, "upgrade") : 0) << dsn;
  }
  if (fails) {
    EXPECT_THAT(end["reason"].get<std::string>(), HasSubstr("wave 1 failed"));
  }
}

std::vector<CrashCase> CrashCases() {
  std::vector<CrashCase> cases;
  for (const char* p : {"rollout-started", "tenant-started", "tenant-migrated", "tenant-recorded",
                        "wave-done", "bake-started", "wave-advanced", "tenant-migrated:2",
                        "finished"}) {
    cases.push_back({"succeeds", p});
  }
  for (const char* p : {"tenant-migrated:3", "tenant-recorded:3", "halted",
                        "rollback-tenant-migrated", "rollback-tenant-recorded:2", "finished"}) {
    cases.push_back({"rolls_back", p});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Points, CrashPointTest, ::testing::ValuesIn(CrashCases()),
                         [](const auto& info) {
                           std::string name = info.param.scenario + "_" + info.param.point;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(CrashPointsTest, TheTestsCoverEveryNamedPoint) {
  std::set<std::string> covered;
  for (const auto& c : CrashCases()) covered.insert(c.point.substr(0, c.point.find(':')));
  for (auto p : controller::kRolloutPoints) EXPECT_TRUE(covered.count(std::string(p))) << p;
}

// Acceptance 3: the agent restarted with an empty cache (a rescheduled pod
// with an emptyDir) during a bake, and during a rollback.
class EmptyCacheTest : public RolloutObeysTest,
                       public ::testing::WithParamInterface<std::string> {
 protected:
  void RestartAgentEmpty() {
    const int port = agent_ports_[0];
    agent_procs_[0]->Signal(SIGKILL);
    agent_procs_[0]->Wait();
    std::filesystem::remove_all(dir_.path() + "/cache0");
    agent_procs_[0] = StartAgent(0, tenants_of_[0], port);
  }
};

TEST_P(EmptyCacheTest, TheRolloutAndItsRollbackStillFinish) {
  const bool rollback = GetParam() == "rollback";
  Fleet(3, 1,
        ExampleVersionsWith(
            kNext + "_uniq.sql",
            NextRevision("CREATE UNIQUE INDEX tickets_subject_uniq ON tickets (subject);",
                         "SELECT pg_sleep(1);\nDROP INDEX tickets_subject_uniq;")),
        [&](int i, const std::string& dsn) {
          if (rollback && i == 2) {
            Exec(dsn, "INSERT INTO users (email, display_name) VALUES ('a@x', 'A');"
                      "INSERT INTO tickets (subject, requester_id) VALUES ('x', 1), ('x', 1)");
          }
        });
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "100%", "--parallel",
                                 "1", "--bake", rollback ? "0" : "4s"});
  ASSERT_TRUE(WaitFor([&] {
    auto r = Rollout(id);
    if (!r.is_object()) return false;
    if (rollback) return r["state"] == "rolling_back";
    return r["wave"] == 0 && r["counts"].value("succeeded", 0) == 1;  // baking the canary
  })) << Rollout(id).dump(2);
  RestartAgentEmpty();
  auto end = WaitForRollout(id, rollback ? "rolled_back" : "succeeded");
  // The restarted agent was sent the bundle again: it did not have it.
  EXPECT_THAT(agent_procs_[0]->Err(), HasSubstr("event=bundle-cached"));
  for (const auto& dsn : dsns_) EXPECT_THAT(HeadsOf(dsn), ElementsAre(rollback ? kHead : kNext));
  for (const auto& t : end["tenants"]) {
    EXPECT_EQ(t["state"], rollback ? "rolled_back" : "succeeded") << end.dump(2);
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, EmptyCacheTest, ::testing::Values("bake", "rollback"),
                         [](const auto& info) { return info.param; });

// Acceptance 4.
TEST_F(RolloutObeysTest, ASecondControllerOnTheSameInventoryExitsNamingTheFirst) {
  auto first = StartController();
  const std::string db = dir_.path() + "/fleet.sqlite";
  fleet::testing::Process second({FLEET_CONTROLLER_PATH, "--insecure", "--db", db, "--listen",
                                  "127.0.0.1:0", "--http", ""});
  EXPECT_EQ(second.WaitExit(), 1);
  EXPECT_THAT(second.Err(), HasSubstr("inventory " + db + " is in use by fleet-controller pid "));
  EXPECT_THAT(second.Err(), HasSubstr(" on host "));
  // The first is unharmed, and once it is gone the inventory is free.
  EXPECT_EQ(Cli({"agents", "list"}).code, 0);
  first->Signal(SIGTERM);
  EXPECT_EQ(first->WaitExit(), 0);
  auto next = StartController();
  EXPECT_EQ(Cli({"agents", "list"}).code, 0);
}

}  // namespace
}  // namespace fleet
