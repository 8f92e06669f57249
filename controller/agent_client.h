// AgentClient: how the controller talks to agents. An interface so tests
// can stand in a dead, slow or forgetful agent (tests/testing/
// fake_agent_client.h); the gRPC implementation sets a deadline on every
// call and reuses one channel per address. Any of them can follow
// bundles (FollowBundles): an agent that lost its bundle cache is sent the
// bundle again instead of failing the call.
//
// Threads: every implementation is safe to call from any thread.
#ifndef FLEET_CONTROLLER_AGENT_CLIENT_H_
#define FLEET_CONTROLLER_AGENT_CLIENT_H_

#include <grpcpp/security/credentials.h>

#include <map>
#include <memory>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/inventory.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "proto/transport.h"

namespace fleet::controller {

// An agent's answer to "which tenants do you serve".
struct AgentListing {
  std::string instance_id;     // changes when the agent restarts
  std::string version;         // the agent's build
  bool bundle_missing = false;  // the bundle asked about is not cached there
  std::vector<TenantRecord> tenants;
};

// The error of a call that named a bundle its agent has not cached:
// NOT_FOUND, marked so that IsBundleMissing() tells it from an unknown
// tenant. The gRPC client makes it from the agent's trailing metadata.
absl::Status BundleMissingError(const std::string& address, const std::string& digest);
bool IsBundleMissing(const absl::Status& status);

// The calls are public and non-virtual; implementations override the
// private Do* hooks. That way following bundles (FollowBundles) is done
// once, here, for every implementation.
class AgentClient {
 public:
  virtual ~AgentClient() = default;

  // From now on a call that fails because its agent has not cached the
  // bundle it names (IsBundleMissing: the agent restarted with an empty
  // cache, or dropped a damaged entry) is answered by sending that bundle,
  // read from `inventory`, and calling once more. Migrate, Verify,
  // DiffTenant and GetTenant alike; ListTenants reports bundle_missing
  // instead. `inventory` is borrowed and must outlive this; call before
  // the client is shared between threads.
  void FollowBundles(Inventory& inventory) { bundles_ = &inventory; }

  // The agent's tenants; drift computed against `bundle_digest` when set
  // (and cached there: see AgentListing::bundle_missing).
  [[nodiscard]] absl::StatusOr<AgentListing> ListTenants(const std::string& address,
                                                         const std::string& bundle_digest) {
    return DoListTenants(address, bundle_digest);
  }
  [[nodiscard]] absl::Status PutBundle(const std::string& address, const BundleRecord& bundle) {
    return DoPutBundle(address, bundle);
  }
  // One tenant as its agent reads it now.
  [[nodiscard]] absl::StatusOr<TenantRecord> GetTenant(const std::string& address,
                                                       const std::string& tenant_id,
                                                       const std::string& bundle_digest) {
    return WithBundle(address, bundle_digest,
                      [&] { return DoGetTenant(address, tenant_id, bundle_digest); });
  }
  // A batched revision's progress, as its agent streams it (after each
  // batch; `final` on the revision's last event).
  struct MigrateProgress {
    std::string revision;
    int64_t rows = 0;
    int64_t batches = 0;
    bool resumed = false;  // the counts include a stopped run's
    double rows_per_second = 0;
    bool final = false;
  };
  struct MigrateCall {
    std::string tenant_id;
    std::string target;
    bool upgrade = true;
    std::string bundle_digest;  // the agent must have it (PutBundle)
    std::string rollout_id;
    std::string actor;
    absl::Duration deadline = absl::Minutes(10);
    // Called from the calling thread for each progress event; may be empty.
    std::function<void(const MigrateProgress&)> on_progress;
  };
  // Runs a migration to the end; returns the heads the agent read back from
  // the tenant after its last commit (MigrateEvent.heads).
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Migrate(const std::string& address,
                                                                 const MigrateCall& call) {
    return WithBundle(address, call.bundle_digest, [&] { return DoMigrate(address, call); });
  }
  // Checks a tenant against a bundle and runs its verify queries again;
  // returns the failures (empty: all good).
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Verify(
      const std::string& address, const std::string& tenant_id, const std::string& bundle_digest) {
    return WithBundle(address, bundle_digest,
                      [&] { return DoVerify(address, tenant_id, bundle_digest); });
  }
  // A tenant's real schema against what its revisions build (see the
  // agent's DiffTenant).
  [[nodiscard]] absl::StatusOr<fleet::v1::DiffTenantResponse> DiffTenant(
      const std::string& address, const std::string& tenant_id, const std::string& bundle_digest,
      const std::string& against) {
    return WithBundle(address, bundle_digest,
                      [&] { return DoDiffTenant(address, tenant_id, bundle_digest, against); });
  }
  // The size and estimated rows of a tenant's `tables`.
  [[nodiscard]] absl::StatusOr<fleet::v1::TableSizesResponse> TableSizes(
      const std::string& address, const std::string& tenant_id,
      const std::vector<std::string>& tables) {
    return DoTableSizes(address, tenant_id, tables);
  }
  // Rehearses a tenant's upgrade to `target` in a transaction its agent
  // always rolls back (the agent's Rehearse).
  [[nodiscard]] absl::StatusOr<fleet::v1::Rehearsal> Rehearse(const std::string& address,
                                                             const std::string& tenant_id,
                                                             const std::string& bundle_digest,
                                                             const std::string& target) {
    return WithBundle(address, bundle_digest,
                      [&] { return DoRehearse(address, tenant_id, bundle_digest, target); });
  }

