// RehearsePlan on the shared fake agent client: every planned tenant is
// rehearsed once, an answer is kept per tenant, and a tenant that could
// not be rehearsed is not ok.
#include "controller/preflight.h"

#include <cstdint>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_agent_client.h"

namespace fleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

PlannedTenantInfo Planned(const std::string& id, const std::string& agent) {
  PlannedTenantInfo p;
  p.tenant.id = id;
  p.tenant.agent = agent;
  p.steps = {"b"};
  return p;
}

TEST(RehearsalTest, EveryTenantIsRehearsedOnceAndFailuresAreNamedInWaveOrder) {
  fleet::testing::FakeAgentClient agents;
  agents.AddTenant("a1", "t-1", {"a"});
  agents.AddTenant("a1", "t-2", {"a"});
  agents.AddTenant("a2", "t-3", {"a"});
  agents.AddTenant("a2", "t-4", {"a"});
  fleet::v1::Rehearsal bad;
  bad.set_outcome("failed");
  bad.set_revision("b");
  bad.set_file("v/b.sql");
  bad.set_line(6);
  bad.set_error("check constraint \"subject_min\" is violated by some row");
  agents.SetRehearsal("t-3", bad);
  agents.SetUnreachable("a2", false);
  RolloutPlanResult plan;
  plan.waves = {{Planned("t-1", "a1")}, {Planned("t-2", "a1"), Planned("t-3", "a2")},
                {Planned("t-4", "a2")}};
  // The agent of t-4 goes away: it cannot be rehearsed.
  agents.SetRehearsal("t-4", {});
  agents.SetUnreachable("a2", true);
  agents.SetRehearsal("t-3", bad);
  RehearsePlan(agents, "", "heads", plan);

  EXPECT_EQ(plan.waves[0][0].rehearsal.outcome(), "ok");
  EXPECT_EQ(plan.waves[1][0].rehearsal.outcome(), "ok");
  EXPECT_EQ(plan.waves[1][1].rehearsal.outcome(), "error");  // a2 is unreachable
  EXPECT_EQ(plan.waves[2][0].rehearsal.outcome(), "error");
  int calls = 0;
  for (const auto& c : agents.Calls()) {
    if (c.method == "Rehearse") {
      ++calls;
      EXPECT_EQ(c.target, "heads");
    }
  }
  EXPECT_EQ(calls, 4);
  std::vector<std::string> failures = RehearsalFailures(plan);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_THAT(failures[0], HasSubstr("t-3: not rehearsed: "));
  EXPECT_THAT(failures[1], HasSubstr("t-4: not rehearsed: "));

  agents.SetUnreachable("a2", false);
  RehearsePlan(agents, "", "heads", plan);
  EXPECT_THAT(RehearsalFailures(plan),
              ElementsAre("t-3: failed at revision b (v/b.sql:6): check constraint "
                          "\"subject_min\" is violated by some row",
                          "t-4: not rehearsed: no answer"));
}

TEST(TableSizeTest, LockHeavyFindingsAreSizedPerTenantAndLargeTablesAreErrors) {
  fleet::testing::FakeAgentClient agents;
  agents.AddTenant("a1", "big", {"a"});
  agents.AddTenant("a1", "small", {"a"});
  agents.AddTenant("a1", "fresh", {});  // at base: an earlier step creates the table
  agents.AddTenant("a2", "gone", {"a"});
  agents.SetTableSize("big", "tickets", int64_t{3} << 30, 18000000);
  agents.SetTableSize("small", "tickets", 8192, 2);
  agents.SetUnreachable("a2", true);

  std::vector<migrations::LintFinding> lint(3);
  lint[0].rule = migrations::FindLintRule("add-check-without-not-valid");
  lint[0].revision = "b";
  lint[0].table = "tickets";
  lint[1].rule = migrations::FindLintRule("drop-column");  // not lock-heavy: not sized
  lint[1].revision = "b";
  lint[1].table = "tickets";
  lint[2].rule = migrations::FindLintRule("set-not-null");  // ignored: not sized
  lint[2].revision = "b";
  lint[2].table = "tickets";
  lint[2].ignored = true;

  RolloutPlanResult plan;
  plan.waves = {{Planned("big", "a1"), Planned("small", "a1")},
                {Planned("fresh", "a1"), Planned("gone", "a2")}};
  SizeLockHeavyFindings(agents, lint, int64_t{1} << 30, plan);

  const auto& big = plan.waves[0][0].table_findings;
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].rule(), "add-check-without-not-valid");
  EXPECT_EQ(big[0].table(), "tickets");
  EXPECT_EQ(big[0].bytes(), int64_t{3} << 30);
  EXPECT_EQ(big[0].severity(), "error");
  const auto& small = plan.waves[0][1].table_findings;
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].severity(), "warning");
  EXPECT_TRUE(plan.waves[1][0].table_findings.empty());
  EXPECT_THAT(plan.waves[1][1].table_sizes_error, HasSubstr("a2"));
  EXPECT_THAT(LargeTableErrors(plan),
              ElementsAre("big: add-check-without-not-valid on table tickets (3.0 GiB, "
                          "~18000000 rows) at revision b",
                          ::testing::StartsWith("gone: the sizes of the tables its lock-heavy "
                                                "findings touch are unknown (")));

  // Without lock-heavy findings no agent is asked.
  RolloutPlanResult quiet;
  quiet.waves = {{Planned("small", "a1")}};
  const size_t calls = agents.Calls().size();
  SizeLockHeavyFindings(agents, {lint[1], lint[2]}, int64_t{1} << 30, quiet);
  EXPECT_EQ(agents.Calls().size(), calls);
}

}  // namespace
}  // namespace fleet::controller
