// Rollouts end to end: real agents, a real controller, real databases.
#include <filesystem>

#include "absl/strings/str_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kHead = "9c0d1e2f3041";
const std::string kNext = "aa00bb11cc22";

std::string ExampleVersions() {
  return std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions";
}

class RolloutTest : public fleet::testing::FleetHarness {
 protected:
  std::string VersionsWith(const std::string& name, const std::string& text) {
    return ExampleVersionsWith(name, text);
  }

  void UpgradeTo(const std::string& dsn, const std::string& target) {
    UpgradeExample(dsn, {target});
  }

  std::string RowsChecksum(const std::string& dsn) {
    // The columns every revision has: a tenant left on the target has one more.
    return Query(dsn, "SELECT md5(coalesce(string_agg(concat_ws(',', id, subject, body, "
                      "requester_id, status, priority, created_at, assignee_id, resolved_at), "
                      "'|' ORDER BY id), '')) FROM tickets")[0][0];
  }
};

TEST_F(RolloutTest, FortyTenantsOnFourAgentsReachHeadOnceEach) {
  std::vector<std::vector<TenantSpec>> by_agent(4);
  std::vector<std::string> dsns;
  for (int i = 0; i < 40; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    dsns.push_back(dsn);
    by_agent[i % 4].push_back({absl::StrFormat("t-%02d", i), dsn, {}});
  }
  std::vector<std::unique_ptr<fleet::testing::Process>> agents;
  for (int n = 0; n < 4; ++n) agents.push_back(StartAgent(n, by_agent[n]));
  auto controller = StartController();
  Enrol(4, ExampleVersions());
  std::string id = StartRollout({"--canary", "1", "--waves", "25%,100%"});
  auto r = WaitForRollout(id, "succeeded");
  EXPECT_EQ(r["waves"], 3);
  EXPECT_EQ(r["counts"]["succeeded"], 40);
  for (const auto& dsn : dsns) {
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(kHead));
    // Every revision applied exactly once.
    auto log = Query(dsn, "SELECT revision, count(*) FROM fleet_migration_log WHERE outcome = 'ok' "
                          "AND direction = 'upgrade' GROUP BY revision HAVING count(*) <> 1");
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE outcome = 'ok'")[0][0], "9");
    EXPECT_EQ(Query(dsn, "SELECT DISTINCT rollout_id FROM fleet_migration_log")[0][0], id);
  }
  // A second rollout of the same target finds nothing to do.
  std::string again = StartRollout({});
  auto second = WaitForRollout(again, "succeeded");
  EXPECT_THAT(second["reason"].get<std::string>(), HasSubstr("already at the target"));
}

class FailingWaveTest : public RolloutTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(FailingWaveTest, HaltsInTheWaveAndRollsBackByPolicy) {
  const std::string policy = GetParam();
  std::string versions = VersionsWith(
      kNext + "_unique_subjects.sql",
      "-- revision: " + kNext + "\n-- down_revision: " + kHead +
          "\n-- message: unique ticket subjects\n\n-- migrate:upgrade\n"
          "ALTER TABLE tickets ADD COLUMN subject_key text;\n"
          "CREATE UNIQUE INDEX tickets_subject_uniq ON tickets (subject);\n\n"
          "-- migrate:downgrade\nDROP INDEX tickets_subject_uniq;\n"
          "ALTER TABLE tickets DROP COLUMN subject_key;\n");
  std::vector<TenantSpec> tenants;
  std::map<std::string, std::string> dsn_of, rows_before;
  for (int i = 0; i < 10; ++i) {
    std::string id = absl::StrFormat("t-%02d", i);
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, "heads");
    Exec(dsn, "INSERT INTO users (email, display_name) VALUES ('a@x', 'A')");
    Exec(dsn, "INSERT INTO tickets (subject, requester_id) VALUES ('printer', 1), ('login', 1)");
    if (i >= 1 && i <= 3) {  // duplicated subjects in these three only: wave 1
      Exec(dsn, "INSERT INTO tickets (subject, requester_id) VALUES ('printer', 1)");
    }
    rows_before[id] = RowsChecksum(dsn);
    dsn_of[id] = dsn;
    std::map<std::string, std::string> labels;
    if (i == 0) labels["canary"] = "true";
    tenants.push_back({id, dsn, labels});
  }
  auto agent0 = StartAgent(0, std::vector<TenantSpec>(tenants.begin(), tenants.begin() + 5));
  auto agent1 = StartAgent(1, std::vector<TenantSpec>(tenants.begin() + 5, tenants.end()));
  auto controller = StartController();
  Enrol(2, versions);
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "50%,100%",
                                 "--on-failure", policy, "--parallel", "4"});
  auto r = WaitForRollout(id, "rolled_back");
  EXPECT_THAT(r["reason"].get<std::string>(), HasSubstr("wave 1 failed: 3 of 4 tenants failed"));
  for (const auto& t : r["tenants"]) {
    const std::string tid = t["id"];
    int wave = t["wave"];
    if (wave == 2) {
      EXPECT_EQ(t["state"], "pending") << tid;  // never started
    }
  }
  for (const auto& [tid, dsn] : dsn_of) {
    bool canary = tid == "t-00";
    std::string expected = (canary && policy == "rollback-wave") ? kNext : kHead;
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(expected)) << tid;
    if (expected == kHead) {
      EXPECT_EQ(Query(dsn, "SELECT to_regclass('tickets_subject_uniq') IS NULL")[0][0], "t") << tid;
    }
    EXPECT_EQ(RowsChecksum(dsn), rows_before[tid]) << tid;  // no row lost or changed
  }
  // The failure names the data problem.
  bool named = false;
  for (const auto& t : r["tenants"]) {
    named = named || t["error"].get<std::string>().find("could not create unique index") !=
                         std::string::npos;
  }
  EXPECT_TRUE(named) << r.dump(2);
  auto status = Cli({"rollout", "status", id});
  EXPECT_EQ(status.code, 1);
  EXPECT_THAT(status.out, HasSubstr("rolled_back"));
  // The audit keeps every step of a tenant: the failed upgrade and its rollback.
  auto history = Cli({"tenants", "history", "t-02"});
  EXPECT_EQ(history.code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("upgrade failed"));
  EXPECT_THAT(history.out, HasSubstr("could not create unique index"));
  EXPECT_THAT(history.out, HasSubstr("downgrade rolled_back"));
}

