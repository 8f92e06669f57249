// Fleet status: each tenant's state and distance from head, computed from
// the inventory and the bundles. Pure functions; thread-safe.
#ifndef FLEET_CONTROLLER_STATUS_H_
#define FLEET_CONTROLLER_STATUS_H_

#include <map>
#include <string>
#include <vector>

#include "controller/inventory.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

// The states `fleetctl status` shows, in the order the summary lists them.
inline const std::vector<std::string>& AllStates() {
  static const auto* const kStates = new std::vector<std::string>{
      "current", "lagging", "ahead", "unknown-revision", "dirty",
      "drift",   "unreachable", "migrating", "no-bundle"};
  return *kStates;
}

struct TenantStatus {
  TenantRecord tenant;
  std::string state;
  int behind = -1;  // revisions to apply to reach head; -1: unknown
};

// `head` is the newest bundle's graph (null when no bundle was pushed);
// `others` the older bundles' graphs, used to tell "ahead" from "unknown".
TenantStatus ComputeTenantStatus(const TenantRecord& tenant,
                                 const migrations::RevisionGraph* head,
                                 const std::vector<const migrations::RevisionGraph*>& others);

// "212 tenants · 180 at head 3f2a9c1b · 27 lagging · 3 unreachable · 2 dirty"
std::string SummaryLine(const std::vector<TenantStatus>& rows,
                        const std::vector<std::string>& heads);

// True when every label in `selector` is set on the tenant with that value
// and, when `ids` is not empty, the tenant is one of them.
bool Selects(const TenantRecord& t, const std::map<std::string, std::string>& selector,
             const std::vector<std::string>& ids);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_STATUS_H_
