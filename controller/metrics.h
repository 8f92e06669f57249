// Metrics the controller exports at /metrics (Prometheus text format):
// counters kept here, so a scrape reads no script and computes no view.
// Tenants by state are recorded after every poll (SetFleet); agents and
// bundles are counted from the inventory's small tables at scrape time.
// Thread-safe.
#ifndef FLEET_CONTROLLER_METRICS_H_
#define FLEET_CONTROLLER_METRICS_H_

#include <array>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"

namespace fleet::controller {

class Metrics {
 public:
  void ObservePoll(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  // Batches of batched revisions that ran, and the rows they changed.
  void CountBatches(int64_t batches, int64_t rows) ABSL_LOCKS_EXCLUDED(mu_);
  // The fleet as the last poll left it.
  void SetFleet(const FleetView& view) ABSL_LOCKS_EXCLUDED(mu_);
  // The whole exposition: tenants by state, agents up, inventory size, poll
  // durations.
  std::string Render(const std::vector<AgentRecord>& agents, size_t bundles)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr std::array<double, 9> kBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  absl::Mutex mu_;
  std::array<uint64_t, kBuckets.size()> counts_ ABSL_GUARDED_BY(mu_) = {};
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> tenant_counts_ ABSL_GUARDED_BY(mu_);  // by state
  size_t tenants_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t batch_rows_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_METRICS_H_