 private:
  virtual absl::StatusOr<AgentListing> DoListTenants(const std::string& address,
                                                     const std::string& bundle_digest) = 0;
  virtual absl::Status DoPutBundle(const std::string& address, const BundleRecord& bundle) = 0;
  virtual absl::StatusOr<TenantRecord> DoGetTenant(const std::string& address,
                                                   const std::string& tenant_id,
                                                   const std::string& bundle_digest) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoMigrate(const std::string& address,
                                                             const MigrateCall& call) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoVerify(const std::string& address,
                                                            const std::string& tenant_id,
                                                            const std::string& bundle_digest) = 0;
  virtual absl::StatusOr<fleet::v1::DiffTenantResponse> DoDiffTenant(
      const std::string& address, const std::string& tenant_id, const std::string& bundle_digest,
      const std::string& against) = 0;
  virtual absl::StatusOr<fleet::v1::Rehearsal> DoRehearse(const std::string& address,
                                                          const std::string& tenant_id,
                                                          const std::string& bundle_digest,
                                                          const std::string& target) = 0;
  virtual absl::StatusOr<fleet::v1::TableSizesResponse> DoTableSizes(
      const std::string& address, const std::string& tenant_id,
      const std::vector<std::string>& tables) = 0;

  // `call()`, and once more after sending bundle `digest` when it failed
  // for want of it (see FollowBundles).
  template <typename F>
  auto WithBundle(const std::string& address, const std::string& digest, F call)
      -> decltype(call()) {
    auto result = call();
    if (bundles_ == nullptr || digest.empty() || !IsBundleMissing(result.status())) return result;
    if (absl::Status s = Resend(address, digest); !s.ok()) return s;
    return call();
  }
  // Sends bundle `digest` to `address`; the error says why it could not.
  absl::Status Resend(const std::string& address, const std::string& digest);

  Inventory* bundles_ = nullptr;
};

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
  void SetTls(proto::TlsMaterial tls) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<AgentListing> DoListTenants(const std::string& address,
                                             const std::string& bundle_digest) override;
  absl::Status DoPutBundle(const std::string& address, const BundleRecord& bundle) override;
  absl::StatusOr<TenantRecord> DoGetTenant(const std::string& address,
                                           const std::string& tenant_id,
                                           const std::string& bundle_digest) override;
  absl::StatusOr<std::vector<std::string>> DoMigrate(const std::string& address,
                                                     const MigrateCall& call) override;
  absl::StatusOr<fleet::v1::DiffTenantResponse> DoDiffTenant(const std::string& address,
                                                            const std::string& tenant_id,
                                                            const std::string& bundle_digest,
                                                            const std::string& against) override;
  absl::StatusOr<std::vector<std::string>> DoVerify(const std::string& address,
                                                    const std::string& tenant_id,
                                                    const std::string& bundle_digest) override;
  absl::StatusOr<fleet::v1::Rehearsal> DoRehearse(const std::string& address,
                                                  const std::string& tenant_id,
                                                  const std::string& bundle_digest,
                                                  const std::string& target) override;
  absl::StatusOr<fleet::v1::TableSizesResponse> DoTableSizes(
      const std::string& address, const std::string& tenant_id,
      const std::vector<std::string>& tables) override;

  absl::StatusOr<std::shared_ptr<fleet::v1::AgentService::Stub>> StubFor(const std::string& address)
      ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration deadline_;
  absl::Mutex mu_;
  std::optional<proto::TlsMaterial> tls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<fleet::v1::AgentService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_AGENT_CLIENT_H_
