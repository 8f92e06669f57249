// AgentServiceImpl: the gRPC AgentService over the tenants of one
// AgentConfig. Every handler validates its request first (unknown tenant ->
// NOT_FOUND; empty, oversized or malformed fields -> INVALID_ARGUMENT) and
// never lets a connection string or password into a reply.
//
// Threads: gRPC calls handlers from many threads at once. Tenants and config
// are immutable; the bundle cache has its own mutex; at most
// max_concurrent_migrations migrations run at once (others wait).
#ifndef FLEET_AGENT_AGENT_SERVICE_H_
#define FLEET_AGENT_AGENT_SERVICE_H_

#include <map>
#include <memory>
#include <semaphore>
#include <string>

#include "absl/status/statusor.h"
#include "agent/agent_config.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "migrations/autogenerate.h"
#include "migrations/bundle.h"
#include "migrations/connection_pool.h"
#include "migrations/file_system.h"
#include "migrations/lru_cache.h"
#include "migrations/migrator.h"

namespace fleet::agent {

class AgentServiceImpl final : public fleet::v1::AgentService::Service {
 public:
  // `fs` is borrowed; it holds the versions cache.
  AgentServiceImpl(AgentConfig config, migrations::FileSystem& fs);

  grpc::Status ListTenants(grpc::ServerContext* ctx, const fleet::v1::ListTenantsRequest* req,
                           fleet::v1::ListTenantsResponse* resp) override;
  grpc::Status GetTenant(grpc::ServerContext* ctx, const fleet::v1::GetTenantRequest* req,
                         fleet::v1::TenantState* resp) override;
  grpc::Status PutBundle(grpc::ServerContext* ctx, const fleet::v1::PutBundleRequest* req,
                         fleet::v1::PutBundleResponse* resp) override;
  grpc::Status Migrate(grpc::ServerContext* ctx, const fleet::v1::MigrateRequest* req,
                       grpc::ServerWriter<fleet::v1::MigrateEvent>* writer) override;
  grpc::Status Stamp(grpc::ServerContext* ctx, const fleet::v1::StampRequest* req,
                     fleet::v1::StampResponse* resp) override;
  grpc::Status Verify(grpc::ServerContext* ctx, const fleet::v1::VerifyRequest* req,
                      fleet::v1::VerifyResponse* resp) override;
  grpc::Status DiffTenant(grpc::ServerContext* ctx, const fleet::v1::DiffTenantRequest* req,
                          fleet::v1::DiffTenantResponse* resp) override;
  grpc::Status Rehearse(grpc::ServerContext* ctx, const fleet::v1::RehearseRequest* req,
                        fleet::v1::Rehearsal* resp) override;
  grpc::Status TableSizes(grpc::ServerContext* ctx, const fleet::v1::TableSizesRequest* req,
                          fleet::v1::TableSizesResponse* resp) override;

  // The tenants' connections, for tests and diagnostics.
  migrations::ConnectionPoolStats connection_stats() const { return pool_.stats(); }

 private:
  struct LoadedBundle {
    std::string digest;
    std::unique_ptr<const migrations::RevisionGraph> graph;
  };

  absl::StatusOr<const TenantConfig*> FindTenant(const std::string& id) const;
  // With TLS: OK only for a client whose certificate names an allowed client.
  absl::Status CheckPeer(const grpc::ServerContext* ctx) const;
  // Both, as every call about one tenant starts.
  absl::StatusOr<const TenantConfig*> PeerTenant(const grpc::ServerContext* ctx,
                                                 const std::string& id) const;
  // One of max_concurrent_migrations slots, held until the guard goes.
  class Slot {
   public:
    explicit Slot(std::counting_semaphore<256>& s) : s_(s) { s_.acquire(); }
    ~Slot() { s_.release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    std::counting_semaphore<256>& s_;
  };
  // The bundle a request names: stored first when the scripts came with it.
  absl::StatusOr<std::shared_ptr<const LoadedBundle>> ResolveBundle(
      const fleet::v1::Bundle& bundle, const std::string& digest, bool required);
  // The same for a request that can only name a cached bundle.
  absl::StatusOr<std::shared_ptr<const LoadedBundle>> ResolveBundle(const std::string& digest,
                                                                    bool required) {
    return ResolveBundle(fleet::v1::Bundle(), digest, required);
  }
  absl::StatusOr<std::shared_ptr<const LoadedBundle>> StoreBundle(
      std::string digest, std::vector<migrations::BundleFile> files);
  absl::StatusOr<std::shared_ptr<const LoadedBundle>> CachedBundle(const std::string& digest);
  migrations::MigratorOptions OptionsFor(const TenantConfig& t, const std::string& actor,
                                         const std::string& rollout_id) const;
  fleet::v1::TenantState Inspect(const TenantConfig& t, const migrations::RevisionGraph& graph);
  static fleet::v1::TenantState ToState(const TenantConfig& t,
                                        const absl::StatusOr<migrations::DatabaseState>& state);

  const AgentConfig config_;
  migrations::FileSystem& fs_;
  const std::string instance_id_;  // random, per process: tells the controller of a restart
  std::map<std::string, const TenantConfig*> by_id_;
  std::unique_ptr<const migrations::RevisionGraph> empty_graph_;
  std::counting_semaphore<256> migrations_;
  migrations::ExpectedSchemaCache expected_;  // DiffTenant's builds, shared by tenants
  // Parsed bundles kept in memory, at most this many bytes of scripts (the
  // disk cache keeps them all).
  static constexpr size_t kBundleMemoryBytes = size_t{256} << 20;
  migrations::LruCache<LoadedBundle> bundles_{kBundleMemoryBytes};
  // Every tenant connection (polls, plans, migrations, read-backs) is
  // leased from here: a tenant touched again soon costs no new session.
  // The server stops calling handlers before the service is destroyed, so
  // no lease outlives it.
  mutable migrations::ConnectionPool pool_;  // thread-safe: leased from const methods too
};

}  // namespace fleet::agent

#endif  // FLEET_AGENT_AGENT_SERVICE_H_
