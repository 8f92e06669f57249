// ControllerSecurity: the controller's TLS policy, in one place that tests
// can build in-process. From the flags it makes the API's server
// credentials (TLS with reloadable files, or plaintext on loopback), with
// every call's caller checked on its metadata before its request is read;
// the Authorizer of auth.toml; and the client to agents (mutual TLS, or
// plaintext to loopback agents). Reload() is SIGHUP.
//
// Threads: Reload may run while calls are served; everything it swaps is
// swapped under the parts' own locks.
#ifndef FLEET_CONTROLLER_SECURITY_H_
#define FLEET_CONTROLLER_SECURITY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/auth.h"
#include "proto/transport.h"

namespace fleet::controller {

struct SecurityFlags {
  std::string listen;  // the API's address (plaintext only on loopback)
  std::string api_cert, api_key, api_client_ca;
  std::string auth_path;  // auth.toml; empty: nobody is checked (loopback development)
  std::string agent_cert, agent_key, agent_ca;
  bool insecure = false;
};

class ControllerSecurity {
 public:
  // Checks the flags and reads every file before anything is opened.
  // INVALID_ARGUMENT with the line a usage error prints (exit 2).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ControllerSecurity>> Create(
      const SecurityFlags& flags);

  std::shared_ptr<grpc::ServerCredentials> api_credentials() const { return api_credentials_; }
  Authorizer& authorizer() { return *authorizer_; }
  // A client to agents with `deadline` per call, as the flags say.
  std::unique_ptr<GrpcAgentClient> NewAgentClient(absl::Duration deadline) const;
  // "TLS, callers checked; agents over mutual TLS": for the start-up line.
  std::string Describe() const;

  // Re-reads every certificate, key and CA file and auth.toml; a part whose
  // files do not check out keeps what it had. One line per part, for the
  // log ("API certificate reloaded", "--auth kept: ...").
  std::vector<std::string> Reload(GrpcAgentClient& agents);

 private:
  explicit ControllerSecurity(SecurityFlags flags) : flags_(std::move(flags)) {}
  absl::StatusOr<std::optional<AuthConfig>> ReadAuth() const;

  const SecurityFlags flags_;
  std::shared_ptr<proto::ReloadableServerCredentials> api_tls_;  // null: plaintext
  std::shared_ptr<grpc::ServerCredentials> api_credentials_;
  std::unique_ptr<Authorizer> authorizer_;
  std::optional<proto::TlsMaterial> agent_tls_;  // absent: plaintext to loopback agents
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_SECURITY_H_
