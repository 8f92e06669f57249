// RehearsePlan on the shared fake agent client: every planned tenant is
// rehearsed once, an answer is kept per tenant, and a tenant that could
// not be rehearsed is not ok.
#include "controller/rehearsal.h"

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

}  // namespace
}  // namespace fleet::controller
