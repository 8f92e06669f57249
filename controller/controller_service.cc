#include "controller/controller_service.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "migrations/status_macros.h"
#include "migrations/bundle.h"
#include "proto/convert.h"
#include "proto/states.h"
#include "proto/validate.h"
#include "serving/log.h"

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
  out->set_version(a.version);
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

// The reply to a change that was made but whose audit entry could not be
// written: the change stands, and the caller hears of the lost entry.
grpc::Status AuditFailed(const absl::Status& s, absl::string_view what) {
  spdlog::error("event=audit-not-written action=\"{}\" error=\"{}\"", what, s.message());
  return ToGrpc(absl::Status(
      s.code(), absl::StrCat(what, " done, but its audit entry could not be written: ",
                             s.message())));
}

}  // namespace

grpc::Status ControllerServiceImpl::AllowViewer(const grpc::ServerContext& ctx) const {
  auto who = auth_.Authorize(ctx, Role::kViewer, "reading");
  return who.ok() ? grpc::Status::OK : ToGrpc(who.status());
}

grpc::Status ControllerServiceImpl::AddAgent(grpc::ServerContext* ctx,
                                             const fleet::v1::AddAgentRequest* req,
                                             fleet::v1::AddAgentResponse* resp) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "enrolling an agent");
  if (!actor.ok()) return ToGrpc(actor.status());
  if (absl::Status s = proto::ValidateAddress(req->address()); !s.ok()) return ToGrpc(s);
  // Ask the agent first: an agent that does not answer is not enrolled.
  auto tenants = agents_.ListTenants(req->address(), "");
  if (!tenants.ok()) {
    return ToGrpc(absl::UnavailableError(absl::StrCat(
        "cannot enrol ", req->address(), ": ", tenants.status().message())));
  }
  AgentRecord agent{req->address(), "up", "", 0, "", ""};
  if (absl::Status s = inventory_.AddAgent(agent); !s.ok()) return ToGrpc(s);
  if (absl::Status s = inventory_.ReplaceAgentTenants(req->address(), tenants->tenants); !s.ok()) {
    // Nothing half-enrolled.
    if (auto removed = inventory_.RemoveAgent(req->address()); !removed.ok()) {
      spdlog::error("agent={} event=half-enrolled error=\"{}\"", req->address(),
                    removed.status().message());
      return ToGrpc(absl::Status(
          s.code(), absl::StrCat(s.message(), "; and removing the half-enrolled agent failed: ",
                                 removed.status().message())));
    }
    return ToGrpc(s);
  }
  spdlog::info("agent={} event=agent-enrolled tenants={}", req->address(),
               tenants->tenants.size());
  // Sends the newest bundle and records last_seen; an agent that fails this
  // is enrolled all the same (it answered above) and shows its error.
  if (absl::Status s = poller_.PollAgent(req->address()); !s.ok()) {
    spdlog::warn("agent={} event=first-poll-failed error=\"{}\"", req->address(), s.message());
  }
  ToProto(agent, static_cast<int>(tenants->tenants.size()), resp->mutable_agent());
  for (const auto& t : tenants->tenants) resp->add_tenant_ids(t.id);
  if (absl::Status s = inventory_.Audit({"", ActorToRecord(*actor, ""), "agent enrolled", "", "",
                                         absl::StrCat(req->address(), " with ",
                                                      tenants->tenants.size(), " tenants")});
      !s.ok()) {
    return AuditFailed(s, "enrolment");
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Leader(grpc::ServerContext* ctx, const fleet::v1::LeaderRequest*,
                                           fleet::v1::LeaderResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  if (leadership_) {
    *resp = leadership_();
  } else {
    resp->set_leading(true);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListAgents(grpc::ServerContext* ctx,
    const fleet::v1::ListAgentsRequest* req, fleet::v1::ListAgentsResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadListAgents(req, resp);
}

grpc::Status ControllerServiceImpl::ReadListAgents(const fleet::v1::ListAgentsRequest*,
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

grpc::Status ControllerServiceImpl::RemoveAgent(grpc::ServerContext* ctx,
                                                const fleet::v1::RemoveAgentRequest* req,
                                                fleet::v1::RemoveAgentResponse* resp) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "removing an agent");
  if (!actor.ok()) return ToGrpc(actor.status());
  if (absl::Status s = proto::ValidateAddress(req->address()); !s.ok()) return ToGrpc(s);
  auto removed = inventory_.RemoveAgent(req->address());
  if (!removed.ok()) return ToGrpc(removed.status());
  spdlog::info("agent={} event=agent-removed tenants={}", req->address(), *removed);
  resp->set_tenants_removed(*removed);
  if (absl::Status s = inventory_.Audit({"", ActorToRecord(*actor, ""), "agent removed", "", "",
                                         absl::StrCat(req->address(), " with ", *removed,
                                                      " tenants")});
      !s.ok()) {
    return AuditFailed(s, "removal");
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListTenants(grpc::ServerContext* ctx,
    const fleet::v1::ListFleetTenantsRequest* req, fleet::v1::ListFleetTenantsResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadListTenants(req, resp);
}

grpc::Status ControllerServiceImpl::ReadListTenants(const fleet::v1::ListFleetTenantsRequest* req,
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

grpc::Status ControllerServiceImpl::LabelTenant(grpc::ServerContext* ctx,
                                                const fleet::v1::LabelTenantRequest* req,
                                                fleet::v1::LabelTenantResponse* resp) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "labelling a tenant");
  if (!actor.ok()) return ToGrpc(actor.status());
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
  if (absl::Status s =
          inventory_.Audit({"", ActorToRecord(*actor, ""), "tenant labelled", "", req->tenant_id(), ""});
      !s.ok()) {
    return AuditFailed(s, "labelling");
  }
  auto updated = inventory_.GetTenant(req->tenant_id());
  if (!updated.ok()) return ToGrpc(updated.status());
  ToProto(*updated, resp->mutable_tenant());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RemoveTenant(grpc::ServerContext* ctx,
                                                 const fleet::v1::RemoveTenantRequest* req,
                                                 fleet::v1::RemoveTenantResponse*) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "removing a tenant");
  if (!actor.ok()) return ToGrpc(actor.status());
  if (absl::Status s = proto::ValidateTenantId(req->tenant_id()); !s.ok()) return ToGrpc(s);
  if (absl::Status s = inventory_.RemoveTenant(req->tenant_id()); !s.ok()) return ToGrpc(s);
  if (absl::Status s =
          inventory_.Audit({"", ActorToRecord(*actor, ""), "tenant removed", "", req->tenant_id(), ""});
      !s.ok()) {
    return AuditFailed(s, "removal");
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::TenantHistory(grpc::ServerContext* ctx,
    const fleet::v1::TenantHistoryRequest* req, fleet::v1::TenantHistoryResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadTenantHistory(req, resp);
}

grpc::Status ControllerServiceImpl::ReadTenantHistory(const fleet::v1::TenantHistoryRequest* req,
    fleet::v1::TenantHistoryResponse* resp) {
  if (absl::Status s = proto::ValidateTenantId(req->tenant_id()); !s.ok()) return ToGrpc(s);
  auto entries = inventory_.TenantAudit(req->tenant_id());
  if (!entries.ok()) return ToGrpc(entries.status());
  if (entries->empty() && !inventory_.GetTenant(req->tenant_id()).ok()) {
    return ToGrpc(absl::NotFoundError(absl::StrCat("no tenant '", req->tenant_id(), "'")));
  }
  for (const auto& e : *entries) {
    auto* o = resp->add_entries();
    o->set_at(e.at);
    o->set_actor(e.actor);
    o->set_action(e.action);
    o->set_rollout_id(e.rollout_id);
    o->set_detail(e.detail);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::PushBundle(
    grpc::ServerContext* ctx, grpc::ServerReader<fleet::v1::PushBundleRequest>* reader,
    fleet::v1::PushBundleResponse* resp) {
  // Checked before a byte of the bundle is read: an unauthenticated push
  // costs the controller nothing.
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "pushing a bundle");
  if (!actor.ok()) return ToGrpc(actor.status());
  std::vector<migrations::BundleFile> files;
  std::string digest;
  size_t bytes = 0;
  fleet::v1::PushBundleRequest piece;
  for (bool first = true; reader->Read(&piece); first = false) {
    if (first) digest = piece.bundle().digest();
    if (piece.bundle().digest() != digest) {
      return ToGrpc(absl::InvalidArgumentError("every piece of a pushed bundle names one digest"));
    }
    for (const auto& f : piece.bundle().files()) bytes += f.content().size();
    if (files.size() + piece.bundle().files_size() > migrations::kMaxBundleFiles ||
        bytes > migrations::kMaxBundleFiles * migrations::kMaxScriptBytes) {
      return ToGrpc(absl::InvalidArgumentError("the bundle is larger than a bundle may be"));
    }
    for (auto& f : proto::FilesFromProto(piece.bundle())) files.push_back(std::move(f));
  }
  if (digest.size() != 64) {
    return ToGrpc(absl::InvalidArgumentError("bundle digest must be 64 lowercase hex digits"));
  }
  if (absl::Status s = migrations::CheckBundle(digest, files); !s.ok()) return ToGrpc(s);
  BundleRecord record;
  record.digest = digest;
  record.files = std::move(files);
  // Parsed once, here, and cached: status and plans use this graph.
  auto graph = graphs_.Get(record);
  if (!graph.ok()) return ToGrpc(absl::InvalidArgumentError(graph.status().message()));
  for (auto h : (*graph)->heads()) record.heads.push_back((*graph)->id(h));
  record.revisions = (*graph)->size();
  if (absl::Status s = inventory_.PutBundle(record); !s.ok()) return ToGrpc(s);
  spdlog::info("bundle={} event=bundle-pushed revisions={}", digest.substr(0, 12),
               record.revisions);
  auto stored = inventory_.GetBundleInfo(digest);
  if (!stored.ok()) return ToGrpc(stored.status());
  ToProto(*stored, resp->mutable_bundle());
  if (absl::Status s = inventory_.Audit({"", ActorToRecord(*actor, ""), "bundle pushed", "", "",
                                         absl::StrCat(digest, " (", record.revisions,
                                                      " revisions)")});
      !s.ok()) {
    return AuditFailed(s, "the push");
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListBundles(grpc::ServerContext* ctx,
                                                const fleet::v1::ListBundlesRequest*,
                                                fleet::v1::ListBundlesResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  auto bundles = inventory_.ListBundles();
  if (!bundles.ok()) return ToGrpc(bundles.status());
  for (const auto& b : *bundles) ToProto(b, resp->add_bundles());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetBundle(grpc::ServerContext* ctx,
                                              const fleet::v1::GetBundleRequest* req,
                                              fleet::v1::GetBundleResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
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

grpc::Status ControllerServiceImpl::Status(grpc::ServerContext* ctx,
    const fleet::v1::StatusRequest* req, fleet::v1::StatusResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadStatus(req, resp);
}

grpc::Status ControllerServiceImpl::ReadStatus(const fleet::v1::StatusRequest* req,
    fleet::v1::StatusResponse* resp) {
  if (absl::Status s = CheckSelector(req->selector()); !s.ok()) return ToGrpc(s);
  if (req->refresh()) {
    if (absl::Status s = poller_.PollAll(); !s.ok()) return ToGrpc(s);
  }
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
  for (auto& t : *resp->mutable_tenants()) t.set_schema_differences(-1);
  if (req->schema_drift() && !view->head_digest.empty()) {
    // One DiffTenant per reachable tenant, 16 at once.
    std::atomic<int> next{0}, drifted{0};
    auto worker = [&] {
      for (int i = next++; i < resp->tenants_size(); i = next++) {
        auto* t = resp->mutable_tenants(i);
        if (!t->tenant().reachable()) continue;
        auto d = agents_.DiffTenant(t->tenant().agent(), t->tenant().id(), view->head_digest, "");
        if (!d.ok()) {
          t->set_schema_error(std::string(d.status().message()));
          continue;
        }
        t->set_schema_differences(d->differences_size());
        if (d->differences_size() > 0) ++drifted;
      }
    };
    std::vector<std::thread> workers;
    for (int w = 0; w < std::min(16, resp->tenants_size()); ++w) workers.emplace_back(worker);
    for (auto& w : workers) w.join();
    resp->set_summary(absl::StrCat(resp->summary(), " · ", drifted.load(), " schema-drift"));
    (*resp->mutable_counts())["schema-drift"] = drifted.load();
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::TenantDiff(grpc::ServerContext* ctx,
                                               const fleet::v1::TenantDiffRequest* req,
                                               fleet::v1::TenantDiffResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadTenantDiff(req, resp);
}

grpc::Status ControllerServiceImpl::ReadTenantDiff(const fleet::v1::TenantDiffRequest* req,
                                                   fleet::v1::TenantDiffResponse* resp) {
  if (absl::Status s = proto::ValidateTenantId(req->tenant_id()); !s.ok()) return ToGrpc(s);
  if (req->against().size() > 256) {
    return ToGrpc(absl::InvalidArgumentError("against is longer than 256 bytes"));
  }
  auto tenant = inventory_.GetTenant(req->tenant_id());
  if (!tenant.ok()) return ToGrpc(tenant.status());
  auto bundles = inventory_.ListBundles();
  if (!bundles.ok()) return ToGrpc(bundles.status());
  if (bundles->empty()) {
    return ToGrpc(absl::FailedPreconditionError("no bundle pushed yet: fleetctl bundle push DIR"));
  }
  const std::string& digest = bundles->front().digest;
  auto d = agents_.DiffTenant(tenant->agent, tenant->id, digest, req->against());
  if (!d.ok()) return ToGrpc(d.status());
  resp->set_tenant_id(tenant->id);
  resp->set_agent(tenant->agent);
  resp->set_bundle_digest(digest);
  *resp->mutable_compared_heads() = d->compared_heads();
  *resp->mutable_differences() = d->differences();
  *resp->mutable_statements() = d->statements();
  return grpc::Status::OK;
}

}  // namespace fleet::controller
