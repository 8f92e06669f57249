// Metrics the controller exports at /metrics (Prometheus text format):
// counters kept here, so a scrape reads no script and computes no view.
// Tenants by state are recorded after every poll (SetFleet); agents and
// bundles are counted from the inventory's small tables at scrape time.
// Thread-safe.
#ifndef FLEET_CONTROLLER_METRICS_H_
#define FLEET_CONTROLLER_METRICS_H_

#include <array>
#include <map>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"

namespace fleet::controller {

class Metrics {
 public:
  void ObservePoll(absl::Duration d);
  // The fleet as the last poll left it.
  void SetFleet(const FleetView& view);
  // The whole exposition: tenants by state, agents up, inventory size, poll
  // durations.
  std::string Render(const std::vector<AgentRecord>& agents, size_t bundles);

 private:
  static constexpr std::array<double, 9> kBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::mutex mu_;
  std::array<uint64_t, kBuckets.size()> counts_{};  // GUARDED_BY(mu_)
  uint64_t total_ = 0;                              // GUARDED_BY(mu_)
  double sum_ = 0;                                  // GUARDED_BY(mu_)
  std::map<std::string, int> tenant_counts_;        // GUARDED_BY(mu_): by state
  size_t tenants_ = 0;                              // GUARDED_BY(mu_)
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_METRICS_H_
