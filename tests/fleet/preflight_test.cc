// Before a rollout moves anything: the controller lints the revisions a
// plan would run, and rehearses each tenant's upgrade on its own database
// in a transaction that is always rolled back. Real agents, a real
// controller, real databases.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHead = "9c0d1e2f3041";
const std::string kNext = "a0b1c2d3e4f5";

class PreflightTest : public fleet::testing::FleetHarness {
 protected:
  // Six tenants on two agents at the example's head, each with two
  // tickets; on t-2 and t-4 one subject is a single character.
  void SetUpFleet(const std::string& revision) {
    for (int i = 0; i < 6; ++i) {
      std::string dsn = DsnFor(NewDatabase());
      UpgradeExample(dsn, {"heads"});
      const std::string subject = (i == 2 || i == 4) ? "?" : "Printer on fire";
      Exec(dsn, "INSERT INTO users (email, display_name, role) VALUES ('ann@example.com', 'Ann', "
                "'customer');"
                "INSERT INTO tickets (subject, requester_id) SELECT 'Cannot log in', id FROM users;"
                "INSERT INTO tickets (subject, requester_id) SELECT '" + subject +
                "', id FROM users;");
      dsns_.push_back(dsn);
    }
    agents_.push_back(StartAgent(0, {{"t-0", dsns_[0], {{"canary", "true"}}},
                                     {"t-1", dsns_[1], {}},
                                     {"t-2", dsns_[2], {}}}));
    agents_.push_back(StartAgent(1, {{"t-3", dsns_[3], {}}, {"t-4", dsns_[4], {}},
                                     {"t-5", dsns_[5], {}}}));
    controller_process_ = StartController();
    Enrol(2, ExampleVersionsWith(kNext + "_subject_length.sql", revision));
  }

  // What must not change on a tenant a rehearsal ran on.
  std::string Fingerprint(const std::string& dsn) {
    return Query(dsn,
                 "SELECT (SELECT string_agg(version_num, ',') FROM alembic_version) || '|' || "
                 "(SELECT count(*) FROM pg_constraint WHERE conname = 'tickets_subject_length') "
                 "|| '|' || (SELECT md5(string_agg(subject, ',' ORDER BY id)) FROM tickets) || "
                 "'|' || (SELECT count(*) FROM fleet_migration_log)")[0][0];
  }

  std::vector<std::string> dsns_;
  std::vector<std::unique_ptr<fleet::testing::Process>> agents_;
  std::unique_ptr<fleet::testing::Process> controller_process_;
};

const std::string kCheckRevision =
    "-- revision: " + kNext + "\n-- down_revision: " + kHead +
    "\n-- message: require ticket subjects of three characters\n\n-- migrate:upgrade\n"
    "ALTER TABLE tickets ADD CONSTRAINT tickets_subject_length CHECK (char_length(subject) >= "
    "3);\n\n-- migrate:downgrade\nALTER TABLE tickets DROP CONSTRAINT tickets_subject_length;\n";

