// How fleetctl shows a rollout and a rollout plan: the lines of
// `rollout status`, the live view `rollout watch` redraws, their JSON, and
// rehearsals and lint findings of a plan. Pure functions of the messages.
#ifndef FLEET_CLI_ROLLOUT_VIEW_H_
#define FLEET_CLI_ROLLOUT_VIEW_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/command.h"
#include "fleet/v1/common.pb.h"
#include "fleet/v1/controller.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::cli::rollout_view {

// Whether watching can stop: nothing more happens without a person.
bool Terminal(const fleet::v1::Rollout& r);
std::string Name(fleet::v1::RolloutState s);
std::string Name(fleet::v1::RolloutTenantState s);
// "3 succeeded, 1 running, ...".
std::string Counts(const fleet::v1::Rollout& r);
// The rows batched revisions changed across the rollout so far.
int64_t BatchRows(const fleet::v1::Rollout& r);
void PrintRollout(Context& ctx, const fleet::v1::Rollout& r);
nlohmann::json RehearsalJson(const fleet::v1::Rehearsal& r);
// A rehearsal for people, indented under its tenant.
void PrintRehearsal(std::ostream& out, const fleet::v1::Rehearsal& r);
nlohmann::json RolloutJson(const fleet::v1::Rollout& r);
// The live view: one block redrawn in place on a terminal.
std::string LiveView(const fleet::v1::Rollout& r, absl::Duration elapsed);
// The plan's lint findings as fleetctl shows them.
std::vector<LintReport> Reports(const fleet::v1::RolloutPlan& plan);
// Planned tenants whose rehearsal did not come out ok.
int RehearsalsFailed(const fleet::v1::RolloutPlan& plan);

}  // namespace fleet::cli::rollout_view

#endif  // FLEET_CLI_ROLLOUT_VIEW_H_
