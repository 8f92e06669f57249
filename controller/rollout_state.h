// The rollout state machine: which event may move a rollout (or one tenant
// of a rollout) from which state to which. The only place that decides it:
// the ControllerService (operator actions) and the RolloutRunner (what its
// waves report) both ask here, and then write the answer to the inventory
// as a compare-and-set against the state they read, so two writers never
// overwrite each other.
//
// Pure functions; thread-safe.
#ifndef FLEET_CONTROLLER_ROLLOUT_STATE_H_
#define FLEET_CONTROLLER_ROLLOUT_STATE_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fleet/v1/controller.pb.h"
#include "proto/states.h"

namespace fleet::controller {

using fleet::v1::RolloutState;
using fleet::v1::RolloutTenantState;

enum class RolloutEvent {
  // Operators (fleetctl rollout pause|resume|abort|rollback).
  kPause,
  kResume,
  kAbort,
  kRollback,
  // The runner.
  kStart,             // its driver picked up a pending rollout
  kBakeStarted,       // a wave passed; its bake's end time is recorded
  kWaveDone,          // a wave (and its bake) passed; the next one follows
  kGateReached,       // a wave passed and --pause-after holds the next one
  kLastWaveDone,      // every wave passed
  kWaveFailedHalt,    // a wave failed; --on-failure halt
  kWaveFailedRollback,// a wave failed; --on-failure rollback-wave/-all
  kRollbackDone,      // every marked tenant is back at its starting heads
  kRollbackFailed,    // some could not be moved back
};

enum class TenantEvent {
  kStart,          // its migration starts (again, after a restart)
  kSucceed,        // read back at its target
  kFail,           // its migration failed
  kBakeFail,       // after the bake, it no longer checks out
  kMarkRollback,   // it will be moved back
  kRolledBack,     // it is back at its starting heads
  kRollbackFail,   // it could not be moved back
};

const char* EventName(RolloutEvent e);
const char* EventName(TenantEvent e);

// The state `event` moves a rollout in `from` to. FAILED_PRECONDITION when
// it does not apply, with a message that reads on from "rollout ID ": "is
// succeeded; pause applies to a pending, running rollout".
[[nodiscard]] absl::StatusOr<RolloutState> NextState(RolloutState from, RolloutEvent event);
[[nodiscard]] absl::StatusOr<RolloutTenantState> NextState(RolloutTenantState from,
                                                           TenantEvent event);

// The states from which `event` applies (what NextState accepts), for the
// compare-and-set writes that move many tenants at once.
std::vector<RolloutTenantState> StatesAccepting(TenantEvent event);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_ROLLOUT_STATE_H_
