#include "controller/agent_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "migrations/status_macros.h"
#include "proto/convert.h"
#include "proto/transport.h"

namespace fleet::controller {
namespace {

constexpr char kBundleMissingPayload[] = "type.fleet.dev/fleet.v1.BundleMissing";
// The trailing metadata an agent sets on a call naming a bundle it lacks.
constexpr char kBundleMissingTrailer[] = "fleet-bundle-missing";

}  // namespace

absl::Status BundleMissingError(const std::string& address, const std::string& digest) {
  absl::Status s = absl::NotFoundError(absl::StrCat(
      "agent ", address, ": bundle ", digest.substr(0, 12), " is not cached there"));
  s.SetPayload(kBundleMissingPayload, absl::Cord(digest));
  return s;
}

bool IsBundleMissing(const absl::Status& status) {
  return status.GetPayload(kBundleMissingPayload).has_value();
}

absl::StatusOr<std::shared_ptr<fleet::v1::AgentService::Stub>> GrpcAgentClient::StubFor(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    proto::ChannelOptions options;
    options.program = "fleet-controller";
    options.target = address;
    options.plaintext = !tls_;
    options.tls = tls_;
    options.max_receive_bytes = 64 << 20;  // a listing of thousands of tenants
    options.max_send_bytes = 256 << 20;    // a bundle
    options.fast_reconnect = true;         // a restarted agent is reachable at the next poll
    auto channel = proto::ChannelFor(options);
    if (!channel.ok()) {
      stubs_.erase(address);
      if (absl::IsFailedPrecondition(channel.status())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "agent ", address, ": plaintext to agents is allowed only on loopback; start the "
            "controller with --agent-tls-cert, --agent-tls-key and --agent-tls-ca"));
      }
      return channel.status();
    }
    stub = fleet::v1::AgentService::NewStub(*std::move(channel));
  }
  return stub;
}

void GrpcAgentClient::SetTls(proto::TlsMaterial tls) {
  absl::MutexLock lock(&mu_);
  tls_ = std::move(tls);
  stubs_.clear();  // calls in flight keep their stubs; new ones connect afresh
}

namespace {

TenantRecord FromProto(const std::string& address, const fleet::v1::TenantState& t) {
  TenantRecord r;
  r.id = t.id();
  r.agent = address;
  r.labels = std::map<std::string, std::string>(t.labels().begin(), t.labels().end());
  r.heads.assign(t.heads().begin(), t.heads().end());
  r.dirty = t.dirty();
  r.dirty_revision = t.dirty_revision();
  r.drifted.assign(t.drifted_revisions().begin(), t.drifted_revisions().end());
  r.error = t.error();
  return r;
}

// A failed call's status, naming the agent; marked IsBundleMissing when the
// agent said so in its trailing metadata.
absl::Status FromAgent(const std::string& address, const grpc::ClientContext& ctx,
                       const grpc::Status& s) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  if (auto it = trailers.find(kBundleMissingTrailer);
      it != trailers.end() && s.error_code() == grpc::StatusCode::NOT_FOUND) {
    return BundleMissingError(address, std::string(it->second.data(), it->second.size()));
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("agent ", address, ": ", s.error_message()));
}

using Stub = fleet::v1::AgentService::Stub;

// One unary call to `stub` under `deadline`; errors name the agent.
template <typename Request, typename Response>
absl::StatusOr<Response> Unary(Stub& stub, const std::string& address, absl::Duration deadline,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                               const Request& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  Response resp;
  grpc::Status s = (stub.*method)(&ctx, req, &resp);
  if (!s.ok()) return FromAgent(address, ctx, s);
  return resp;
}

}  // namespace

absl::StatusOr<TenantRecord> GrpcAgentClient::DoGetTenant(const std::string& address,
                                                        const std::string& tenant_id,
                                                        const std::string& bundle_digest) {
  fleet::v1::GetTenantRequest req;
  req.set_tenant_id(tenant_id);
  req.set_bundle_digest(bundle_digest);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  ASSIGN_OR_RETURN(auto resp, Unary(*stub, address, deadline_, &Stub::GetTenant, req));
  return FromProto(address, resp);
}

absl::StatusOr<std::vector<std::string>> GrpcAgentClient::DoVerify(
    const std::string& address, const std::string& tenant_id, const std::string& bundle_digest) {
  fleet::v1::VerifyRequest req;
  req.set_tenant_id(tenant_id);
  req.set_bundle_digest(bundle_digest);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  ASSIGN_OR_RETURN(auto resp, Unary(*stub, address, deadline_, &Stub::Verify, req));
  return std::vector<std::string>(resp.failures().begin(), resp.failures().end());
}

