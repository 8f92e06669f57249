// fleetctl's fleet verbs: they talk to fleet-controller over gRPC
// (--controller ADDR or FLEET_CONTROLLER). Each returns an exit code.
#ifndef FLEET_CLI_FLEET_COMMANDS_H_
#define FLEET_CLI_FLEET_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "migrations/file_system.h"

namespace fleet::cli {

struct FleetOptions {
  std::string controller;  // host:port
  bool insecure = false;   // plaintext (loopback only)
  std::string tls_ca, tls_cert, tls_key, token_file;
  std::string token;  // loaded from token_file or FLEET_TOKEN; secret
  std::string output = "table";
  std::string action;  // add, list, remove, label, push, show
  std::vector<std::string> args;
  std::string selector;  // k=v,k2=v2
  bool lagging = false;
  bool refresh = false;
  bool schema_drift = false;  // status --schema-drift
  std::string against;        // tenants diff --against
  std::string sort = "behind";
  double timeout_seconds = 30;
  // rollout start / plan
  std::string to;
  std::string canary, waves, max_failures, pause_after, on_failure, bundle, file;
  std::string bake = "0";
  std::string tenant_timeout = "10m";
  int parallel = 0;
  bool watch = false;
};

struct FleetContext {
  FleetOptions options;
  std::ostream& out;
  std::ostream& err;
  migrations::FileSystem& fs;
  bool terminal = false;  // `out` is a terminal: live views redraw in place
};

int RunAgentsCommand(FleetContext& ctx);
int RunTenantsCommand(FleetContext& ctx);
int RunBundleCommand(FleetContext& ctx);
int RunStatusCommand(FleetContext& ctx);
int RunRolloutCommand(FleetContext& ctx);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEET_COMMANDS_H_
