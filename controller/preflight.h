// Before a rollout moves anything, on the tenants it would move: the size
// of each table a lock-heavy lint finding touches (a warning on a large
// enough table is an error for that tenant), and, when asked, a rehearsal
// of each tenant's upgrade by its agent in a transaction that is always
// rolled back. Thread-safe: nothing is shared between calls.
#ifndef FLEET_CONTROLLER_PREFLIGHT_H_
#define FLEET_CONTROLLER_PREFLIGHT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "controller/agent_client.h"
#include "controller/rollout_plan.h"
#include "migrations/lint.h"

namespace fleet::controller {

// Calls to agents at once across the fleet; each agent bounds its own
// share (a rehearsal counts against its max_concurrent_migrations).
inline constexpr int kPreflightCalls = 16;
// The default of RolloutSpec.lint_large_bytes.
inline constexpr int64_t kDefaultLintLargeBytes = int64_t{1} << 30;

// Rehearses every tenant of `plan`'s waves to `target` with bundle
// `digest` and fills in their `rehearsal`. A call that fails (agent
// unreachable, tenant dirty) is outcome "error" with the call's message:
// not rehearsed is not ok.
void RehearsePlan(AgentClient& agents, const std::string& digest, const std::string& target,
                  RolloutPlanResult& plan);

// One line per tenant whose rehearsal is not "ok", in wave order:
// "t-07: failed at revision R (file:line): message".
std::vector<std::string> RehearsalFailures(const RolloutPlanResult& plan);

// For each planned tenant, the lock-heavy findings of `lint` (not ignored,
// naming a table) among the revisions it runs, with that table's size
// there as its agent reads it. A finding on a table of `large_bytes` or
// more is severity "error" for that tenant. Tables a tenant does not have
// yet (an earlier step creates them) are left out. A tenant whose agent
// cannot answer gets table_sizes_error.
void SizeLockHeavyFindings(AgentClient& agents, const std::vector<migrations::LintFinding>& lint,
                           int64_t large_bytes, RolloutPlanResult& plan);

// One line per finding raised to an error: "t-3: add-check-without-not-valid
// on table tickets (2.1 GiB, ~18000000 rows) at revision R", and one per
// tenant whose sizes could not be read (unknown is not small).
std::vector<std::string> LargeTableErrors(const RolloutPlanResult& plan);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_PREFLIGHT_H_
