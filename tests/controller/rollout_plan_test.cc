// PlanRollout's refusals at fleet scale, and the wire's bound on a status
// message: thousands of reasons must not turn into a transport error that
// hides them.
#include "controller/rollout_plan.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/convert.h"
#include "tests/testing/temp_dir.h"

namespace fleet::controller {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(RolloutPlanTest, ThousandsOfRefusalsNameTheFirstFewAndCountTheRest) {
  fleet::testing::TempDir dir;
  dir.Write("a1.sql", fleet::testing::ScriptText("a1", "", "CREATE TABLE t (x int);"));
  auto graph = dir.Graph();
  ASSERT_NE(graph, nullptr);
  std::vector<TenantRecord> tenants;
  for (int i = 0; i < 5000; ++i) {
    TenantRecord t;
    t.id = absl::StrCat("t", i);  // not "t" + to_string: GCC 12 -Wrestrict false positive
    t.agent = "agent:1";
    t.reachable = false;
    tenants.push_back(t);
  }
  fleet::v1::RolloutSpec spec;
  spec.set_target("heads");
  auto plan = PlanRollout(spec, tenants, *graph, {});
  ASSERT_FALSE(plan.ok());
  const std::string message(plan.status().message());
  EXPECT_THAT(message, StartsWith("the rollout is refused: tenant t0 is unreachable; "));
  EXPECT_THAT(message, HasSubstr("tenant t9 is unreachable; and 4990 more (fleetctl status"));
  EXPECT_THAT(message, Not(HasSubstr("tenant t10 ")));
  EXPECT_LT(message.size(), 1000u);
}

TEST(RolloutPlanTest, AStatusMessageIsCutToWhatTheWireCarries) {
  std::string long_message = "why: ";
  while (long_message.size() < 20000) long_message += "tenant é is unreachable; ";
  grpc::Status s = proto::ToGrpc(absl::FailedPreconditionError(long_message));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_LE(s.error_message().size(), proto::kMaxWireMessage + 40);
  EXPECT_THAT(s.error_message(), StartsWith("why: tenant"));
  EXPECT_THAT(s.error_message(), EndsWith("more bytes cut)"));
  // Never half a character: what follows the part kept starts one.
  const std::string kept = s.error_message().substr(0, s.error_message().find(" ... ("));
  ASSERT_EQ(long_message.compare(0, kept.size(), kept), 0);
  EXPECT_NE(static_cast<unsigned char>(long_message[kept.size()]) & 0xC0, 0x80);
  EXPECT_EQ(proto::ToGrpc(absl::NotFoundError("short")).error_message(), "short");
}

}  // namespace
}  // namespace fleet::controller
