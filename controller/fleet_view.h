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
#include "migrations/lru_cache.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

// BundleGraphs: the parsed graph of each bundle, by digest. A graph is read
// from the inventory the first time it is asked for (once, however many
// ask at that moment) and kept in a cache bounded by the bytes of the
// scripts it holds, so status, plans and the runner never read scripts
// again for a bundle they already parsed.
class BundleGraphs {
 public:
  // `inventory` is borrowed and must outlive this.
  explicit BundleGraphs(Inventory& inventory, size_t budget_bytes = size_t{256} << 20)
      : inventory_(inventory), cache_(budget_bytes) {}

  // The graph of bundle `digest` (all 64 digits).
  absl::StatusOr<std::shared_ptr<const migrations::RevisionGraph>> Get(const std::string& digest);
  // The graph of `bundle`, whose files are at hand (a push): parsed from
  // them and cached, without reading the inventory.
  absl::StatusOr<std::shared_ptr<const migrations::RevisionGraph>> Get(const BundleRecord& bundle);
  size_t cached_bytes() { return cache_.bytes(); }

 private:
  static absl::StatusOr<migrations::LruCache<migrations::RevisionGraph>::Loaded> Parse(
      const BundleRecord& bundle);

  Inventory& inventory_;
  migrations::LruCache<migrations::RevisionGraph> cache_;
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
