// Rollout and rollout-tenant states by name: the strings at the edges (JSON,
// tables, the SQLite inventory) for the enums of fleet/v1/controller.proto.
// A name is the enum value's name without its prefix, in lower case:
// ROLLOUT_ROLLING_BACK is "rolling_back", TENANT_FAILED is "failed".
// Header-only; pure functions; thread-safe.
#ifndef FLEET_PROTO_STATES_H_
#define FLEET_PROTO_STATES_H_

#include <optional>
#include <string_view>

#include "fleet/v1/controller.pb.h"

namespace fleet::proto {

using fleet::v1::RolloutState;
using fleet::v1::RolloutTenantState;

// Every real state, in the order of the enum (UNSPECIFIED left out).
inline constexpr RolloutState kRolloutStates[] = {
    fleet::v1::ROLLOUT_PENDING,      fleet::v1::ROLLOUT_RUNNING,
    fleet::v1::ROLLOUT_PAUSED,       fleet::v1::ROLLOUT_SUCCEEDED,
    fleet::v1::ROLLOUT_HALTED,       fleet::v1::ROLLOUT_ROLLING_BACK,
    fleet::v1::ROLLOUT_ROLLED_BACK,  fleet::v1::ROLLOUT_ROLLBACK_FAILED,
    fleet::v1::ROLLOUT_ABORTED};
inline constexpr RolloutTenantState kRolloutTenantStates[] = {
    fleet::v1::TENANT_PENDING,     fleet::v1::TENANT_RUNNING,
    fleet::v1::TENANT_SUCCEEDED,   fleet::v1::TENANT_FAILED,
    fleet::v1::TENANT_ROLLING_BACK, fleet::v1::TENANT_ROLLED_BACK,
    fleet::v1::TENANT_ROLLBACK_FAILED};

constexpr const char* StateName(RolloutState s) {
  switch (s) {
    case fleet::v1::ROLLOUT_PENDING: return "pending";
    case fleet::v1::ROLLOUT_RUNNING: return "running";
    case fleet::v1::ROLLOUT_PAUSED: return "paused";
    case fleet::v1::ROLLOUT_SUCCEEDED: return "succeeded";
    case fleet::v1::ROLLOUT_HALTED: return "halted";
    case fleet::v1::ROLLOUT_ROLLING_BACK: return "rolling_back";
    case fleet::v1::ROLLOUT_ROLLED_BACK: return "rolled_back";
    case fleet::v1::ROLLOUT_ROLLBACK_FAILED: return "rollback_failed";
    case fleet::v1::ROLLOUT_ABORTED: return "aborted";
    default: return "unknown";
  }
}

constexpr const char* StateName(RolloutTenantState s) {
  switch (s) {
    case fleet::v1::TENANT_PENDING: return "pending";
    case fleet::v1::TENANT_RUNNING: return "running";
    case fleet::v1::TENANT_SUCCEEDED: return "succeeded";
    case fleet::v1::TENANT_FAILED: return "failed";
    case fleet::v1::TENANT_ROLLING_BACK: return "rolling_back";
    case fleet::v1::TENANT_ROLLED_BACK: return "rolled_back";
    case fleet::v1::TENANT_ROLLBACK_FAILED: return "rollback_failed";
    default: return "unknown";
  }
}

// nullopt for a name that is no state.
inline std::optional<RolloutState> RolloutStateFromName(std::string_view name) {
  for (RolloutState s : kRolloutStates) {
    if (std::string_view(StateName(s)) == name) return s;
  }
  return std::nullopt;
}

inline std::optional<RolloutTenantState> RolloutTenantStateFromName(std::string_view name) {
  for (RolloutTenantState s : kRolloutTenantStates) {
    if (std::string_view(StateName(s)) == name) return s;
  }
  return std::nullopt;
}

// A rollout in one of these holds its tenants: no second rollout may take
// them, and its driver (or a person) still has work to do.
constexpr bool IsActive(RolloutState s) {
  return s == fleet::v1::ROLLOUT_PENDING || s == fleet::v1::ROLLOUT_RUNNING ||
         s == fleet::v1::ROLLOUT_PAUSED || s == fleet::v1::ROLLOUT_HALTED ||
         s == fleet::v1::ROLLOUT_ROLLING_BACK || s == fleet::v1::ROLLOUT_ROLLBACK_FAILED;
}

// A rollout in one of these has a driver working on it.
constexpr bool IsDriven(RolloutState s) {
  return s == fleet::v1::ROLLOUT_PENDING || s == fleet::v1::ROLLOUT_RUNNING ||
         s == fleet::v1::ROLLOUT_ROLLING_BACK;
}

// Nothing more will happen to a rollout in one of these.
constexpr bool IsTerminal(RolloutState s) {
  return s == fleet::v1::ROLLOUT_SUCCEEDED || s == fleet::v1::ROLLOUT_ROLLED_BACK ||
         s == fleet::v1::ROLLOUT_ABORTED;
}

}  // namespace fleet::proto

#endif  // FLEET_PROTO_STATES_H_
