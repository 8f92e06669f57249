// What fleet-agent and fleet-controller share as long-running processes:
// the signals they wait for, a read-only HTTP endpoint on its own thread,
// and the port file tests and scripts read.
#ifndef FLEET_PROTO_SERVING_H_
#define FLEET_PROTO_SERVING_H_

#include <signal.h>

#include <initializer_list>
#include <string>
#include <thread>

#include <httplib.h>

#include "absl/status/statusor.h"

namespace fleet::proto {

// Blocks `signals` in this thread (and the threads it starts afterwards) so
// that sigwait() on the returned set receives them.
sigset_t BlockSignals(std::initializer_list<int> signals);

// An httplib server on its own thread. Register handlers on server(), then
// Start(); the destructor stops it.
class HttpEndpoint {
 public:
  HttpEndpoint() = default;
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;
  ~HttpEndpoint();

  httplib::Server& server() { return server_; }

  // Binds `address` (host:port; port 0 picks one) and serves; returns the
  // port. The error names the address.
  absl::StatusOr<int> Start(const std::string& address);

 private:
  httplib::Server server_;
  std::thread thread_;
};

// Writes `contents` to `path` whole (through a temporary file and rename).
void WritePortFile(const std::string& path, const std::string& contents);

// Sends spdlog's default logger to stderr, one line per event:
//   2026-12-02T18:06:16.123Z info fleet-controller rollout=r-1 tenant=t-01 event=...
// in UTC. Events carry ids (rollout, tenant, agent address), never a
// connection string or a secret. Call once, at the start of main.
void InitLogging(const std::string& program);

}  // namespace fleet::proto

#endif  // FLEET_PROTO_SERVING_H_
