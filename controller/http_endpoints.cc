#include "controller/http_endpoints.h"

namespace fleet::controller {

void AddHealthAndMetrics(httplib::Server& server, Inventory& inventory, Metrics& metrics) {
  server.Get("/healthz", [&inventory](const httplib::Request&, httplib::Response& res) {
    bool ok = inventory.ListAgents().ok();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "inventory unreadable\n", "text/plain");
  });
  server.Get("/metrics", [&inventory, &metrics](const httplib::Request&, httplib::Response& res) {
    auto agents = inventory.ListAgents();
    auto bundles = inventory.ListBundles();
    if (!agents.ok() || !bundles.ok()) {
      res.status = 500;
      return;
    }
    res.set_content(metrics.Render(*agents, bundles->size()), "text/plain; version=0.0.4");
  });
}

}  // namespace fleet::controller
