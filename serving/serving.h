// What fleet-agent and fleet-controller share as long-running processes:
// the gRPC server set-up, the signals they wait for, a read-only HTTP
// endpoint on its own thread, the port file tests and scripts read, and
// their logging.
#ifndef FLEET_SERVING_SERVING_H_
#define FLEET_SERVING_SERVING_H_

#include <signal.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include <httplib.h>

#include "absl/status/statusor.h"

namespace fleet::serving {

// A started gRPC server and the port it bound.
struct GrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts a gRPC server on `address` (port 0 picks one) with
// `credentials`, gRPC's health service and reflection, and `services`
// (borrowed; they must outlive the server). Requests over
// `max_receive_bytes` are refused. UNAVAILABLE naming the address when it
// cannot listen.
[[nodiscard]] absl::StatusOr<GrpcServer> StartGrpcServer(
    const std::string& address, std::shared_ptr<grpc::ServerCredentials> credentials,
    const std::vector<grpc::Service*>& services, int max_receive_bytes, int max_send_bytes);

// For a process that holds secrets (database credentials, TLS keys, token
// hashes): no core file and no ptrace by other users (PR_SET_DUMPABLE 0),
// and a peer closing a socket is an error to handle, not a SIGPIPE that
// kills the process. Call first thing in main.
void ProtectProcess();

// Waits for SIGINT or SIGTERM (then returns), calling `on_hangup` for each
// SIGHUP meanwhile. `signals` is what BlockSignals returned for the three.
void WaitForStop(const sigset_t& signals, const std::function<void()>& on_hangup);

// Blocks `signals` in this thread (and the threads it starts afterwards) so
// that sigwait() on the returned set receives them.
sigset_t BlockSignals(std::initializer_list<int> signals);

// An httplib server on its own thread. Register handlers on server(), then
// Start(); the destructor stops it.
class HttpEndpoint {
 public:
  // Plain HTTP.
  HttpEndpoint() : server_(std::make_unique<httplib::Server>()) {}
  // HTTPS with the certificate and key in these PEM files (read once, now).
  HttpEndpoint(const std::string& cert_path, const std::string& key_path)
      : server_(std::make_unique<httplib::SSLServer>(cert_path.c_str(), key_path.c_str())),
        tls_(true) {}
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;
  ~HttpEndpoint();

  httplib::Server& server() { return *server_; }
  bool tls() const { return tls_; }

  // Binds `address` (host:port; port 0 picks one) and serves; returns the
  // port. The error names the address (or the certificate that would not
  // load).
  absl::StatusOr<int> Start(const std::string& address);

 private:
  std::unique_ptr<httplib::Server> server_;
  bool tls_ = false;
  std::thread thread_;
};

// Writes `contents` to `path` whole (through a temporary file and rename).
void WritePortFile(const std::string& path, const std::string& contents);

// Sends spdlog's default logger to stderr, one line per event:
//   2026-12-02T18:06:16.123Z info fleet-controller rollout=r-1 tenant=t-01 event=...
// in UTC. Events carry ids (rollout, tenant, agent address), never a
// connection string or a secret. Call once, at the start of main.
void InitLogging(const std::string& program);

}  // namespace fleet::serving

#endif  // FLEET_SERVING_SERVING_H_
