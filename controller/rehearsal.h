// Rehearsing a planned rollout: each tenant's upgrade run by its agent in a
// transaction that is always rolled back (the agent's Rehearse), before
// anything moves. Thread-safe: nothing is shared between calls.
#ifndef FLEET_CONTROLLER_REHEARSAL_H_
#define FLEET_CONTROLLER_REHEARSAL_H_

#include <string>
#include <vector>

#include "controller/agent_client.h"
#include "controller/rollout_plan.h"

namespace fleet::controller {

// Rehearses every tenant of `plan`'s waves to `target` with bundle
// `digest`, kRehearsalCalls calls at once across the fleet (each agent
// bounds its own share by its max_concurrent_migrations), and fills in
// their `rehearsal`. A call that fails (agent unreachable, tenant dirty)
// is outcome "error" with the call's message: not rehearsed is not ok.
inline constexpr int kRehearsalCalls = 16;
void RehearsePlan(AgentClient& agents, const std::string& digest, const std::string& target,
                  RolloutPlanResult& plan);

// One line per tenant whose rehearsal is not "ok", in wave order:
// "t-07: failed at revision R (file:line): message".
std::vector<std::string> RehearsalFailures(const RolloutPlanResult& plan);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_REHEARSAL_H_