TEST_F(PreflightTest, RehearsalPredictsExactlyTheTenantsWhoseDataViolatesTheCheck) {
  SetUpFleet(kCheckRevision);
  std::vector<std::string> before;
  for (const auto& dsn : dsns_) before.push_back(Fingerprint(dsn));

  auto plan = Cli({"rollout", "plan", "--to", "head", "--rehearse", "-o", "json"});
  ASSERT_EQ(plan.code, 1) << plan.out << plan.err;  // a check found something
  auto j = nlohmann::json::parse(plan.out);
  std::vector<std::string> failed, ok;
  for (const auto& wave : j["waves"]) {
    for (const auto& t : wave["tenants"]) {
      const auto& r = t["rehearsal"];
      if (r["outcome"] == "failed") {
        failed.push_back(t["tenant"]);
        EXPECT_EQ(r["revision"], kNext);
        EXPECT_THAT(r["file"].get<std::string>(), HasSubstr(kNext + "_subject_length.sql"));
        EXPECT_EQ(r["line"], 6);
        EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("tickets_subject_length"));
      } else {
        EXPECT_EQ(r["outcome"], "ok") << t.dump();
        ok.push_back(t["tenant"]);
        // ADD CONSTRAINT ... CHECK holds tickets under ACCESS EXCLUSIVE.
        EXPECT_THAT(r["locks"].dump(), HasSubstr(R"({"mode":"AccessExclusiveLock","relation":"tickets"})"));
        EXPECT_GE(r["duration_ms"].get<int>(), 0);
      }
    }
  }
  std::sort(failed.begin(), failed.end());
  EXPECT_THAT(failed, ElementsAre("t-2", "t-4"));
  EXPECT_EQ(ok.size(), 4u);
  // Lint rides along: a CHECK without NOT VALID on a table that existed.
  EXPECT_THAT(j["lint"].dump(), HasSubstr("add-check-without-not-valid"));

  // The table form says the same for people.
  auto text = Cli({"rollout", "plan", "--to", "head", "--rehearse"});
  EXPECT_EQ(text.code, 1);
  EXPECT_THAT(text.out, HasSubstr("rehearsal FAILED at revision " + kNext));
  EXPECT_THAT(text.out, HasSubstr("Rehearsal: 4 of 6 tenants ok, 2 would fail"));
  EXPECT_THAT(text.out, HasSubstr("warning add-check-without-not-valid"));

  // Sized per tenant: a threshold the tickets table is over makes the
  // lock-heavy warning an error on every tenant, and start refuses.
  auto large = Cli({"rollout", "plan", "--to", "head", "--lint-large", "1kB", "-o", "json"});
  ASSERT_EQ(large.code, 0) << large.err;
  auto lj = nlohmann::json::parse(large.out);
  for (const auto& wave : lj["waves"]) {
    for (const auto& t : wave["tenants"]) {
      ASSERT_EQ(t["tables"].size(), 1u) << t.dump();
      EXPECT_EQ(t["tables"][0]["table"], "tickets");
      EXPECT_EQ(t["tables"][0]["severity"], "error");
      EXPECT_GT(t["tables"][0]["bytes"].get<int64_t>(), 1024);
    }
  }
  auto too_large = Cli({"rollout", "start", "--to", "head", "--lint-large", "1kB"});
  EXPECT_EQ(too_large.code, 3);
  EXPECT_THAT(too_large.err, HasSubstr("t-3: add-check-without-not-valid on table tickets ("));
  auto sized = Cli({"rollout", "plan", "--to", "head"});
  EXPECT_THAT(sized.out, HasSubstr("warning add-check-without-not-valid (revision " + kNext + ")"));
  auto bad_size = Cli({"rollout", "plan", "--to", "head", "--lint-large", "lots"});
  EXPECT_EQ(bad_size.code, 2);
  EXPECT_THAT(bad_size.err, HasSubstr("--lint-large takes a size"));

  // start --rehearse refuses, naming both; nothing starts.
  auto start = Cli({"rollout", "start", "--to", "head", "--rehearse"});
  EXPECT_EQ(start.code, 3);
  EXPECT_THAT(start.err, HasSubstr("the rehearsal failed on 2 tenants; nothing was started"));
  EXPECT_THAT(start.err, HasSubstr("t-2: failed at revision " + kNext));
  EXPECT_THAT(start.err, HasSubstr("t-4: failed at revision " + kNext));
  auto list = Cli({"rollout", "list", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 0u);

  // No tenant's revision, schema, rows or log moved.
  for (size_t i = 0; i < dsns_.size(); ++i) {
    EXPECT_EQ(Fingerprint(dsns_[i]), before[i]) << "t-" << i;
    EXPECT_THAT(HeadsOf(dsns_[i]), ElementsAre(kHead));
  }
}

TEST_F(PreflightTest, ACleanRehearsalIsKeptWithTheRolloutAndLintErrorsRefuseAStart) {
  SetUpFleet("-- revision: " + kNext + "\n-- down_revision: " + kHead +
             "\n-- message: index ticket subjects\n\n-- migrate:upgrade\n"
             "-- lint:ignore index-not-concurent a typo: this comment is itself an error\n"
             "CREATE INDEX tickets_subject_idx ON tickets (subject);\n\n"
             "-- migrate:downgrade\nDROP INDEX tickets_subject_idx;\n");
  // The bad ignore is a lint error: start refuses it by name.
  auto refused = Cli({"rollout", "start", "--to", "head"});
  EXPECT_EQ(refused.code, 3);
  EXPECT_THAT(refused.err, HasSubstr("lint found 1 error in the revisions this rollout would run: "
                                     "bad-lint-ignore at "));
  EXPECT_THAT(refused.err, HasSubstr("--allow-lint-errors"));
  auto plan = Cli({"rollout", "plan", "--to", "head"});
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("error bad-lint-ignore"));
  EXPECT_THAT(plan.out, HasSubstr("warning index-not-concurrent"));
  EXPECT_THAT(plan.out, HasSubstr("rollout start refuses these errors unless --allow-lint-errors"));

  std::string id = StartRollout({"--to", "head", "--rehearse", "--allow-lint-errors", "--canary",
                                 "1", "--waves", "100%"});
  ASSERT_FALSE(id.empty());
  auto r = WaitForRollout(id, "succeeded");
  ASSERT_EQ(r["tenants"].size(), 6u);
  for (const auto& t : r["tenants"]) {
    EXPECT_EQ(t["rehearsal"]["outcome"], "ok") << t.dump();
    EXPECT_THAT(t["rehearsal"]["locks"].dump(), HasSubstr(R"("relation":"tickets")"));
  }
  for (const auto& dsn : dsns_) EXPECT_THAT(HeadsOf(dsn), ElementsAre(kNext));
}

}  // namespace
}  // namespace fleet