INSTANTIATE_TEST_SUITE_P(Policies, FailingWaveTest,
                         ::testing::Values("rollback-all", "rollback-wave"),
                         [](const auto& info) {
                           return info.param == "rollback-all" ? "RollbackAll" : "RollbackWave";
                         });

// A batched revision over a fleet: each tenant's rows and batches are
// recorded with the rollout and shown by `rollout status`.
TEST_F(RolloutTest, ABatchedRevisionShowsEachTenantsProgress) {
  std::vector<std::vector<TenantSpec>> by_agent(2);
  std::vector<std::string> dsns;
  for (int i = 0; i < 4; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, kHead);
    // Tenants of different sizes: 1,000 to 4,000 notes.
    Exec(dsn, absl::StrCat("CREATE TABLE legacy_notes (id int PRIMARY KEY, body text NOT NULL); "
                           "INSERT INTO legacy_notes SELECT g, repeat('x', g % 50) FROM "
                           "generate_series(1, ", (i + 1) * 1000, ") g"));
    dsns.push_back(dsn);
    by_agent[i % 2].push_back({absl::StrFormat("b-%02d", i), dsn, {}});
  }
  std::string versions = VersionsWith(
      kNext + "_count_words.sql",
      "-- revision: " + kNext + "\n-- down_revision: " + kHead +
          "\n-- message: count note lengths\n\n"
          "-- migrate:upgrade\nALTER TABLE legacy_notes ADD COLUMN length int;\n\n"
          "-- migrate:batch\nUPDATE legacy_notes SET length = char_length(body) WHERE id IN "
          "(SELECT id FROM legacy_notes WHERE length IS NULL ORDER BY id LIMIT 400);\n\n"
          "-- migrate:post\nALTER TABLE legacy_notes ALTER COLUMN length SET NOT NULL;\n\n"
          "-- migrate:downgrade\nALTER TABLE legacy_notes DROP COLUMN length;\n");
  std::vector<std::unique_ptr<fleet::testing::Process>> agents;
  for (int n = 0; n < 2; ++n) agents.push_back(StartAgent(n, by_agent[n]));
  auto controller = StartController();
  Enrol(2, versions);
  std::string id = StartRollout({"--canary", "1", "--waves", "100%", "--parallel", "2"});
  auto r = WaitForRollout(id, "succeeded");
  ASSERT_EQ(r["tenants"].size(), 4u);
  for (const auto& t : r["tenants"]) {
    const int i = std::stoi(t["id"].get<std::string>().substr(2));
    const int rows = (i + 1) * 1000;
    ASSERT_TRUE(t.contains("progress")) << t.dump();
    EXPECT_EQ(t["progress"]["revision"], kNext);
    EXPECT_EQ(t["progress"]["rows"], rows) << t.dump();
    EXPECT_EQ(t["progress"]["batches"], (rows + 399) / 400 + 1) << t.dump();
    EXPECT_EQ(t["progress"]["done"], true);
    EXPECT_EQ(Query(dsns[i], "SELECT count(*) FROM legacy_notes WHERE length = "
                             "char_length(body)")[0][0],
              std::to_string(rows));
  }
  auto text = Cli({"rollout", "status", id});
  EXPECT_THAT(text.out, HasSubstr("BATCHED"));
  EXPECT_THAT(text.out, HasSubstr("4000 rows, 11 batches"));
}

