#include "controller/http_endpoints.h"

#include "absl/strings/str_cat.h"
#include "proto/version.h"

namespace fleet::controller {

void AddHealthAndMetrics(httplib::Server& server, Inventory& inventory, Metrics& metrics,
                         std::function<std::string()> role) {
  // Ready: the inventory reads and this controller leads it (a standby is
  // healthy but not ready, so a Service sends calls to the leader).
  server.Get("/readyz", [&inventory, role](const httplib::Request&, httplib::Response& res) {
    const std::string said = role ? role() : std::string();
    const bool standby = said.rfind("standby", 0) == 0;
    const bool ok = !standby && inventory.ListAgents().ok();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ready\n" : standby ? absl::StrCat(said, "\n") : "inventory unreadable\n",
                    "text/plain");
  });
  server.Get("/healthz", [&inventory, role](const httplib::Request&, httplib::Response& res) {
    bool ok = inventory.ListAgents().ok();
    res.status = ok ? 200 : 503;
    const std::string said = role ? role() : std::string();
    res.set_content(ok ? absl::StrCat("ok: fleet-controller ", proto::kVersion,
                                      said.empty() ? "" : absl::StrCat(" ", said), "\n")
                       : "inventory unreadable\n",
                    "text/plain");
  });
  server.Get("/metrics", [&inventory, &metrics](const httplib::Request&, httplib::Response& res) {
    auto agents = inventory.ListAgents();
    auto bundles = inventory.ListBundles();
    if (!agents.ok() || !bundles.ok()) {
      res.status = 500;
      return;
    }
    res.set_content(
        absl::StrCat(metrics.Render(*agents, bundles->size()),
                     "# HELP fleet_build_info The running fleet-controller's version.\n"
                     "# TYPE fleet_build_info gauge\n"
                     "fleet_build_info{version=\"", proto::kVersion, "\"} 1\n"),
        "text/plain; version=0.0.4");
  });
}

}  // namespace fleet::controller
