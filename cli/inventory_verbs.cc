// The fleet verbs about the inventory: status, agents, tenants, bundle.
// Each action is one handler of the table at the end.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/controller_call.h"
#include "migrations/bundle.h"
#include "proto/convert.h"
#include "migrations/status_macros.h"
#include "proto/validate.h"

namespace fleet::cli {
namespace {

// The one ADDR an agents action takes, checked.
absl::StatusOr<std::string> AgentAddress(Context& ctx, const char* action) {
  if (ctx.options.fleet.args.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("agents ", action, " takes one ADDR"));
  }
  RETURN_IF_ERROR(proto::ValidateAddress(ctx.options.fleet.args[0]));
  return ctx.options.fleet.args[0];
}

// agents add ADDR
int AgentsAdd(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  auto address = AgentAddress(ctx, "add");
  if (!address.ok()) return UsageError(ctx, address.status().message());
  fleet::v1::AddAgentRequest req;
  req.set_address(*address);
  fleet::v1::AddAgentResponse resp;
  grpc::Status s = stub.AddAgent(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  ctx.out << "Enrolled agent " << resp.agent().address() << " with " << resp.tenant_ids_size()
          << " tenants: " << absl::StrJoin(resp.tenant_ids(), ", ") << "\n";
  return kExitOk;
}

// agents remove ADDR
int AgentsRemove(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  auto address = AgentAddress(ctx, "remove");
  if (!address.ok()) return UsageError(ctx, address.status().message());
  fleet::v1::RemoveAgentRequest req;
  req.set_address(*address);
  fleet::v1::RemoveAgentResponse resp;
  grpc::Status s = stub.RemoveAgent(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  ctx.out << "Removed agent " << req.address() << " and its " << resp.tenants_removed()
          << " tenants from the inventory (their databases are untouched)\n";
  return kExitOk;
}

// agents list
int AgentsList(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  fleet::v1::ListAgentsResponse resp;
  grpc::Status s = stub.ListAgents(&call.context, {}, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& a : resp.agents()) {
      j.push_back({{"address", a.address()}, {"state", a.state()}, {"tenants", a.tenants()},
                   {"last_seen", a.last_seen()}, {"missed_polls", a.missed_polls()},
                   {"last_error", a.last_error()}, {"version", a.version()}});
    }
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{
      {"AGENT", "STATE", "VERSION", "TENANTS", "LAST SEEN", "ERROR"}};
  for (const auto& a : resp.agents()) {
    rows.push_back({a.address(), a.state(), a.version().empty() ? "-" : a.version(),
                    std::to_string(a.tenants()), a.last_seen().empty() ? "never" : a.last_seen(),
                    a.last_error().empty() ? "-" : a.last_error()});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

// tenants label
int TenantsLabel(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() < 2) return UsageError(ctx, "tenants label ID k=v... [k-]");
  fleet::v1::LabelTenantRequest req;
  req.set_tenant_id(ctx.options.fleet.args[0]);
  if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return UsageError(ctx, s.message());
  for (size_t i = 1; i < ctx.options.fleet.args.size(); ++i) {
    const std::string& a = ctx.options.fleet.args[i];
    if (size_t eq = a.find('='); eq != std::string::npos) {
      (*req.mutable_set())[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (!a.empty() && a.back() == '-') {
      req.add_remove(a.substr(0, a.size() - 1));
    } else {
      return UsageError(ctx, absl::StrCat("'", a, "' is neither k=v (set) nor k- (remove)"));
    }
  }
  fleet::v1::LabelTenantResponse resp;
  grpc::Status s = stub.LabelTenant(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  ctx.out << resp.tenant().id() << ": " << Labels(resp.tenant().labels()) << "\n";
  return kExitOk;
}

// tenants diff
int TenantsDiff(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() != 1) return UsageError(ctx, "tenants diff takes one ID");
  fleet::v1::TenantDiffRequest req;
  req.set_tenant_id(ctx.options.fleet.args[0]);
  if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return UsageError(ctx, s.message());
  req.set_against(ctx.options.fleet.against);
  fleet::v1::TenantDiffResponse resp;
  grpc::Status s = stub.TenantDiff(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  std::string against = resp.compared_heads().empty()
                            ? std::string("base")
                            : absl::StrJoin(resp.compared_heads(), ", ");
  if (Json(ctx)) {
    nlohmann::json diffs = nlohmann::json::array();
    for (int i = 0; i < resp.differences_size(); ++i) {
      diffs.push_back({{"difference", resp.differences(i)},
                       {"statement", i < resp.statements_size() ? resp.statements(i) : ""}});
    }
    ctx.out << nlohmann::json{{"tenant", resp.tenant_id()},
                              {"agent", resp.agent()},
                              {"bundle", resp.bundle_digest()},
                              {"compared_with", std::vector<std::string>(
                                                    resp.compared_heads().begin(),
                                                    resp.compared_heads().end())},
                              {"differences", diffs}}
                       .dump(2)
            << "\n";
  } else if (resp.differences().empty()) {
    ctx.out << "Tenant " << resp.tenant_id() << " has exactly the schema " << against
            << " builds.\n";
  } else {
    ctx.out << "Tenant " << resp.tenant_id() << " differs from the schema " << against
            << " builds (" << resp.differences_size() << "); from that schema to the tenant's:\n";
    for (int i = 0; i < resp.differences_size(); ++i) {
      ctx.out << "  " << resp.differences(i) << "\n";
      if (i < resp.statements_size()) {
        for (absl::string_view line : absl::StrSplit(resp.statements(i), '\n')) {
          ctx.out << "      " << line << "\n";
        }
      }
    }
  }
  return resp.differences().empty() ? kExitOk : kExitCheckFailed;
}

// tenants history
int TenantsHistory(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() != 1) return UsageError(ctx, "tenants history takes one ID");
  fleet::v1::TenantHistoryRequest req;
  req.set_tenant_id(ctx.options.fleet.args[0]);
  if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return UsageError(ctx, s.message());
  fleet::v1::TenantHistoryResponse resp;
  grpc::Status s = stub.TenantHistory(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : resp.entries()) {
      j.push_back({{"at", e.at()}, {"actor", e.actor()}, {"action", e.action()},
                   {"rollout", e.rollout_id()}, {"detail", e.detail()}});
    }
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"WHEN", "ROLLOUT", "STEP", "WHO", "DETAIL"}};
  for (const auto& e : resp.entries()) {
    rows.push_back({e.at(), e.rollout_id(), e.action(), e.actor(), e.detail()});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

// tenants remove
int TenantsRemove(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() != 1) return UsageError(ctx, "tenants remove takes one ID");
  fleet::v1::RemoveTenantRequest req;
  req.set_tenant_id(ctx.options.fleet.args[0]);
  if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return UsageError(ctx, s.message());
  fleet::v1::RemoveTenantResponse resp;
  grpc::Status s = stub.RemoveTenant(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  ctx.out << "Removed tenant " << req.tenant_id()
          << " from the inventory (its agent will report it again unless its config drops it)\n";
  return kExitOk;
}

// tenants list
int TenantsList(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  fleet::v1::ListFleetTenantsRequest req;
  int code = kExitOk;
  if (!ParseSelector(ctx, req.mutable_selector(), &code)) return code;
  fleet::v1::ListFleetTenantsResponse resp;
  grpc::Status s = stub.ListTenants(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : resp.tenants()) j.push_back(TenantJson(t));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"TENANT", "AGENT", "REVISION", "LABELS", "LAST SEEN"}};
  for (const auto& t : resp.tenants()) {
    rows.push_back({t.id(), t.agent(), HeadsText(t.heads(), ","), Labels(t.labels()), t.last_seen()});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

// bundle push
int BundlePush(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() != 1) return UsageError(ctx, "bundle push takes one versions DIR");
  auto files = migrations::ReadBundleFiles(ctx.fs, ctx.options.fleet.args[0]);
  if (!files.ok()) {
    ctx.err << "error: " << files.status().message() << "\n";
    return kExitFailed;
  }
  std::string digest = migrations::BundleDigest(*files);
  fleet::v1::PushBundleResponse resp;
  // In pieces: the controller takes no large message.
  auto writer = stub.PushBundle(&call.context, &resp);
  for (auto& piece : proto::BundlePieces(digest, *files)) {
    fleet::v1::PushBundleRequest req;
    *req.mutable_bundle() = std::move(piece);
    if (!writer->Write(req)) break;  // the controller refused: Finish says why
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    ctx.out << nlohmann::json{{"digest", resp.bundle().digest()},
                              {"heads", std::vector<std::string>(resp.bundle().heads().begin(),
                                                                 resp.bundle().heads().end())},
                              {"revisions", resp.bundle().revisions()}}
                   .dump(2)
            << "\n";
    return kExitOk;
  }
  ctx.out << "Pushed bundle " << resp.bundle().digest() << "\n  " << resp.bundle().revisions()
          << " revisions, heads " << absl::StrJoin(resp.bundle().heads(), ", ")
          << "\n  It is now the head that 'fleetctl status' measures against.\n";
  return kExitOk;
}

// bundle show
int BundleShow(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  if (ctx.options.fleet.args.size() != 1) return UsageError(ctx, "bundle show takes one DIGEST");
  fleet::v1::GetBundleRequest req;
  req.set_digest(ctx.options.fleet.args[0]);
  fleet::v1::GetBundleResponse resp;
  grpc::Status s = stub.GetBundle(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  std::vector<std::string> files;
  for (const auto& f : resp.bundle().files()) files.push_back(f.filename());
  if (Json(ctx)) {
    ctx.out << nlohmann::json{{"digest", resp.info().digest()},
                              {"pushed_at", resp.info().pushed_at()},
                              {"heads", std::vector<std::string>(resp.info().heads().begin(),
                                                                 resp.info().heads().end())},
                              {"files", files}}
                   .dump(2)
            << "\n";
    return kExitOk;
  }
  ctx.out << "Bundle " << resp.info().digest() << "\nPushed: " << resp.info().pushed_at()
          << "\nHeads: " << absl::StrJoin(resp.info().heads(), ", ") << "\nFiles:\n";
  for (const auto& f : files) ctx.out << "  " << f << "\n";
  return kExitOk;
}

// bundle list
int BundleList(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  fleet::v1::ListBundlesResponse resp;
  grpc::Status s = stub.ListBundles(&call.context, {}, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& b : resp.bundles()) {
      j.push_back({{"digest", b.digest()}, {"pushed_at", b.pushed_at()},
                   {"heads", std::vector<std::string>(b.heads().begin(), b.heads().end())},
                   {"revisions", b.revisions()}});
    }
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"DIGEST", "PUSHED", "REVISIONS", "HEADS"}};
  for (const auto& b : resp.bundles()) {
    rows.push_back({b.digest().substr(0, 16), b.pushed_at(), std::to_string(b.revisions()),
                    absl::StrJoin(b.heads(), ",")});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

// status
int Status(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  const std::string& sort = ctx.options.fleet.sort;
  if (sort != "behind" && sort != "id" && sort != "last-seen") {
    return UsageError(ctx, "--sort takes behind, id or last-seen");
  }
  int code = kExitOk;
  fleet::v1::StatusRequest req;
  if (!ParseSelector(ctx, req.mutable_selector(), &code)) return code;
  req.set_refresh(ctx.options.fleet.refresh);
  req.set_schema_drift(ctx.options.fleet.schema_drift);
  fleet::v1::StatusResponse resp;
  grpc::Status s = stub.Status(&call.context, req, &resp);
  if (!s.ok()) return Failed(ctx, s);

  std::vector<const fleet::v1::TenantStatus*> rows;
  bool all_current = true;
  const bool drift = ctx.options.fleet.schema_drift;
  // A tenant whose schema differs from its revisions is not current.
  auto schema_ok = [&](const fleet::v1::TenantStatus& t) {
    return !drift || t.schema_differences() == 0;
  };
  for (const auto& t : resp.tenants()) {
    bool current = t.state() == "current" && schema_ok(t);
    all_current = all_current && current;
    if (ctx.options.fleet.lagging && current) continue;
    rows.push_back(&t);
  }
  // "3 differences", "same", or why it could not be checked.
  auto schema_cell = [](const fleet::v1::TenantStatus& t) -> std::string {
    if (t.schema_differences() > 0) return absl::StrCat("drift (", t.schema_differences(), ")");
    if (t.schema_differences() == 0) return "same";
    return t.schema_error().empty() ? "-" : "error";
  };
  std::stable_sort(rows.begin(), rows.end(), [&](auto* a, auto* b) {
    if (sort == "id") return a->tenant().id() < b->tenant().id();
    if (sort == "last-seen") return a->tenant().last_seen() < b->tenant().last_seen();
    // Most behind first; unknown distance (-1) before everything else.
    int ba = a->behind() < 0 ? INT32_MAX : a->behind();
    int bb = b->behind() < 0 ? INT32_MAX : b->behind();
    if (ba != bb) return ba > bb;
    return a->tenant().id() < b->tenant().id();
  });
  const std::string& summary = resp.summary();
  if (Json(ctx)) {
    nlohmann::json tenants = nlohmann::json::array();
    for (const auto* t : rows) {
      nlohmann::json j = TenantJson(t->tenant());
      j["state"] = t->state();
      j["behind"] = t->behind() < 0 ? nlohmann::json(nullptr) : nlohmann::json(t->behind());
      if (drift) {
        j["schema_differences"] = t->schema_differences() < 0
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(t->schema_differences());
        if (!t->schema_error().empty()) j["schema_error"] = t->schema_error();
      }
      tenants.push_back(std::move(j));
    }
    ctx.out << nlohmann::json{{"summary", summary},
                              {"head_bundle", resp.head_bundle()},
                              {"heads", std::vector<std::string>(resp.heads().begin(),
                                                                 resp.heads().end())},
                              {"counts", std::map<std::string, int>(resp.counts().begin(),
                                                                    resp.counts().end())},
                              {"tenants", tenants}}
                   .dump(2)
            << "\n";
  } else {
    ctx.out << summary << "\n\n";
    std::vector<std::vector<std::string>> table{
        {"TENANT", "AGENT", "REVISION", "BEHIND", "STATE", "LABELS", "LAST SEEN"}};
    if (drift) table[0].insert(table[0].begin() + 5, "SCHEMA");
    for (const auto* t : rows) {
      table.push_back({t->tenant().id(), t->tenant().agent(), HeadsText(t->tenant().heads(), ","),
                       t->behind() < 0 ? "?" : std::to_string(t->behind()), t->state(),
                       Labels(t->tenant().labels()),
                       t->tenant().last_seen().empty() ? "never" : t->tenant().last_seen()});
      if (drift) table.back().insert(table.back().begin() + 5, schema_cell(*t));
    }
    PrintTable(ctx.out, table);
    for (const auto* t : rows) {
      if (drift && !t->schema_error().empty()) {
        ctx.out << t->tenant().id() << ": schema not checked: " << t->schema_error() << "\n";
      }
    }
  }
  return all_current ? kExitOk : kExitCheckFailed;
}

}  // namespace

std::vector<Command> FleetVerbs() {
  return {
      {"status",
       "Which tenants lag: a summary line, then every tenant's revision, distance from head "
       "and state. Exit 0 when every selected tenant is current, 1 otherwise.",
       [](CLI::App& c, Options& o) {
         c.add_flag("--lagging", o.fleet.lagging, "Only tenants that are not current");
         c.add_option("--selector", o.fleet.selector, "Only tenants with these labels: k=v,k2=v2");
         c.add_option("--sort", o.fleet.sort, "behind, id or last-seen")->capture_default_str();
         c.add_flag("--refresh", o.fleet.refresh,
                    "Ask the agents now instead of reading the inventory");
         c.add_flag("--schema-drift", o.fleet.schema_drift,
                    "Also compare each tenant's real schema with what its revisions build (a "
                    "SCHEMA column; slower: the agents build each tenant's expected schema)");
       },
       WithController<Status>},
      {"agents", "Enrol, list and remove agents (fleet-agent processes).", nullptr, nullptr,
       {{"add", "Enrol the agent at ADDR and all its tenants", nullptr, WithController<AgentsAdd>,
         {}, "ADDR"},
        {"list", "List enrolled agents", nullptr, WithController<AgentsList>},
        {"remove", "Forget an agent and its tenants", nullptr, WithController<AgentsRemove>, {},
         "ADDR"}}},
      {"tenants", "List tenants, set their labels, remove them from the inventory.", nullptr,
       nullptr,
       {{"list", "List tenants",
         [](CLI::App& c, Options& o) {
           c.add_option("--selector", o.fleet.selector,
                        "Only tenants with these labels: k=v,k2=v2");
         },
         WithController<TenantsList>},
        {"label", "Set (k=v) or remove (k-) labels: label ID k=v... k-", nullptr,
         WithController<TenantsLabel>, {}, "ARGS"},
        {"history", "A tenant's rollout steps: who, when, from, to, outcome", nullptr,
         WithController<TenantsHistory>, {}, "ID"},
        {"diff",
         "How a tenant's real schema differs from what its revisions build (hand-made indexes, "
         "added columns); exit 1 when it does",
         [](CLI::App& c, Options& o) {
           c.add_option("--against", o.fleet.against,
                        "Compare with this target (head, an id) instead of the tenant's own "
                        "revisions");
         },
         WithController<TenantsDiff>, {}, "ID"},
        {"remove", "Remove a tenant from the inventory", nullptr, WithController<TenantsRemove>,
         {}, "ID"}}},
      {"bundle", "Push a versions directory to the controller; list and show bundles.", nullptr,
       nullptr,
       {{"push", "Upload the scripts of DIR; prints digest and heads", nullptr,
         WithController<BundlePush>, {}, "DIR"},
        {"list", "List bundles, newest first", nullptr, WithController<BundleList>},
        {"show", "Show one bundle (8+ hex digits of its digest)", nullptr,
         WithController<BundleShow>, {}, "DIGEST"}}},
  };
}

}  // namespace fleet::cli
