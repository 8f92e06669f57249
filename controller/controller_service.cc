#include "controller/controller_service.h"

#include "absl/strings/str_cat.h"
#include "migrations/bundle.h"
#include "proto/convert.h"
#include "proto/validate.h"

namespace fleet::controller {
namespace {

using proto::ToGrpc;

void ToProto(const AgentRecord& a, int tenants, fleet::v1::Agent* out) {
  out->set_address(a.address);
  out->set_state(a.state);
  out->set_last_seen(a.last_seen);
  out->set_tenants(tenants);
  out->set_missed_polls(a.missed_polls);
  out->set_last_error(a.last_error);
}

void ToProto(const TenantRecord& t, fleet::v1::Tenant* out) {
  out->set_id(t.id);
  out->set_agent(t.agent);
  for (const auto& [k, v] : t.labels) (*out->mutable_labels())[k] = v;
  for (const auto& h : t.heads) out->add_heads(h);
  out->set_dirty(t.dirty);
  out->set_dirty_revision(t.dirty_revision);
  for (const auto& d : t.drifted) out->add_drifted_revisions(d);
  out->set_reachable(t.reachable);
  out->set_last_seen(t.last_seen);
  out->set_error(t.error);
}

void ToProto(const BundleRecord& b, fleet::v1::BundleInfo* out) {
  out->set_digest(b.digest);
  out->set_pushed_at(b.pushed_at);
  for (const auto& h : b.heads) out->add_heads(h);
  out->set_revisions(b.revisions);
}

absl::Status CheckSelector(const fleet::v1::Selector& s) {
  if (s.match_labels_size() > 64 || s.ids_size() > 100000) {
    return absl::InvalidArgumentError("selector is too large");
  }
  for (const auto& [k, v] : s.match_labels()) {
    if (absl::Status st = proto::ValidateLabel(k, v); !st.ok()) return st;
  }
  for (const auto& id : s.ids()) {
    if (absl::Status st = proto::ValidateTenantId(id); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status ControllerServiceImpl::AddAgent(grpc::ServerContext*,
                                             const fleet::v1::AddAgentRequest* req,
                                             fleet::v1::AddAgentResponse* resp) {
  if (absl::Status s = proto::ValidateAddress(req->address()); !s.ok()) return ToGrpc(s);
  // Ask the agent first: an agent that does not answer is not enrolled.
  auto tenants = agents_.ListTenants(req->address(), "");
  if (!tenants.ok()) {
    return ToGrpc(absl::UnavailableError(absl::StrCat(
        "cannot enrol ", req->address(), ": ", tenants.status().message())));
  }
  AgentRecord agent{req->address(), "up", "", 0, ""};
  if (absl::Status s = inventory_.AddAgent(agent); !s.ok()) return ToGrpc(s);
  if (absl::Status s = inventory_.ReplaceAgentTenants(req->address(), *tenants); !s.ok()) {
    (void)inventory_.RemoveAgent(req->address());  // nothing half-enrolled
    return ToGrpc(s);
  }
  (void)poller_.PollAgent(req->address());  // sends the newest bundle, records last_seen
  ToProto(agent, static_cast<int>(tenants->size()), resp->mutable_agent());
  for (const auto& t : *tenants) resp->add_tenant_ids(t.id);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListAgents(grpc::ServerContext*,
                                               const fleet::v1::ListAgentsRequest*,
                                               fleet::v1::ListAgentsResponse* resp) {
  auto agents = inventory_.ListAgents();
  if (!agents.ok()) return ToGrpc(agents.status());
  auto tenants = inventory_.ListTenants();
  if (!tenants.ok()) return ToGrpc(tenants.status());
  for (const AgentRecord& a : *agents) {
    int n = 0;
    for (const auto& t : *tenants) n += t.agent == a.address;
    ToProto(a, n, resp->add_agents());
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RemoveAgent(grpc::ServerContext*,
                                                const fleet::v1::RemoveAgentRequest* req,
                                                fleet::v1::RemoveAgentResponse* resp) {
  if (absl::Status s = proto::ValidateAddress(req->address()); !s.ok()) return ToGrpc(s);
  auto removed = inventory_.RemoveAgent(req->address());
  if (!removed.ok()) return ToGrpc(removed.status());
  resp->set_tenants_removed(*removed);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListTenants(grpc::ServerContext*,
                                                const fleet::v1::ListFleetTenantsRequest* req,
                                                fleet::v1::ListFleetTenantsResponse* resp) {
  if (absl::Status s = CheckSelector(req->selector()); !s.ok()) return ToGrpc(s);
  auto tenants = inventory_.ListTenants();
  if (!tenants.ok()) return ToGrpc(tenants.status());
  std::map<std::string, std::string> labels(req->selector().match_labels().begin(),
                                            req->selector().match_labels().end());
  std::vector<std::string> ids(req->selector().ids().begin(), req->selector().ids().end());
  for (const auto& t : *tenants) {
    if (Selects(t, labels, ids)) ToProto(t, resp->add_tenants());
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::LabelTenant(grpc::ServerContext*,
                                                const fleet::v1::LabelTenantRequest* req,
                                                fleet::v1::LabelTenantResponse* resp) {
  if (absl::Status s = proto::ValidateTenantId(req->tenant_id()); !s.ok()) return ToGrpc(s);
  if (req->set_size() + req->remove_size() == 0) {
    return ToGrpc(absl::InvalidArgumentError("give labels to set (k=v) or remove (k-)"));
  }
  for (const auto& [k, v] : req->set()) {
    if (absl::Status s = proto::ValidateLabel(k, v); !s.ok()) return ToGrpc(s);
  }
  for (const auto& k : req->remove()) {
    if (absl::Status s = proto::ValidateLabel(k, ""); !s.ok()) return ToGrpc(s);
  }
  auto tenant = inventory_.GetTenant(req->tenant_id());
  if (!tenant.ok()) return ToGrpc(tenant.status());
  std::map<std::string, std::string> labels = tenant->labels;
  for (const auto& [k, v] : req->set()) labels[k] = v;
  for (const auto& k : req->remove()) labels.erase(k);
  if (absl::Status s = inventory_.SetTenantLabels(req->tenant_id(), labels); !s.ok()) {
    return ToGrpc(s);
  }
  auto updated = inventory_.GetTenant(req->tenant_id());
  if (!updated.ok()) return ToGrpc(updated.status());
  ToProto(*updated, resp->mutable_tenant());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RemoveTenant(grpc::ServerContext*,
                                                 const fleet::v1::RemoveTenantRequest* req,
                                                 fleet::v1::RemoveTenantResponse*) {
  if (absl::Status s = proto::ValidateTenantId(req->tenant_id()); !s.ok()) return ToGrpc(s);
  return ToGrpc(inventory_.RemoveTenant(req->tenant_id()));
}

grpc::Status ControllerServiceImpl::PushBundle(grpc::ServerContext*,
                                               const fleet::v1::PushBundleRequest* req,
                                               fleet::v1::PushBundleResponse* resp) {
  std::vector<migrations::BundleFile> files = proto::FilesFromProto(req->bundle());
  const std::string& digest = req->bundle().digest();
  if (digest.size() != 64) {
    return ToGrpc(absl::InvalidArgumentError("bundle digest must be 64 lowercase hex digits"));
  }
  if (absl::Status s = migrations::CheckBundle(digest, files); !s.ok()) return ToGrpc(s);
  auto graph = migrations::BundleGraph(digest, files);
  if (!graph.ok()) return ToGrpc(absl::InvalidArgumentError(graph.status().message()));
  BundleRecord record;
  record.digest = digest;
  for (auto h : (*graph)->heads()) record.heads.push_back((*graph)->id(h));
  record.revisions = (*graph)->size();
  record.files = std::move(files);
  if (absl::Status s = inventory_.PutBundle(record); !s.ok()) return ToGrpc(s);
  auto stored = inventory_.GetBundle(digest);
  if (!stored.ok()) return ToGrpc(stored.status());
  ToProto(*stored, resp->mutable_bundle());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListBundles(grpc::ServerContext*,
                                                const fleet::v1::ListBundlesRequest*,
                                                fleet::v1::ListBundlesResponse* resp) {
  auto bundles = inventory_.ListBundles();
  if (!bundles.ok()) return ToGrpc(bundles.status());
  for (const auto& b : *bundles) ToProto(b, resp->add_bundles());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetBundle(grpc::ServerContext*,
                                              const fleet::v1::GetBundleRequest* req,
                                              fleet::v1::GetBundleResponse* resp) {
  const std::string& d = req->digest();
  if (d.size() < 8 || d.size() > 64 ||
      !std::all_of(d.begin(), d.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return ToGrpc(absl::InvalidArgumentError("give 8 to 64 hex digits of a bundle digest"));
  }
  auto b = inventory_.GetBundle(d);
  if (!b.ok()) return ToGrpc(b.status());
  ToProto(*b, resp->mutable_info());
  *resp->mutable_bundle() = proto::BundleToProto(b->digest, b->files);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Status(grpc::ServerContext*,
                                           const fleet::v1::StatusRequest* req,
                                           fleet::v1::StatusResponse* resp) {
  if (absl::Status s = CheckSelector(req->selector()); !s.ok()) return ToGrpc(s);
  if (req->refresh()) poller_.PollAll();
  std::map<std::string, std::string> labels(req->selector().match_labels().begin(),
                                            req->selector().match_labels().end());
  std::vector<std::string> ids(req->selector().ids().begin(), req->selector().ids().end());
  auto view = ComputeFleetView(inventory_, graphs_, labels, ids);
  if (!view.ok()) return ToGrpc(view.status());
  resp->set_head_bundle(view->head_digest);
  for (const auto& h : view->heads) resp->add_heads(h);
  for (const auto& row : view->rows) {
    auto* out = resp->add_tenants();
    ToProto(row.tenant, out->mutable_tenant());
    out->set_state(row.state);
    out->set_behind(row.behind);
  }
  for (const auto& [state, n] : view->counts) (*resp->mutable_counts())[state] = n;
  resp->set_summary(SummaryLine(view->rows, view->heads));
  return grpc::Status::OK;
}

}  // namespace fleet::controller
