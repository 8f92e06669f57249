#include "controller/rollout_state.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fleet::controller {
namespace {

using proto::StateName;
namespace v1 = fleet::v1;

struct RolloutRule {
  RolloutState from;
  RolloutEvent event;
  RolloutState to;
};

// The whole table: a pair that is not here is refused.
constexpr RolloutRule kRolloutRules[] = {
    {v1::ROLLOUT_PENDING, RolloutEvent::kStart, v1::ROLLOUT_RUNNING},
    {v1::ROLLOUT_PENDING, RolloutEvent::kPause, v1::ROLLOUT_PAUSED},
    {v1::ROLLOUT_PENDING, RolloutEvent::kAbort, v1::ROLLOUT_ABORTED},

    {v1::ROLLOUT_RUNNING, RolloutEvent::kPause, v1::ROLLOUT_PAUSED},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kAbort, v1::ROLLOUT_ABORTED},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kBakeStarted, v1::ROLLOUT_RUNNING},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kWaveDone, v1::ROLLOUT_RUNNING},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kGateReached, v1::ROLLOUT_PAUSED},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kLastWaveDone, v1::ROLLOUT_SUCCEEDED},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kWaveFailedHalt, v1::ROLLOUT_HALTED},
    {v1::ROLLOUT_RUNNING, RolloutEvent::kWaveFailedRollback, v1::ROLLOUT_ROLLING_BACK},

    {v1::ROLLOUT_PAUSED, RolloutEvent::kResume, v1::ROLLOUT_RUNNING},
    {v1::ROLLOUT_PAUSED, RolloutEvent::kAbort, v1::ROLLOUT_ABORTED},
    {v1::ROLLOUT_PAUSED, RolloutEvent::kRollback, v1::ROLLOUT_ROLLING_BACK},

    {v1::ROLLOUT_HALTED, RolloutEvent::kAbort, v1::ROLLOUT_ABORTED},
    {v1::ROLLOUT_HALTED, RolloutEvent::kRollback, v1::ROLLOUT_ROLLING_BACK},

    {v1::ROLLOUT_ROLLING_BACK, RolloutEvent::kRollbackDone, v1::ROLLOUT_ROLLED_BACK},
    {v1::ROLLOUT_ROLLING_BACK, RolloutEvent::kRollbackFailed, v1::ROLLOUT_ROLLBACK_FAILED},

    {v1::ROLLOUT_ROLLBACK_FAILED, RolloutEvent::kRollback, v1::ROLLOUT_ROLLING_BACK},
    {v1::ROLLOUT_ROLLBACK_FAILED, RolloutEvent::kAbort, v1::ROLLOUT_ABORTED},

    {v1::ROLLOUT_SUCCEEDED, RolloutEvent::kRollback, v1::ROLLOUT_ROLLING_BACK},
    {v1::ROLLOUT_ABORTED, RolloutEvent::kRollback, v1::ROLLOUT_ROLLING_BACK},
};

struct TenantRule {
  RolloutTenantState from;
  TenantEvent event;
  RolloutTenantState to;
};

constexpr TenantRule kTenantRules[] = {
    {v1::TENANT_PENDING, TenantEvent::kStart, v1::TENANT_RUNNING},
    // A tenant left running by a killed controller is started again: its
    // agent answers "nothing to do" when it already reached the target.
    {v1::TENANT_RUNNING, TenantEvent::kStart, v1::TENANT_RUNNING},
    {v1::TENANT_RUNNING, TenantEvent::kSucceed, v1::TENANT_SUCCEEDED},
    {v1::TENANT_RUNNING, TenantEvent::kFail, v1::TENANT_FAILED},
    {v1::TENANT_SUCCEEDED, TenantEvent::kBakeFail, v1::TENANT_FAILED},
    {v1::TENANT_RUNNING, TenantEvent::kMarkRollback, v1::TENANT_ROLLING_BACK},
    {v1::TENANT_SUCCEEDED, TenantEvent::kMarkRollback, v1::TENANT_ROLLING_BACK},
    {v1::TENANT_FAILED, TenantEvent::kMarkRollback, v1::TENANT_ROLLING_BACK},
    {v1::TENANT_ROLLBACK_FAILED, TenantEvent::kMarkRollback, v1::TENANT_ROLLING_BACK},
    {v1::TENANT_ROLLING_BACK, TenantEvent::kRolledBack, v1::TENANT_ROLLED_BACK},
    {v1::TENANT_ROLLING_BACK, TenantEvent::kRollbackFail, v1::TENANT_ROLLBACK_FAILED},
};

}  // namespace

const char* EventName(RolloutEvent e) {
  switch (e) {
    case RolloutEvent::kPause: return "pause";
    case RolloutEvent::kResume: return "resume";
    case RolloutEvent::kAbort: return "abort";
    case RolloutEvent::kRollback: return "rollback";
    case RolloutEvent::kStart: return "start";
    case RolloutEvent::kBakeStarted: return "bake started";
    case RolloutEvent::kWaveDone: return "wave done";
    case RolloutEvent::kGateReached: return "gate reached";
    case RolloutEvent::kLastWaveDone: return "last wave done";
    case RolloutEvent::kWaveFailedHalt: return "wave failed (halt)";
    case RolloutEvent::kWaveFailedRollback: return "wave failed (roll back)";
    case RolloutEvent::kRollbackDone: return "rollback done";
    case RolloutEvent::kRollbackFailed: return "rollback failed";
  }
  return "?";
}

const char* EventName(TenantEvent e) {
  switch (e) {
    case TenantEvent::kStart: return "start";
    case TenantEvent::kSucceed: return "succeed";
    case TenantEvent::kFail: return "fail";
    case TenantEvent::kBakeFail: return "fail its bake";
    case TenantEvent::kMarkRollback: return "mark for rollback";
    case TenantEvent::kRolledBack: return "rolled back";
    case TenantEvent::kRollbackFail: return "rollback failed";
  }
  return "?";
}

absl::StatusOr<RolloutState> NextState(RolloutState from, RolloutEvent event) {
  std::vector<const char*> allowed;
  for (const RolloutRule& r : kRolloutRules) {
    if (r.event != event) continue;
    if (r.from == from) return r.to;
    allowed.push_back(StateName(r.from));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("is ", StateName(from), "; ", EventName(event), " applies to ",
                   allowed.empty() ? std::string("no rollout")
                                   : absl::StrCat("a ", absl::StrJoin(allowed, ", "), " rollout")));
}

absl::StatusOr<RolloutTenantState> NextState(RolloutTenantState from, TenantEvent event) {
  for (const TenantRule& r : kTenantRules) {
    if (r.event == event && r.from == from) return r.to;
  }
  return absl::FailedPreconditionError(absl::StrCat("a ", StateName(from), " tenant cannot ",
                                                    EventName(event)));
}

std::vector<RolloutTenantState> StatesAccepting(TenantEvent event) {
  std::vector<RolloutTenantState> out;
  for (const TenantRule& r : kTenantRules) {
    if (r.event == event) out.push_back(r.from);
  }
  return out;
}

}  // namespace fleet::controller
