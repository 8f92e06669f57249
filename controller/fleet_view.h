// FleetView: the status of every selected tenant against the newest bundle,
// as `fleetctl status` and /metrics show it. BundleGraphs caches the graph
// of each bundle (bundles are immutable, keyed by digest).
//
// Threads: BundleGraphs is thread-safe; ComputeFleetView may run on many
// threads at once.
#ifndef FLEET_CONTROLLER_FLEET_VIEW_H_
#define FLEET_CONTROLLER_FLEET_VIEW_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/inventory.h"
#include "controller/status.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

class BundleGraphs {
 public:
  // The graph of `bundle` (whose files must be loaded).
  absl::StatusOr<std::shared_ptr<const migrations::RevisionGraph>> Get(const BundleRecord& bundle);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const migrations::RevisionGraph>> graphs_;  // GUARDED_BY(mu_)
};

struct FleetView {
  std::string head_digest;         // empty when no bundle was pushed
  std::vector<std::string> heads;  // the newest bundle's heads
  std::vector<TenantStatus> rows;  // sorted by id
  std::map<std::string, int> counts;
};

[[nodiscard]] absl::StatusOr<FleetView> ComputeFleetView(
    Inventory& inventory, BundleGraphs& graphs, const std::map<std::string, std::string>& selector,
    const std::vector<std::string>& ids);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_FLEET_VIEW_H_
