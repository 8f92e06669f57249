// AgentClient: how the controller talks to agents. An interface so tests
// can stand in a dead or slow agent; the gRPC implementation sets a deadline
// on every call and reuses one channel per address.
#ifndef FLEET_CONTROLLER_AGENT_CLIENT_H_
#define FLEET_CONTROLLER_AGENT_CLIENT_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/inventory.h"
#include <grpcpp/security/credentials.h>

#include <optional>

#include "fleet/v1/agent.grpc.pb.h"
#include "proto/transport.h"

namespace fleet::controller {

class AgentClient {
 public:
  virtual ~AgentClient() = default;
  // The agent's tenants; drift computed against `bundle_digest` when set.
  [[nodiscard]] virtual absl::StatusOr<std::vector<TenantRecord>> ListTenants(
      const std::string& address, const std::string& bundle_digest) = 0;
  [[nodiscard]] virtual absl::Status PutBundle(const std::string& address,
                                               const BundleRecord& bundle) = 0;
  // One tenant as its agent reads it now.
  [[nodiscard]] virtual absl::StatusOr<TenantRecord> GetTenant(const std::string& address,
                                                               const std::string& tenant_id,
                                                               const std::string& bundle_digest) = 0;
  struct MigrateCall {
    std::string tenant_id;
    std::string target;
    bool upgrade = true;
    std::string bundle_digest;  // the agent must have it (PutBundle)
    std::string rollout_id;
    std::string actor;
    absl::Duration deadline = absl::Minutes(10);
  };
  // Checks a tenant against a bundle and runs its verify queries again;
  // returns the failures (empty: all good).
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> Verify(
      const std::string& address, const std::string& tenant_id,
      const std::string& bundle_digest) = 0;
  // Runs a migration to the end; returns the heads the agent reported.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> Migrate(
      const std::string& address, const MigrateCall& call) = 0;
  // A tenant's real schema against what its revisions build (see the
  // agent's DiffTenant).
  [[nodiscard]] virtual absl::StatusOr<fleet::v1::DiffTenantResponse> DiffTenant(
      const std::string& address, const std::string& tenant_id, const std::string& bundle_digest,
      const std::string& against) = 0;
};

// Thread-safe.
class GrpcAgentClient final : public AgentClient {
 public:
  // Plaintext: only agents on loopback addresses are called (development).
  explicit GrpcAgentClient(absl::Duration deadline) : deadline_(deadline) {}
  // Mutual TLS: the controller's certificate and key, and the fleet CA that
  // signs agents' certificates; an agent must present a certificate naming
  // the host of its enrolled address.
  GrpcAgentClient(absl::Duration deadline, proto::TlsMaterial tls)
      : deadline_(deadline), tls_(std::move(tls)) {}

  // New certificates (SIGHUP): calls that start afterwards connect with them.
  void SetTls(proto::TlsMaterial tls);

  absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& address,
                                                        const std::string& bundle_digest) override;
  absl::Status PutBundle(const std::string& address, const BundleRecord& bundle) override;
  absl::StatusOr<TenantRecord> GetTenant(const std::string& address, const std::string& tenant_id,
                                         const std::string& bundle_digest) override;
  absl::StatusOr<std::vector<std::string>> Migrate(const std::string& address,
                                                   const MigrateCall& call) override;
  absl::StatusOr<fleet::v1::DiffTenantResponse> DiffTenant(const std::string& address,
                                                          const std::string& tenant_id,
                                                          const std::string& bundle_digest,
                                                          const std::string& against) override;
  absl::StatusOr<std::vector<std::string>> Verify(const std::string& address,
                                                  const std::string& tenant_id,
                                                  const std::string& bundle_digest) override;

 private:
  absl::StatusOr<std::shared_ptr<fleet::v1::AgentService::Stub>> StubFor(
      const std::string& address);

  const absl::Duration deadline_;
  std::mutex mu_;
  std::optional<proto::TlsMaterial> tls_;  // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<fleet::v1::AgentService::Stub>> stubs_;  // GUARDED_BY(mu_)
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_AGENT_CLIENT_H_