TEST_F(RolloutTest, GateHoldsUntilResumeAbortStopsRollbackRestores) {
  std::vector<TenantSpec> tenants;
  std::vector<std::string> dsns;
  for (int i = 0; i < 6; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, "4d5e6f708192");
    dsns.push_back(dsn);
    tenants.push_back({absl::StrFormat("g-%02d", i), dsn, {}});
  }
  auto agent = StartAgent(0, tenants);
  auto controller = StartController();
  Enrol(1, ExampleVersions());
  // A gate after the canary: only the canary moves until resume.
  std::string id = StartRollout({"--pause-after", "canary", "--waves", "50%,100%"});
  auto paused = WaitForRollout(id, "paused");
  EXPECT_EQ(paused["counts"]["succeeded"], 1);
  EXPECT_THAT(HeadsOf(dsns[0]), ElementsAre(kHead));
  EXPECT_THAT(HeadsOf(dsns[1]), ElementsAre("4d5e6f708192"));
  // One active rollout per tenant: a second one is refused, naming them.
  auto busy = Cli({"rollout", "start"});
  EXPECT_EQ(busy.code, 3);
  EXPECT_THAT(busy.err, HasSubstr("tenant g-01 is in another active rollout"));
  auto resumed = Cli({"rollout", "promote", id});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  // Piped, watch prints timestamped lines and exits 0 on success.
  auto watched = Cli({"rollout", "watch", id});
  EXPECT_EQ(watched.code, 0) << watched.err;
  EXPECT_THAT(watched.out, HasSubstr("succeeded wave 3/3: 6 succeeded"));
  WaitForRollout(id, "succeeded");
  for (const auto& dsn : dsns) EXPECT_THAT(HeadsOf(dsn), ElementsAre(kHead));

  // Back to the start, then: abort at the gate stops without rolling back...
  auto rb = Cli({"rollout", "rollback", id});
  ASSERT_EQ(rb.code, 0) << rb.err;
  WaitForRollout(id, "rolled_back");
  for (const auto& dsn : dsns) EXPECT_THAT(HeadsOf(dsn), ElementsAre("4d5e6f708192"));
  std::string second = StartRollout({"--pause-after", "canary", "--waves", "50%,100%"});
  WaitForRollout(second, "paused");
  ASSERT_EQ(Cli({"rollout", "abort", second}).code, 0);
  auto aborted = WaitForRollout(second, "aborted");
  EXPECT_THAT(HeadsOf(dsns[0]), ElementsAre(kHead));  // the canary stays moved
  // ...and rollback afterwards restores the starting revisions.
  ASSERT_EQ(Cli({"rollout", "rollback", second}).code, 0);
  WaitForRollout(second, "rolled_back");
  EXPECT_THAT(HeadsOf(dsns[0]), ElementsAre("4d5e6f708192"));
  // Actions that do not apply say why.
  auto bad = Cli({"rollout", "resume", second});
  EXPECT_EQ(bad.code, 3);
  EXPECT_THAT(bad.err, HasSubstr("is rolled_back; resume applies to a paused rollout"));
}

