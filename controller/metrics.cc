#include "controller/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fleet::controller {

void Metrics::ObservePoll(absl::Duration d) {
  double seconds = absl::ToDoubleSeconds(d);
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++counts_[i];
  }
  ++total_;
  sum_ += seconds;
}

void Metrics::CountBatches(int64_t batches, int64_t rows) {
  absl::MutexLock lock(&mu_);
  batches_ += batches;
  batch_rows_ += rows;
}

void Metrics::SetFleet(const FleetView& view) {
  absl::MutexLock lock(&mu_);
  tenant_counts_ = view.counts;
  tenants_ = view.rows.size();
}

std::string Metrics::Render(const std::vector<AgentRecord>& agents, size_t bundles) {
  absl::MutexLock lock(&mu_);
  std::string out;
  absl::StrAppend(&out,
                  "# HELP fleet_tenants Tenants in the inventory by status state.\n"
                  "# TYPE fleet_tenants gauge\n");
  for (const std::string& state : AllStates()) {
    auto it = tenant_counts_.find(state);
    absl::StrAppend(&out, "fleet_tenants{state=\"", state, "\"} ",
                    it == tenant_counts_.end() ? 0 : it->second, "\n");
  }
  int up = 0;
  for (const AgentRecord& a : agents) up += a.state == "up";
  absl::StrAppend(&out,
                  "# HELP fleet_agents_up Enrolled agents that answered their last polls.\n"
                  "# TYPE fleet_agents_up gauge\nfleet_agents_up ", up, "\n",
                  "# HELP fleet_agents Enrolled agents.\n# TYPE fleet_agents gauge\nfleet_agents ",
                  agents.size(), "\n",
                  "# HELP fleet_inventory_tenants Tenants in the inventory.\n"
                  "# TYPE fleet_inventory_tenants gauge\nfleet_inventory_tenants ",
                  tenants_, "\n",
                  "# HELP fleet_inventory_bundles Bundles in the inventory.\n"
                  "# TYPE fleet_inventory_bundles gauge\nfleet_inventory_bundles ", bundles, "\n");
  absl::StrAppend(&out,
                  "# HELP fleet_poll_duration_seconds Time to poll one agent.\n"
                  "# TYPE fleet_poll_duration_seconds histogram\n");
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    absl::StrAppend(&out, "fleet_poll_duration_seconds_bucket{le=\"", kBuckets[i], "\"} ",
                    counts_[i], "\n");
  }
  absl::StrAppend(&out, "fleet_poll_duration_seconds_bucket{le=\"+Inf\"} ", total_, "\n",
                  "fleet_poll_duration_seconds_sum ", absl::StrFormat("%.6f", sum_), "\n",
                  "fleet_poll_duration_seconds_count ", total_, "\n");
  absl::StrAppend(&out,
                  "# HELP fleet_batches_total Batches of batched data migrations run in rollouts.\n"
                  "# TYPE fleet_batches_total counter\n"
                  "fleet_batches_total ", batches_, "\n",
                  "# HELP fleet_batch_rows_total Rows those batches changed.\n"
                  "# TYPE fleet_batch_rows_total counter\n"
                  "fleet_batch_rows_total ", batch_rows_, "\n");
  return out;
}

}  // namespace fleet::controller