absl::StatusOr<fleet::v1::DiffTenantResponse> GrpcAgentClient::DoDiffTenant(
    const std::string& address, const std::string& tenant_id, const std::string& bundle_digest,
    const std::string& against) {
  fleet::v1::DiffTenantRequest req;
  req.set_tenant_id(tenant_id);
  req.set_bundle_digest(bundle_digest);
  req.set_against(against);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  // Building the expected schema runs every upgrade script: more than a read.
  return Unary(*stub, address, std::max(deadline_, absl::Seconds(60)), &Stub::DiffTenant, req);
}

absl::StatusOr<fleet::v1::Rehearsal> GrpcAgentClient::DoRehearse(const std::string& address,
                                                                 const std::string& tenant_id,
                                                                 const std::string& bundle_digest,
                                                                 const std::string& target) {
  fleet::v1::RehearseRequest req;
  req.set_tenant_id(tenant_id);
  req.set_bundle_digest(bundle_digest);
  req.set_target(target);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  // It runs the upgrade's statements, as long as a migration would take,
  // and may wait for the agent's bound on migrations at once.
  return Unary(*stub, address, std::max(deadline_, absl::Minutes(10)), &Stub::Rehearse, req);
}

absl::StatusOr<fleet::v1::TableSizesResponse> GrpcAgentClient::DoTableSizes(
    const std::string& address, const std::string& tenant_id,
    const std::vector<std::string>& tables) {
  fleet::v1::TableSizesRequest req;
  req.set_tenant_id(tenant_id);
  for (const auto& t : tables) req.add_tables(t);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  return Unary(*stub, address, deadline_, &Stub::TableSizes, req);
}

absl::StatusOr<std::vector<std::string>> GrpcAgentClient::DoMigrate(const std::string& address,
                                                                  const MigrateCall& call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + call.deadline));
  fleet::v1::MigrateRequest req;
  req.set_tenant_id(call.tenant_id);
  req.set_target(call.target);
  req.set_direction(call.upgrade ? fleet::v1::MigrateRequest::UPGRADE
                                 : fleet::v1::MigrateRequest::DOWNGRADE);
  req.set_bundle_digest(call.bundle_digest);
  req.set_rollout_id(call.rollout_id);
  req.set_actor(call.actor);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  auto reader = stub->Migrate(&ctx, req);
  fleet::v1::MigrateEvent ev;
  std::vector<std::string> heads;
  bool ended = false;
  while (reader->Read(&ev)) {
    const bool batched = ev.batches() > 0 || ev.kind() == fleet::v1::MigrateEvent::PROGRESS;
    if (call.on_progress && batched &&
        (ev.kind() == fleet::v1::MigrateEvent::PROGRESS ||
         ev.kind() == fleet::v1::MigrateEvent::SUCCEEDED ||
         ev.kind() == fleet::v1::MigrateEvent::FAILED)) {
      call.on_progress({ev.revision(), ev.rows(), ev.batches(), ev.resumed(),
                        ev.rows_per_second(), ev.kind() != fleet::v1::MigrateEvent::PROGRESS});
    }
    if (ev.kind() == fleet::v1::MigrateEvent::DONE ||
        ev.kind() == fleet::v1::MigrateEvent::NOTHING_TO_DO) {
      heads.assign(ev.heads().begin(), ev.heads().end());
      ended = true;
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromAgent(address, ctx, s);
  if (!ended) {
    return absl::InternalError(absl::StrCat("agent ", address, " ended the migration of ",
                                            call.tenant_id,
                                            " without saying where the tenant is"));
  }
  return heads;
}

absl::StatusOr<AgentListing> GrpcAgentClient::DoListTenants(const std::string& address,
                                                          const std::string& bundle_digest) {
  fleet::v1::ListTenantsRequest req;
  req.set_bundle_digest(bundle_digest);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  ASSIGN_OR_RETURN(auto resp, Unary(*stub, address, deadline_, &Stub::ListTenants, req));
  AgentListing out;
  out.instance_id = resp.instance_id();
  out.version = resp.version();
  out.bundle_missing = resp.bundle_missing();
  for (const auto& t : resp.tenants()) out.tenants.push_back(FromProto(address, t));
  return out;
}

absl::Status GrpcAgentClient::DoPutBundle(const std::string& address, const BundleRecord& bundle) {
  fleet::v1::PutBundleRequest req;
  *req.mutable_bundle() = proto::BundleToProto(bundle.digest, bundle.files);
  ASSIGN_OR_RETURN(auto stub, StubFor(address));
  return Unary(*stub, address, deadline_, &Stub::PutBundle, req).status();
}

absl::Status AgentClient::Resend(const std::string& address, const std::string& digest) {
  auto bundle = bundles_->GetBundle(digest);
  absl::Status sent = bundle.ok() ? DoPutBundle(address, *bundle) : bundle.status();
  if (sent.ok()) return sent;
  return absl::Status(sent.code(), absl::StrCat("agent ", address, " lacks bundle ",
                                                digest.substr(0, 12),
                                                " and it could not be sent again: ",
                                                sent.message()));
}

}  // namespace fleet::controller
