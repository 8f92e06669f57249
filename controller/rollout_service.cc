// ControllerServiceImpl's rollout calls: planning (with lint, table sizes
// and rehearsals, preflight.h), starting, reading and acting on rollouts.
// The rest of the service is in controller_service.cc.
#include <google/protobuf/util/json_util.h>

#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "controller/controller_service.h"
#include "controller/preflight.h"
#include "migrations/status_macros.h"
#include "proto/convert.h"
#include "proto/states.h"
#include "proto/validate.h"
#include "serving/log.h"

namespace fleet::controller {
namespace {

using proto::ToGrpc;

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
    if (!t.progress_json.empty() &&
        !google::protobuf::util::JsonStringToMessage(t.progress_json, o->mutable_progress()).ok()) {
      spdlog::warn("rollout={} tenant={} event=progress-unreadable", id, t.tenant_id);
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
                 ActorToRecord(*actor, p->spec.actor()));
    return ToGrpc(s);
  }
  if (std::vector<std::string> failed =
          p->spec.rehearse() ? RehearsalFailures(p->plan) : std::vector<std::string>{};
      !failed.empty()) {
    spdlog::warn("event=rollout-refused actor=\"{}\" reason=rehearsal tenants={}",
                 ActorToRecord(*actor, p->spec.actor()), failed.size());
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "the rehearsal failed on ", failed.size(), failed.size() == 1 ? " tenant" : " tenants",
        "; nothing was started: ", absl::StrJoin(failed, "; "))));
  }
  RolloutRecord r;
  r.id = NewRolloutId();
  r.bundle_digest = p->bundle.digest;
  r.target = p->spec.target();
  r.actor = ActorToRecord(*actor, p->spec.actor());
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
  const std::string who = ActorToRecord(*actor, req->actor());
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
