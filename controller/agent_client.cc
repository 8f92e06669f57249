#include "controller/agent_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "proto/convert.h"

namespace fleet::controller {

fleet::v1::AgentService::Stub& GrpcAgentClient::StubFor(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(256 << 20);
    // A restarted agent must be reachable at the next poll, not after gRPC's
    // default reconnect backoff (up to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub = fleet::v1::AgentService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return *stub;
}

absl::StatusOr<std::vector<TenantRecord>> GrpcAgentClient::ListTenants(
    const std::string& address, const std::string& bundle_digest) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  fleet::v1::ListTenantsRequest req;
  req.set_bundle_digest(bundle_digest);
  fleet::v1::ListTenantsResponse resp;
  grpc::Status s = StubFor(address).ListTenants(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("agent ", address, ": ", s.error_message()));
  }
  std::vector<TenantRecord> out;
  for (const auto& t : resp.tenants()) {
    TenantRecord r;
    r.id = t.id();
    r.agent = address;
    r.labels = std::map<std::string, std::string>(t.labels().begin(), t.labels().end());
    r.heads.assign(t.heads().begin(), t.heads().end());
    r.dirty = t.dirty();
    r.dirty_revision = t.dirty_revision();
    r.drifted.assign(t.drifted_revisions().begin(), t.drifted_revisions().end());
    r.error = t.error();
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status GrpcAgentClient::PutBundle(const std::string& address, const BundleRecord& bundle) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  fleet::v1::PutBundleRequest req;
  *req.mutable_bundle() = proto::BundleToProto(bundle.digest, bundle.files);
  fleet::v1::PutBundleResponse resp;
  grpc::Status s = StubFor(address).PutBundle(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("agent ", address, ": ", s.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace fleet::controller