TEST_F(RolloutTest, PlanRefusesMissingDowngradesDirtyTenantsAndBusyOnes) {
  std::string versions = VersionsWith(
      kNext + "_irreversible.sql",
      "-- revision: " + kNext + "\n-- down_revision: " + kHead +
          "\n-- message: drop a column for good\n\n-- migrate:upgrade\n"
          "ALTER TABLE tickets DROP COLUMN body;\n");
  std::string clean = DsnFor(NewDatabase()), dirty = DsnFor(NewDatabase());
  UpgradeTo(clean, "heads");
  UpgradeTo(dirty, "heads");
  Exec(dirty, "INSERT INTO fleet_migration_log (revision, direction, started_at, outcome) VALUES "
              "('" + kHead + "', 'upgrade', now(), 'dirty')");
  auto agent = StartAgent(0, {{"clean", clean, {{"tier", "a"}}}, {"dirty", dirty, {{"tier", "b"}}}});
  auto controller = StartController();
  Enrol(1, versions);
  auto refused = Cli({"rollout", "plan", "--to", kNext, "--selector", "tier=a"});
  EXPECT_EQ(refused.code, 3);
  EXPECT_THAT(refused.err, HasSubstr("revision " + kNext));
  EXPECT_THAT(refused.err, HasSubstr("has no downgrade, but --on-failure rollback-all would need it"));
  auto halt = Cli({"rollout", "plan", "--to", kNext, "--selector", "tier=a", "--on-failure", "halt"});
  EXPECT_EQ(halt.code, 0) << halt.err;
  EXPECT_THAT(halt.out, HasSubstr("clean"));
  auto dirty_refused = Cli({"rollout", "plan", "--to", kHead, "--selector", "tier=b"});
  EXPECT_EQ(dirty_refused.code, 3);
  EXPECT_THAT(dirty_refused.err, HasSubstr("tenant dirty is dirty"));
  auto bad_flags = Cli({"rollout", "plan", "--waves", "50%,20%"});
  EXPECT_EQ(bad_flags.code, 3);
  EXPECT_THAT(bad_flags.err, HasSubstr("--waves takes increasing cumulative percentages"));
  // The same spec from a TOML file.
  std::string file = dir_.path() + "/rollout.toml";
  std::ofstream(file) << "to = \"" << kNext << "\"\non_failure = \"halt\"\n[selector]\ntier = \"a\"\n";
  auto from_file = Cli({"rollout", "plan", "--file", file});
  EXPECT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_THAT(from_file.out, HasSubstr("clean (127.0.0.1:"));
  EXPECT_THAT(from_file.out, ::testing::Not(HasSubstr("dirty (127.0.0.1:")));
}

}  // namespace
}  // namespace fleet

namespace fleet {
namespace {

// The controller SIGKILLed at a moment of the rollout and restarted on the
// same inventory: the rollout ends as an uninterrupted one would, and no
// revision runs twice on any tenant.
class ControllerKilledTest : public RolloutTest,
                             public ::testing::WithParamInterface<std::string> {};

TEST_P(ControllerKilledTest, ResumesToTheSameEnd) {
  const std::string moment = GetParam();  // wave, bake, rollback
  const bool failing = moment == "rollback";
  std::string slow =
      "-- revision: " + kNext + "\n-- down_revision: " + kHead +
      "\n-- message: slow change\n\n-- migrate:upgrade\nSELECT pg_sleep(0.3);\n"
      "CREATE TABLE slow_marker (x int);\n" +
      (failing ? "CREATE UNIQUE INDEX tickets_subject_uniq ON tickets (subject);\n" : "") +
      "\n-- migrate:downgrade\nSELECT pg_sleep(0.3);\n" +
      (failing ? "DROP INDEX IF EXISTS tickets_subject_uniq;\n" : "") + "DROP TABLE slow_marker;\n";
  std::string versions = VersionsWith(kNext + "_slow.sql", slow);
  std::vector<TenantSpec> tenants;
  std::vector<std::string> dsns;
  for (int i = 0; i < 8; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, "heads");
    if (failing && i == 7) {  // the last wave fails, after the others moved
      Exec(dsn, "INSERT INTO users (email, display_name) VALUES ('a@x', 'A');"
                "INSERT INTO tickets (subject, requester_id) VALUES ('x', 1), ('x', 1)");
    }
    dsns.push_back(dsn);
    tenants.push_back({absl::StrFormat("k-%02d", i), dsn, {}});
  }
  auto agent = StartAgent(0, tenants);
  auto controller = StartController();
  Enrol(1, versions);
  std::vector<std::string> flags{"--to", kNext, "--canary", "1", "--waves", "50%,100%",
                                 "--parallel", "1"};
  if (moment == "bake") {
    flags.push_back("--bake");
    flags.push_back("2s");
  }
  std::string id = StartRollout(flags);
  // Wait for the moment, then kill -9.
  ASSERT_TRUE(fleet::testing::WaitFor(
      [&] {
        auto r = Rollout(id);
        if (!r.is_object()) return false;
        int succeeded = r["counts"].value("succeeded", 0);
        if (moment == "wave") return succeeded >= 2 && r["state"] == "running";
        if (moment == "bake") return r["wave"] == 0 && succeeded == 1;
        return r["state"] == "rolling_back" && r["counts"].value("rolled_back", 0) >= 1;
      },
      std::chrono::seconds(60)))
      << Rollout(id).dump(2);
  controller->Signal(SIGKILL);
  controller->Wait();
  controller = StartController();
  auto end = WaitForRollout(id, failing ? "rolled_back" : "succeeded");
  for (const auto& dsn : dsns) {
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(failing ? kHead : kNext));
    // No revision ran twice: one ok upgrade of kNext at most, and for a
    // rolled back tenant one ok downgrade after it.
    auto ups = Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE revision = '" + kNext +
                              "' AND direction = 'upgrade' AND outcome = 'ok'")[0][0];
    EXPECT_LE(std::stoi(ups), 1) << dsn;
    auto downs = Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE revision = '" + kNext +
                                "' AND direction = 'downgrade' AND outcome = 'ok'")[0][0];
    EXPECT_EQ(downs, failing ? ups : "0") << dsn;
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, ControllerKilledTest,
                         ::testing::Values("wave", "bake", "rollback"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace fleet

namespace fleet {
namespace {

TEST_F(RolloutTest, AgentKilledMidWaveAndRestartedCompletesWithoutRepeats) {
  std::string versions = VersionsWith(
      kNext + "_slow.sql", "-- revision: " + kNext + "\n-- down_revision: " + kHead +
                               "\n-- message: slow change\n\n-- migrate:upgrade\n"
                               "SELECT pg_sleep(0.3);\nCREATE TABLE slow_marker (x int);\n\n"
                               "-- migrate:downgrade\nDROP TABLE slow_marker;\n");
  std::vector<TenantSpec> tenants;
  std::vector<std::string> dsns;
  for (int i = 0; i < 6; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, "heads");
    dsns.push_back(dsn);
    tenants.push_back({absl::StrFormat("a-%02d", i), dsn, {}});
  }
  auto agent = StartAgent(0, tenants);
  const int port = agent_ports_[0];
  auto controller = StartController();
  Enrol(1, versions);
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "100%",
                                 "--parallel", "1", "--tenant-timeout", "2m"});
  ASSERT_TRUE(fleet::testing::WaitFor([&] {
    auto r = Rollout(id);
    return r.is_object() && r["counts"].value("succeeded", 0) >= 2;
  }));
  agent->Signal(SIGKILL);
  agent->Wait();
  // The rollout waits for the agent (retrying) instead of failing at once.
  auto during = Rollout(id);
  EXPECT_EQ(during["state"], "running");
  agent = StartAgent(0, tenants, port);
  WaitForRollout(id, "succeeded");
  for (const auto& dsn : dsns) {
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(kNext));
    EXPECT_EQ(Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE revision = '" + kNext +
                             "' AND outcome = 'ok'")[0][0],
              "1");
  }
}

}  // namespace
}  // namespace fleet

