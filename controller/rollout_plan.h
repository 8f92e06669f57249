// Rollout planning: from a spec, the inventory's tenants and the pinned
// bundle's graph, the waves each tenant runs in and the steps it will run.
// Pure functions; thread-safe.
#ifndef FLEET_CONTROLLER_ROLLOUT_PLAN_H_
#define FLEET_CONTROLLER_ROLLOUT_PLAN_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/inventory.h"
#include "fleet/v1/controller.pb.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

// The spec with every default filled in and every field checked.
// INVALID_ARGUMENT naming the field.
[[nodiscard]] absl::StatusOr<fleet::v1::RolloutSpec> NormalizeSpec(fleet::v1::RolloutSpec spec);

struct PlannedTenantInfo {
  TenantRecord tenant;
  std::vector<std::string> steps;      // revisions, in order
  std::vector<std::string> end_heads;  // where it will be
  fleet::v1::Rehearsal rehearsal;      // outcome empty: not rehearsed (see preflight.h)
  // Lock-heavy lint findings of its steps with the table's size on it
  // (preflight.h), or why the sizes could not be read.
  std::vector<fleet::v1::TableFinding> table_findings;
  std::string table_sizes_error;
};

struct RolloutPlanResult {
  std::vector<std::vector<PlannedTenantInfo>> waves;  // waves[0] is the canary
  std::vector<PlannedTenantInfo> skipped;             // already at the target
};

// Plans `spec` (normalized) over `tenants` with `graph`. Refuses, naming
// them, tenants that are dirty, drifted, unreachable, at a revision the
// bundle lacks, or in another active rollout (`busy`), and revisions without
// a downgrade when the on-failure policy would roll back.
[[nodiscard]] absl::StatusOr<RolloutPlanResult> PlanRollout(
    const fleet::v1::RolloutSpec& spec, const std::vector<TenantRecord>& tenants,
    const migrations::RevisionGraph& graph, const std::set<std::string>& busy);

// The failures a wave of `wave_size` tenants tolerates.
int AllowedFailures(const fleet::v1::RolloutSpec& spec, int wave_size);

// Whether the rollout pauses after wave `wave` (0: the canary).
bool PausesAfter(const fleet::v1::RolloutSpec& spec, int wave, int waves);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_ROLLOUT_PLAN_H_
