// Fills a controller inventory with N tenants behind N/1000 agents at mixed
// revisions of examples/support-desk, for bench/status_bench.sh.
//   inventory_fill DB N VERSIONS_DIR
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/inventory.h"
#include "migrations/bundle.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: inventory_fill DB N VERSIONS_DIR\n");
    return 2;
  }
  int n = std::stoi(argv[2]);
  auto inv = fleet::controller::OpenSqliteInventory(argv[1]);
  auto files = fleet::migrations::ReadBundleFiles(fleet::migrations::DefaultFileSystem(), argv[3]);
  if (!inv.ok() || !files.ok()) {
    std::fprintf(stderr, "inventory_fill: cannot open the inventory or read the scripts\n");
    return 1;
  }
  fleet::controller::BundleRecord bundle;
  bundle.digest = fleet::migrations::BundleDigest(*files);
  bundle.files = *files;
  auto graph = fleet::migrations::BundleGraph(bundle.digest, bundle.files);
  for (auto h : (*graph)->heads()) bundle.heads.push_back((*graph)->id(h));
  bundle.revisions = (*graph)->size();
  (void)(*inv)->PutBundle(bundle);
  const std::vector<std::vector<std::string>> positions = {
      {"9c0d1e2f3041"}, {"9c0d1e2f3041"}, {"9c0d1e2f3041"}, {"6f708192a3b4", "8b9c0d1e2f30"},
      {"4d5e6f708192"}, {}, {"8b9c0d1e2f30"}};
  int per_agent = 1000;
  for (int a = 0; a * per_agent < n; ++a) {
    std::string address = absl::StrCat("10.0.", a / 250, ".", a % 250 + 1, ":7070");
    fleet::controller::AgentRecord agent;
    agent.address = address;
    (void)(*inv)->AddAgent(agent);
    std::vector<fleet::controller::TenantRecord> tenants;
    for (int i = a * per_agent; i < std::min(n, (a + 1) * per_agent); ++i) {
      fleet::controller::TenantRecord t;
      t.id = absl::StrFormat("tenant-%06d", i);
      t.labels = {{"tier", i % 10 == 0 ? "gold" : "standard"}};
      t.heads = positions[i % positions.size()];
      tenants.push_back(std::move(t));
    }
    if (!(*inv)->ReplaceAgentTenants(address, tenants).ok()) return 1;
  }
  return 0;
}