namespace fleet {
namespace {

TEST_F(RolloutTest, VerifyFailingAfterTheBakeFailsTheWaveAndRollsBack) {
  std::string versions = VersionsWith(
      kNext + "_flag.sql", "-- revision: " + kNext + "\n-- down_revision: " + kHead +
                               "\n-- message: bake flag\n\n-- migrate:upgrade\n"
                               "CREATE TABLE bake_flag (x int);\n\n"
                               "-- migrate:downgrade\nDROP TABLE bake_flag;\n\n"
                               "-- migrate:verify\nSELECT NOT EXISTS (SELECT 1 FROM bake_flag);\n");
  std::vector<TenantSpec> tenants;
  std::vector<std::string> dsns;
  for (int i = 0; i < 3; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeTo(dsn, "heads");
    dsns.push_back(dsn);
    tenants.push_back({absl::StrFormat("b-%02d", i), dsn, {}});
  }
  auto agent = StartAgent(0, tenants);
  auto controller = StartController();
  Enrol(1, versions);
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "100%", "--bake", "3s"});
  // During the canary's bake, its data turns the verify false.
  ASSERT_TRUE(fleet::testing::WaitFor([&] {
    auto r = Rollout(id);
    return r.is_object() && r["wave"] == 0 && r["counts"].value("succeeded", 0) == 1;
  }));
  Exec(dsns[0], "INSERT INTO bake_flag VALUES (1)");
  auto r = WaitForRollout(id, "rolled_back");
  EXPECT_THAT(r["reason"].get<std::string>(), HasSubstr("wave 0 failed its bake"));
  EXPECT_THAT(r["tenants"][0]["error"].get<std::string>(),
              HasSubstr("its migrate:verify query returned false"));
  for (const auto& dsn : dsns) EXPECT_THAT(HeadsOf(dsn), ElementsAre(kHead));
}

}  // namespace
}  // namespace fleet
