// The controller's read-only HTTP endpoints, registered on any httplib
// server (the daemon's, or a test's):
//   /healthz  200 "ok: fleet-controller VERSION" while the inventory can be
//             read, else 503
//   /readyz   200 "ready" when it also leads its inventory (always, for
//             SQLite); 503 "standby, leader ADDRESS" on a standby
//   /metrics  Prometheus text: the counters Metrics keeps (no script read)
//             and fleet_build_info{version="..."} 1
#ifndef FLEET_CONTROLLER_HTTP_ENDPOINTS_H_
#define FLEET_CONTROLLER_HTTP_ENDPOINTS_H_

#include <httplib.h>

#include <functional>
#include <string>

#include "controller/inventory.h"
#include "controller/metrics.h"

namespace fleet::controller {

// Both borrowed; they must outlive `server`. `role` ("leader, epoch 3"),
// when set, follows the version in /healthz.
void AddHealthAndMetrics(httplib::Server& server, Inventory& inventory, Metrics& metrics,
                         std::function<std::string()> role = nullptr);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_HTTP_ENDPOINTS_H_
