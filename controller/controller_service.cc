#include "controller/controller_service.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <random>
#include <thread>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "controller/preflight.h"
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

// The actor to record: the authenticated identity, or (on an insecure
// loopback controller without --auth) what the request claims.
std::string Actor(const std::string& authorized, const std::string& claimed) {
  if (!authorized.empty()) return authorized;
  return claimed.empty() ? "unknown" : claimed.substr(0, 256);
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
  if (absl::Status s = inventory_.Audit({"", Actor(*actor, ""), "agent enrolled", "", "",
                                         absl::StrCat(req->address(), " with ",
                                                      tenants->tenants.size(), " tenants")});
      !s.ok()) {
    return AuditFailed(s, "enrolment");
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
  if (absl::Status s = inventory_.Audit({"", Actor(*actor, ""), "agent removed", "", "",
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
          inventory_.Audit({"", Actor(*actor, ""), "tenant labelled", "", req->tenant_id(), ""});
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
          inventory_.Audit({"", Actor(*actor, ""), "tenant removed", "", req->tenant_id(), ""});
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
  if (absl::Status s = inventory_.Audit({"", Actor(*actor, ""), "bundle pushed", "", "",
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

namespace fleet::controller {
namespace {

void PlannedToProto(const PlannedTenantInfo& p, fleet::v1::PlannedTenant* out) {
  out->set_id(p.tenant.id);
  out->set_agent(p.tenant.agent);
  for (const auto& h : p.tenant.heads) out->add_start_heads(h);
  for (const auto& s : p.steps) out->add_steps(s);
  if (!p.rehearsal.outcome().empty()) *out->mutable_rehearsal() = p.rehearsal;
  for (const auto& f : p.table_findings) *out->add_table_findings() = f;
  out->set_table_sizes_error(p.table_sizes_error);
}

// The rollout itself, without its tenants.
absl::Status RolloutToProto(const RolloutRecord& r, fleet::v1::Rollout* out) {
  out->set_id(r.id);
  out->set_state(r.state);
  auto parsed = google::protobuf::util::JsonStringToMessage(r.spec_json, out->mutable_spec());
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("rollout ", r.id, ": its spec does not parse: ",
                                            parsed.ToString()));
  }
  out->set_wave(r.wave);
  out->set_waves(r.waves);
  out->set_reason(r.reason);
  out->set_created_at(r.created_at);
  out->set_updated_at(r.updated_at);
  return absl::OkStatus();
}

bool ValidRolloutId(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

// "r-20261202-180616-" and 64 random bits: ids nobody can guess or collide.
std::string NewRolloutId() {
  std::random_device rd;
  uint64_t bits = (uint64_t{rd()} << 32) ^ rd();
  return absl::StrCat("r-", absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()),
                      "-", absl::StrFormat("%016x", bits));
}

// FAILED_PRECONDITION naming every lint error a rollout would run, unless
// they are allowed.
absl::Status RefuseLintErrors(const std::vector<migrations::LintFinding>& lint,
                              const RolloutPlanResult& plan, bool allowed) {
  std::vector<std::string> errors;
  for (const auto& f : lint) {
    if (f.ignored || f.severity != migrations::LintSeverity::kError) continue;
    errors.push_back(absl::StrCat(f.rule->id, " at ", f.path, ":", f.line, " (revision ",
                                  f.revision, ")"));
  }
  // Warnings on a table too large on some tenant (--lint-large).
  for (std::string& e : LargeTableErrors(plan)) errors.push_back(std::move(e));
  if (errors.empty() || allowed) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "lint found ", errors.size(), errors.size() == 1 ? " error" : " errors",
      " in the revisions this rollout would run: ", absl::StrJoin(errors, "; "),
      ". Fix them (fleetctl lint shows why and how), or start with --allow-lint-errors"));
}

}  // namespace

absl::StatusOr<ControllerServiceImpl::Planned> ControllerServiceImpl::Plan(
    const fleet::v1::RolloutSpec& request) {
  Planned p;
  ASSIGN_OR_RETURN(p.spec, NormalizeSpec(request));
  // Plan from what the agents say now, not from the last poll.
  RETURN_IF_ERROR(poller_.PollAll());
  RETURN_IF_ERROR(
      [&]() -> absl::Status {
        for (const auto& [k, v] : p.spec.selector().match_labels()) {
          RETURN_IF_ERROR(proto::ValidateLabel(k, v));
        }
        for (const auto& id : p.spec.selector().ids()) RETURN_IF_ERROR(proto::ValidateTenantId(id));
        return absl::OkStatus();
      }());
  // The bundle's description only: its graph comes from the cache.
  if (!p.spec.bundle_digest().empty()) {
    ASSIGN_OR_RETURN(p.bundle, inventory_.GetBundleInfo(p.spec.bundle_digest()));
  } else {
    ASSIGN_OR_RETURN(std::vector<BundleRecord> bundles, inventory_.ListBundles());
    if (bundles.empty()) {
      return absl::FailedPreconditionError(
          "no bundle has been pushed: run 'fleetctl bundle push DIR' first");
    }
    p.bundle = std::move(bundles.front());
  }
  p.spec.set_bundle_digest(p.bundle.digest);  // pinned
  ASSIGN_OR_RETURN(auto graph, graphs_.Get(p.bundle.digest));
  ASSIGN_OR_RETURN(std::vector<TenantRecord> tenants, inventory_.ListTenants());
  std::set<std::string> busy;
  ASSIGN_OR_RETURN(std::vector<RolloutRecord> rollouts, inventory_.ListActiveRollouts());
  for (const auto& r : rollouts) {
    ASSIGN_OR_RETURN(auto members, inventory_.ListRolloutTenants(r.id));
    for (const auto& m : members) busy.insert(m.tenant_id);
  }
  ASSIGN_OR_RETURN(p.plan, controller::PlanRollout(p.spec, tenants, *graph, busy));
  std::set<migrations::RevisionGraph::Index> to_run;
  for (const auto& wave : p.plan.waves) {
    for (const auto& t : wave) {
      for (const std::string& step : t.steps) {
        if (auto r = graph->FindExact(step)) to_run.insert(*r);
      }
    }
  }
  p.lint = migrations::LintRevisions(*graph, {to_run.begin(), to_run.end()});
  if (p.spec.lint_large_bytes() < 0) {
    return absl::InvalidArgumentError("--lint-large takes a size of 0 or more");
  }
  SizeLockHeavyFindings(agents_, p.lint,
                        p.spec.lint_large_bytes() > 0 ? p.spec.lint_large_bytes()
                                                      : kDefaultLintLargeBytes,
                        p.plan);
  if (p.spec.rehearse()) RehearsePlan(agents_, p.bundle.digest, p.spec.target(), p.plan);
  return p;
}

absl::StatusOr<fleet::v1::Rollout> ControllerServiceImpl::Load(const std::string& id) {
  ASSIGN_OR_RETURN(RolloutRecord r, inventory_.GetRollout(id));
  ASSIGN_OR_RETURN(auto tenants, inventory_.ListRolloutTenants(id));
  fleet::v1::Rollout out;
  RETURN_IF_ERROR(RolloutToProto(r, &out));
  out.set_stalled(runner_.Stalled(id));
  for (const auto& t : tenants) {
    auto* o = out.add_tenants();
    o->set_id(t.tenant_id);
    o->set_agent(t.agent);
    o->set_wave(t.wave);
    o->set_state(t.state);
    for (const auto& h : t.start_heads) o->add_start_heads(h);
    for (const auto& h : t.heads) o->add_heads(h);
    o->set_error(t.error);
    o->set_started_at(t.started_at);
    o->set_finished_at(t.finished_at);
    if (!t.rehearsal_json.empty() &&
        !google::protobuf::util::JsonStringToMessage(t.rehearsal_json, o->mutable_rehearsal()).ok()) {
      spdlog::warn("rollout={} tenant={} event=rehearsal-unreadable", id, t.tenant_id);
    }
    (*out.mutable_counts())[std::string(proto::StateName(t.state))] += 1;
  }
  return out;
}

grpc::Status ControllerServiceImpl::PlanRollout(grpc::ServerContext* ctx,
                                                const fleet::v1::RolloutSpec* req,
                                                fleet::v1::RolloutPlan* resp) {
  if (req->rehearse()) {
    // A rehearsal takes real locks on every tenant it runs on.
    auto actor = auth_.Authorize(*ctx, Role::kOperator, "rehearsing a rollout");
    if (!actor.ok()) return ToGrpc(actor.status());
  } else if (grpc::Status s = AllowViewer(*ctx); !s.ok()) {
    return s;
  }
  auto p = Plan(*req);
  if (!p.ok()) return ToGrpc(p.status());
  resp->set_bundle_digest(p->bundle.digest);
  for (const auto& h : p->bundle.heads) resp->add_target_heads(h);
  for (size_t w = 0; w < p->plan.waves.size(); ++w) {
    auto* wave = resp->add_waves();
    wave->set_number(static_cast<int>(w));
    for (const auto& t : p->plan.waves[w]) PlannedToProto(t, wave->add_tenants());
  }
  for (const auto& t : p->plan.skipped) PlannedToProto(t, resp->add_skipped());
  for (const auto& f : p->lint) *resp->add_lint() = proto::LintFindingToProto(f);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::StartRollout(grpc::ServerContext* ctx,
                                                 const fleet::v1::RolloutSpec* req,
                                                 fleet::v1::Rollout* resp) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "starting a rollout");
  if (!actor.ok()) return ToGrpc(actor.status());
  auto p = Plan(*req);
  if (!p.ok()) return ToGrpc(p.status());
  if (absl::Status s = RefuseLintErrors(p->lint, p->plan, p->spec.allow_lint_errors()); !s.ok()) {
    spdlog::warn("event=rollout-refused actor=\"{}\" reason=lint-errors",
                 Actor(*actor, p->spec.actor()));
    return ToGrpc(s);
  }
  if (std::vector<std::string> failed =
          p->spec.rehearse() ? RehearsalFailures(p->plan) : std::vector<std::string>{};
      !failed.empty()) {
    spdlog::warn("event=rollout-refused actor=\"{}\" reason=rehearsal tenants={}",
                 Actor(*actor, p->spec.actor()), failed.size());
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "the rehearsal failed on ", failed.size(), failed.size() == 1 ? " tenant" : " tenants",
        "; nothing was started: ", absl::StrJoin(failed, "; "))));
  }
  RolloutRecord r;
  r.id = NewRolloutId();
  r.bundle_digest = p->bundle.digest;
  r.target = p->spec.target();
  r.actor = Actor(*actor, p->spec.actor());
  r.waves = static_cast<int>(p->plan.waves.size());
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(p->spec, &json); !s.ok()) {
    return ToGrpc(absl::InternalError(absl::StrCat("the rollout spec: ", s.ToString())));
  }
  r.spec_json = json;
  std::vector<RolloutTenantRecord> members;
  for (size_t w = 0; w < p->plan.waves.size(); ++w) {
    for (const auto& t : p->plan.waves[w]) {
      RolloutTenantRecord m;
      m.rollout_id = r.id;
      m.tenant_id = t.tenant.id;
      m.agent = t.tenant.agent;
      m.wave = static_cast<int>(w);
      m.start_heads = t.tenant.heads;
      if (!t.rehearsal.outcome().empty()) {
        if (auto j = google::protobuf::util::MessageToJsonString(t.rehearsal, &m.rehearsal_json);
            !j.ok()) {
          return ToGrpc(absl::InternalError(absl::StrCat("a rehearsal: ", j.ToString())));
        }
      }
      members.push_back(std::move(m));
    }
  }
  if (members.empty()) {
    r.state = fleet::v1::ROLLOUT_SUCCEEDED;
    r.reason = absl::StrCat("all ", p->plan.skipped.size(),
                            " selected tenants are already at the target");
  } else {
    r.state = fleet::v1::ROLLOUT_PENDING;
  }
  if (absl::Status s =
          inventory_.CreateRollout(r, members, AuditEntry{"", r.actor, "rollout started", r.id, "", json});
      !s.ok()) {
    return ToGrpc(s);
  }
  spdlog::info("rollout={} event=rollout-created actor=\"{}\" tenants={} waves={} target={}", r.id,
               r.actor, members.size(), r.waves, r.target);
  if (!members.empty()) runner_.Drive(r.id);
  auto loaded = Load(r.id);
  if (!loaded.ok()) return ToGrpc(loaded.status());
  *resp = *std::move(loaded);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetRollout(grpc::ServerContext* ctx,
    const fleet::v1::GetRolloutRequest* req, fleet::v1::Rollout* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadGetRollout(req, resp);
}

grpc::Status ControllerServiceImpl::ReadGetRollout(const fleet::v1::GetRolloutRequest* req,
    fleet::v1::Rollout* resp) {
  if (!ValidRolloutId(req->id())) {
    return ToGrpc(absl::InvalidArgumentError("a rollout id is letters, digits and '-'"));
  }
  auto r = Load(req->id());
  if (!r.ok()) return ToGrpc(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListRollouts(grpc::ServerContext* ctx,
    const fleet::v1::ListRolloutsRequest* req, fleet::v1::ListRolloutsResponse* resp) {
  if (grpc::Status s = AllowViewer(*ctx); !s.ok()) return s;
  return ReadListRollouts(req, resp);
}

grpc::Status ControllerServiceImpl::ReadListRollouts(const fleet::v1::ListRolloutsRequest*,
    fleet::v1::ListRolloutsResponse* resp) {
  auto rollouts = inventory_.ListRollouts();
  if (!rollouts.ok()) return ToGrpc(rollouts.status());
  for (const auto& r : *rollouts) {
    auto* out = resp->add_rollouts();
    if (absl::Status s = RolloutToProto(r, out); !s.ok()) return ToGrpc(s);
    out->set_stalled(runner_.Stalled(r.id));
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RolloutAction(grpc::ServerContext* ctx,
                                                  const fleet::v1::RolloutActionRequest* req,
                                                  fleet::v1::Rollout* resp) {
  auto actor = auth_.Authorize(*ctx, Role::kOperator, "changing a rollout");
  if (!actor.ok()) return ToGrpc(actor.status());
  if (!ValidRolloutId(req->id())) {
    return ToGrpc(absl::InvalidArgumentError("a rollout id is letters, digits and '-'"));
  }
  const std::string& action = req->action();
  RolloutEvent event;
  if (action == "pause") {
    event = RolloutEvent::kPause;
  } else if (action == "resume") {
    event = RolloutEvent::kResume;
  } else if (action == "abort") {
    event = RolloutEvent::kAbort;
  } else if (action == "rollback") {
    event = RolloutEvent::kRollback;
  } else {
    return ToGrpc(absl::InvalidArgumentError("action is pause, resume, abort or rollback"));
  }
  const std::string who = Actor(*actor, req->actor());
  absl::Status moved;
  // Compare-and-set against the state read; when the runner moved it in
  // between, read again and decide again (a handful of tries: each move of
  // the runner is a step forward, never a loop).
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto r = inventory_.GetRollout(req->id());
    if (!r.ok()) return ToGrpc(r.status());
    if (event == RolloutEvent::kResume && proto::IsDriven(r->state) &&
        !runner_.Stalled(r->id).empty()) {
      // A rollout whose driver stopped on an inventory error: drive it again.
      runner_.Drive(r->id);
      moved = inventory_.Audit({"", who, "rollout resume (driven again)", r->id, "", ""});
      break;
    }
    auto to = NextState(r->state, event);
    if (!to.ok()) {
      std::string hint;
      if (event == RolloutEvent::kRollback &&
          (r->state == fleet::v1::ROLLOUT_RUNNING || r->state == fleet::v1::ROLLOUT_PENDING)) {
        hint = " (pause or abort a running one first)";
      }
      return ToGrpc(absl::FailedPreconditionError(
          absl::StrCat("rollout ", r->id, " ", to.status().message(), hint)));
    }
    RolloutTransition t;
    t.id = r->id;
    t.from = r->state;
    t.to = *to;
    t.audit = AuditEntry{"", who, absl::StrCat("rollout ", action), r->id, "", ""};
    switch (event) {
      case RolloutEvent::kPause:
        t.reason = absl::StrCat("paused by ", who);
        break;
      case RolloutEvent::kResume:
        t.reason = absl::StrCat("resumed by ", who);
        break;
      case RolloutEvent::kAbort:
        t.reason = absl::StrCat("aborted by ", who, " (nothing rolled back)");
        t.bake_until = "";
        break;
      default: {  // rollback
        // Tenants still in flight finish first, then their state is known.
        if (!runner_.WaitUntilIdle(r->id, absl::Seconds(60))) {
          return ToGrpc(absl::UnavailableError("tenants are still in flight; try again shortly"));
        }
        t.reason = absl::StrCat("rollback asked by ", who);
        t.bake_until = "";
        t.tenants.push_back({StatesAccepting(TenantEvent::kMarkRollback), std::nullopt,
                             fleet::v1::TENANT_ROLLING_BACK});
        t.refuse_busy_tenants = true;
        break;
      }
    }
    moved = inventory_.TransitionRollout(t);
    if (absl::IsAborted(moved)) continue;  // the runner moved it: read again
    if (!moved.ok()) break;
    spdlog::info("rollout={} event=\"{}\" actor=\"{}\" from={} to={}", r->id, action, who,
                 proto::StateName(t.from), proto::StateName(t.to));
    if (proto::IsDriven(t.to)) {
      runner_.Drive(r->id);
    } else {
      runner_.Wake();  // a bake or a backoff in progress reads the new state now
    }
    break;
  }
  if (absl::IsAborted(moved)) {
    return ToGrpc(absl::AbortedError(absl::StrCat("rollout ", req->id(), " kept moving while ",
                                                  action, " was tried; try again")));
  }
  if (!moved.ok()) return ToGrpc(moved);
  auto loaded = Load(req->id());
  if (!loaded.ok()) return ToGrpc(loaded.status());
  *resp = *std::move(loaded);
  return grpc::Status::OK;
}

}  // namespace fleet::controller
