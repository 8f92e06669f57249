// The transition table over every (state, event) pair: what is allowed
// moves where the design says, and everything else is refused.
#include "controller/rollout_state.h"

#include <map>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::controller {
namespace {

namespace v1 = fleet::v1;
using ::testing::HasSubstr;

constexpr RolloutEvent kRolloutEvents[] = {
    RolloutEvent::kPause,          RolloutEvent::kResume,         RolloutEvent::kAbort,
    RolloutEvent::kRollback,       RolloutEvent::kStart,          RolloutEvent::kBakeStarted,
    RolloutEvent::kWaveDone,       RolloutEvent::kGateReached,    RolloutEvent::kLastWaveDone,
    RolloutEvent::kWaveFailedHalt, RolloutEvent::kWaveFailedRollback,
    RolloutEvent::kRollbackDone,   RolloutEvent::kRollbackFailed};

constexpr TenantEvent kTenantEvents[] = {
    TenantEvent::kStart,        TenantEvent::kSucceed,    TenantEvent::kFail,
    TenantEvent::kBakeFail,     TenantEvent::kMarkRollback, TenantEvent::kRolledBack,
    TenantEvent::kRollbackFail};

TEST(RolloutStateTest, EveryPairOfRolloutStateAndEvent) {
  using E = RolloutEvent;
  const std::map<std::pair<RolloutState, RolloutEvent>, RolloutState> allowed = {
      {{v1::ROLLOUT_PENDING, E::kStart}, v1::ROLLOUT_RUNNING},
      {{v1::ROLLOUT_PENDING, E::kPause}, v1::ROLLOUT_PAUSED},
      {{v1::ROLLOUT_PENDING, E::kAbort}, v1::ROLLOUT_ABORTED},
      {{v1::ROLLOUT_RUNNING, E::kPause}, v1::ROLLOUT_PAUSED},
      {{v1::ROLLOUT_RUNNING, E::kAbort}, v1::ROLLOUT_ABORTED},
      {{v1::ROLLOUT_RUNNING, E::kBakeStarted}, v1::ROLLOUT_RUNNING},
      {{v1::ROLLOUT_RUNNING, E::kWaveDone}, v1::ROLLOUT_RUNNING},
      {{v1::ROLLOUT_RUNNING, E::kGateReached}, v1::ROLLOUT_PAUSED},
      {{v1::ROLLOUT_RUNNING, E::kLastWaveDone}, v1::ROLLOUT_SUCCEEDED},
      {{v1::ROLLOUT_RUNNING, E::kWaveFailedHalt}, v1::ROLLOUT_HALTED},
      {{v1::ROLLOUT_RUNNING, E::kWaveFailedRollback}, v1::ROLLOUT_ROLLING_BACK},
      {{v1::ROLLOUT_PAUSED, E::kResume}, v1::ROLLOUT_RUNNING},
      {{v1::ROLLOUT_PAUSED, E::kAbort}, v1::ROLLOUT_ABORTED},
      {{v1::ROLLOUT_PAUSED, E::kRollback}, v1::ROLLOUT_ROLLING_BACK},
      {{v1::ROLLOUT_HALTED, E::kAbort}, v1::ROLLOUT_ABORTED},
      {{v1::ROLLOUT_HALTED, E::kRollback}, v1::ROLLOUT_ROLLING_BACK},
      {{v1::ROLLOUT_ROLLING_BACK, E::kRollbackDone}, v1::ROLLOUT_ROLLED_BACK},
      {{v1::ROLLOUT_ROLLING_BACK, E::kRollbackFailed}, v1::ROLLOUT_ROLLBACK_FAILED},
      {{v1::ROLLOUT_ROLLBACK_FAILED, E::kRollback}, v1::ROLLOUT_ROLLING_BACK},
      {{v1::ROLLOUT_ROLLBACK_FAILED, E::kAbort}, v1::ROLLOUT_ABORTED},
      {{v1::ROLLOUT_SUCCEEDED, E::kRollback}, v1::ROLLOUT_ROLLING_BACK},
      {{v1::ROLLOUT_ABORTED, E::kRollback}, v1::ROLLOUT_ROLLING_BACK},
  };
  int pairs = 0;
  for (RolloutState from : proto::kRolloutStates) {
    for (RolloutEvent e : kRolloutEvents) {
      ++pairs;
      auto next = NextState(from, e);
      auto it = allowed.find({from, e});
      if (it == allowed.end()) {
        ASSERT_FALSE(next.ok()) << proto::StateName(from) << " + " << EventName(e) << " -> "
                                << proto::StateName(*next);
        EXPECT_TRUE(absl::IsFailedPrecondition(next.status()));
        EXPECT_THAT(next.status().message(),
                    HasSubstr(absl::StrCat("is ", proto::StateName(from), "; ")));
      } else {
        ASSERT_TRUE(next.ok()) << proto::StateName(from) << " + " << EventName(e) << ": "
                               << next.status();
        EXPECT_EQ(*next, it->second) << proto::StateName(from) << " + " << EventName(e);
      }
    }
  }
  EXPECT_EQ(pairs, 9 * 13);
  // Nothing leaves a finished rollout but an operator's rollback.
  for (RolloutState done : {v1::ROLLOUT_SUCCEEDED, v1::ROLLOUT_ABORTED, v1::ROLLOUT_ROLLED_BACK}) {
    for (RolloutEvent e : kRolloutEvents) {
      if (e == E::kRollback && done != v1::ROLLOUT_ROLLED_BACK) continue;
      EXPECT_FALSE(NextState(done, e).ok()) << proto::StateName(done) << " + " << EventName(e);
    }
  }
}

TEST(RolloutStateTest, RefusalsSayWhatTheActionAppliesTo) {
  auto resume = NextState(v1::ROLLOUT_ROLLED_BACK, RolloutEvent::kResume);
  EXPECT_EQ(resume.status().message(), "is rolled_back; resume applies to a paused rollout");
  auto pause = NextState(v1::ROLLOUT_SUCCEEDED, RolloutEvent::kPause);
  EXPECT_EQ(pause.status().message(),
            "is succeeded; pause applies to a pending, running rollout");
}

TEST(RolloutStateTest, EveryPairOfTenantStateAndEvent) {
  using E = TenantEvent;
  const std::map<std::pair<RolloutTenantState, TenantEvent>, RolloutTenantState> allowed = {
      {{v1::TENANT_PENDING, E::kStart}, v1::TENANT_RUNNING},
      {{v1::TENANT_RUNNING, E::kStart}, v1::TENANT_RUNNING},
      {{v1::TENANT_RUNNING, E::kSucceed}, v1::TENANT_SUCCEEDED},
      {{v1::TENANT_RUNNING, E::kFail}, v1::TENANT_FAILED},
      {{v1::TENANT_SUCCEEDED, E::kBakeFail}, v1::TENANT_FAILED},
      {{v1::TENANT_RUNNING, E::kMarkRollback}, v1::TENANT_ROLLING_BACK},
      {{v1::TENANT_SUCCEEDED, E::kMarkRollback}, v1::TENANT_ROLLING_BACK},
      {{v1::TENANT_FAILED, E::kMarkRollback}, v1::TENANT_ROLLING_BACK},
      {{v1::TENANT_ROLLBACK_FAILED, E::kMarkRollback}, v1::TENANT_ROLLING_BACK},
      {{v1::TENANT_ROLLING_BACK, E::kRolledBack}, v1::TENANT_ROLLED_BACK},
      {{v1::TENANT_ROLLING_BACK, E::kRollbackFail}, v1::TENANT_ROLLBACK_FAILED},
  };
  for (RolloutTenantState from : proto::kRolloutTenantStates) {
    for (TenantEvent e : kTenantEvents) {
      auto next = NextState(from, e);
      auto it = allowed.find({from, e});
      if (it == allowed.end()) {
        EXPECT_FALSE(next.ok()) << proto::StateName(from) << " + " << EventName(e);
      } else {
        ASSERT_TRUE(next.ok()) << proto::StateName(from) << " + " << EventName(e);
        EXPECT_EQ(*next, it->second);
      }
    }
  }
  // Pending tenants are never rolled back: they never moved.
  auto mark = StatesAccepting(E::kMarkRollback);
  EXPECT_EQ(std::count(mark.begin(), mark.end(), v1::TENANT_PENDING), 0);
  EXPECT_EQ(mark.size(), 4u);
}

TEST(RolloutStateTest, NamesRoundTrip) {
  for (RolloutState s : proto::kRolloutStates) {
    EXPECT_EQ(proto::RolloutStateFromName(proto::StateName(s)), s);
  }
  for (RolloutTenantState s : proto::kRolloutTenantStates) {
    EXPECT_EQ(proto::RolloutTenantStateFromName(proto::StateName(s)), s);
  }
  EXPECT_EQ(proto::RolloutStateFromName("sideways"), std::nullopt);
  EXPECT_STREQ(proto::StateName(v1::ROLLOUT_ROLLBACK_FAILED), "rollback_failed");
}

}  // namespace
}  // namespace fleet::controller
