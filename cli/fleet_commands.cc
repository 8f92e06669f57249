#include "cli/fleet_commands.h"

#include <grpcpp/grpcpp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl.h"
#include "fleet/v1/controller.grpc.pb.h"
#include "migrations/bundle.h"
#include "nlohmann/json.hpp"
#include "cli/flags.h"
#include "migrations/status_macros.h"
#include "proto/convert.h"
#include "proto/states.h"
#include "proto/transport.h"
#include "proto/validate.h"
#include "toml++/toml.h"

namespace fleet::cli {
namespace {

using Stub = fleet::v1::ControllerService::Stub;

int Usage(FleetContext& ctx, absl::string_view message) {
  ctx.err << "error: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

int Failed(FleetContext& ctx, const grpc::Status& s) {
  std::string where = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                              s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                          ? absl::StrCat(" (controller ", ctx.options.controller,
                                         ctx.options.insecure ? ", plaintext" : ", TLS", ")")
                          : "";
  ctx.err << "error: " << s.error_message() << where << "\n";
  return kExitFailed;
}

std::string WhoAmI() {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  std::string user = "unknown";
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found) user = found->pw_name;
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return absl::StrCat(user, "@", host);
}

std::unique_ptr<Stub> Connect(FleetContext& ctx, int* code) {
  FleetOptions& o = ctx.options;
  if (o.controller.empty()) {
    if (const char* env = std::getenv("FLEET_CONTROLLER")) o.controller = env;
  }
  if (o.controller.empty()) {
    *code = Usage(ctx, "no controller given: pass --controller HOST:PORT or set FLEET_CONTROLLER");
    return nullptr;
  }
  for (auto [value, env] : {std::pair{&o.tls_ca, "FLEET_TLS_CA"}, {&o.tls_cert, "FLEET_TLS_CERT"},
                            {&o.tls_key, "FLEET_TLS_KEY"}, {&o.token_file, "FLEET_TOKEN_FILE"}}) {
    if (value->empty()) {
      if (const char* v = std::getenv(env)) *value = v;
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (o.insecure) {
    if (absl::Status s = proto::CheckPlaintext("fleetctl", o.controller, true); !s.ok()) {
      *code = Usage(ctx, s.message());
      return nullptr;
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (o.tls_cert.empty() != o.tls_key.empty()) {
      *code = Usage(ctx, "a client certificate needs both --tls-cert and --tls-key");
      return nullptr;
    }
    auto material = proto::ReadTlsFiles({o.tls_cert, o.tls_key, o.tls_ca});
    if (!material.ok()) {
      *code = Usage(ctx, material.status().message());
      return nullptr;
    }
    credentials = proto::ClientCredentials(*material);
  }
  // The token comes from a file or the environment, never from a flag: a
  // flag shows in `ps` and in shell history.
  if (!o.token_file.empty()) {
    auto text = ctx.fs.ReadFile(o.token_file);
    if (!text.ok()) {
      *code = Usage(ctx, absl::StrCat("--token-file: ", text.status().message()));
      return nullptr;
    }
    o.token = std::string(absl::StripAsciiWhitespace(*text));
    if (o.token.empty()) {
      *code = Usage(ctx, absl::StrCat("--token-file ", o.token_file, " is empty"));
      return nullptr;
    }
  } else if (const char* env = std::getenv("FLEET_TOKEN")) {
    o.token = std::string(absl::StripAsciiWhitespace(env));
  }
  for (char c : o.token) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      *code = Usage(ctx, "the token holds a space or a non-printable character");
      return nullptr;
    }
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  return fleet::v1::ControllerService::NewStub(
      grpc::CreateCustomChannel(o.controller, credentials, args));
}

// Every call: a deadline, the caller's token, and who they say they are.
void PrepareCall(FleetContext& ctx, grpc::ClientContext& c) {
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(ctx.options.timeout_seconds)));
  if (!ctx.options.token.empty()) c.AddMetadata("authorization", "Bearer " + ctx.options.token);
  c.AddMetadata(proto::kActorMetadataKey, WhoAmI());
}

// One call to the controller: the stub, and a context with the deadline set.
// When no controller was given, `stub` is null and `code` is the exit code.
struct ControllerCall {
  explicit ControllerCall(FleetContext& ctx) : stub(Connect(ctx, &code)) {
    PrepareCall(ctx, context);
  }
  int code = kExitOk;
  std::unique_ptr<Stub> stub;
  grpc::ClientContext context;
};

// "k=v,k2=v2" into a selector; errors name the bad part.
bool ParseSelector(FleetContext& ctx, fleet::v1::Selector* out, int* code) {
  for (absl::string_view part : absl::StrSplit(ctx.options.selector, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      *code = Usage(ctx, absl::StrCat("--selector takes k=v[,k=v...]; '", part, "' has no '='"));
      return false;
    }
    if (absl::Status s = proto::ValidateLabel(kv[0], kv[1]); !s.ok()) {
      *code = Usage(ctx, s.message());
      return false;
    }
    (*out->mutable_match_labels())[kv[0]] = kv[1];
  }
  return true;
}

bool Json(const FleetContext& ctx) { return ctx.options.output == "json"; }

// Columns padded to their widest cell.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string Labels(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

std::string Heads(const google::protobuf::RepeatedPtrField<std::string>& heads) {
  return heads.empty() ? "base" : absl::StrJoin(heads, ",");
}

nlohmann::json TenantJson(const fleet::v1::Tenant& t) {
  return {{"id", t.id()},
          {"agent", t.agent()},
          {"labels", std::map<std::string, std::string>(t.labels().begin(), t.labels().end())},
          {"heads", std::vector<std::string>(t.heads().begin(), t.heads().end())},
          {"dirty", t.dirty()},
          {"drifted_revisions",
           std::vector<std::string>(t.drifted_revisions().begin(), t.drifted_revisions().end())},
          {"reachable", t.reachable()},
          {"last_seen", t.last_seen()},
          {"error", t.error()}};
}

}  // namespace

int RunAgentsCommand(FleetContext& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  auto& stub = call.stub;
  grpc::ClientContext& c = call.context;
  const std::string& action = ctx.options.action;
  if (action == "add" || action == "remove") {
    if (ctx.options.args.size() != 1) return Usage(ctx, absl::StrCat("agents ", action, " takes one ADDR"));
    if (absl::Status s = proto::ValidateAddress(ctx.options.args[0]); !s.ok()) {
      return Usage(ctx, s.message());
    }
  }
  if (action == "add") {
    fleet::v1::AddAgentRequest req;
    req.set_address(ctx.options.args[0]);
    fleet::v1::AddAgentResponse resp;
    grpc::Status s = stub->AddAgent(&c, req, &resp);
    if (!s.ok()) return Failed(ctx, s);
    ctx.out << "Enrolled agent " << resp.agent().address() << " with " << resp.tenant_ids_size()
            << " tenants: " << absl::StrJoin(resp.tenant_ids(), ", ") << "\n";
    return kExitOk;
  }
  if (action == "remove") {
    fleet::v1::RemoveAgentRequest req;
    req.set_address(ctx.options.args[0]);
    fleet::v1::RemoveAgentResponse resp;
    grpc::Status s = stub->RemoveAgent(&c, req, &resp);
    if (!s.ok()) return Failed(ctx, s);
    ctx.out << "Removed agent " << req.address() << " and its " << resp.tenants_removed()
            << " tenants from the inventory (their databases are untouched)\n";
    return kExitOk;
  }
  fleet::v1::ListAgentsResponse resp;
  grpc::Status s = stub->ListAgents(&c, {}, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& a : resp.agents()) {
      j.push_back({{"address", a.address()}, {"state", a.state()}, {"tenants", a.tenants()},
                   {"last_seen", a.last_seen()}, {"missed_polls", a.missed_polls()},
                   {"last_error", a.last_error()}});
    }
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"AGENT", "STATE", "TENANTS", "LAST SEEN", "ERROR"}};
  for (const auto& a : resp.agents()) {
    rows.push_back({a.address(), a.state(), std::to_string(a.tenants()),
                    a.last_seen().empty() ? "never" : a.last_seen(),
                    a.last_error().empty() ? "-" : a.last_error()});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

int RunTenantsCommand(FleetContext& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  auto& stub = call.stub;
  grpc::ClientContext& c = call.context;
  const std::string& action = ctx.options.action;
  if (action == "label") {
    if (ctx.options.args.size() < 2) return Usage(ctx, "tenants label ID k=v... [k-]");
    fleet::v1::LabelTenantRequest req;
    req.set_tenant_id(ctx.options.args[0]);
    if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return Usage(ctx, s.message());
    for (size_t i = 1; i < ctx.options.args.size(); ++i) {
      const std::string& a = ctx.options.args[i];
      if (size_t eq = a.find('='); eq != std::string::npos) {
        (*req.mutable_set())[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (!a.empty() && a.back() == '-') {
        req.add_remove(a.substr(0, a.size() - 1));
      } else {
        return Usage(ctx, absl::StrCat("'", a, "' is neither k=v (set) nor k- (remove)"));
      }
    }
    fleet::v1::LabelTenantResponse resp;
    grpc::Status s = stub->LabelTenant(&c, req, &resp);
    if (!s.ok()) return Failed(ctx, s);
    ctx.out << resp.tenant().id() << ": " << Labels(resp.tenant().labels()) << "\n";
    return kExitOk;
  }
  if (action == "diff") {
    if (ctx.options.args.size() != 1) return Usage(ctx, "tenants diff takes one ID");
    fleet::v1::TenantDiffRequest req;
    req.set_tenant_id(ctx.options.args[0]);
    if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return Usage(ctx, s.message());
    req.set_against(ctx.options.against);
    fleet::v1::TenantDiffResponse resp;
    grpc::Status s = stub->TenantDiff(&c, req, &resp);
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
  if (action == "history") {
    if (ctx.options.args.size() != 1) return Usage(ctx, "tenants history takes one ID");
    fleet::v1::TenantHistoryRequest req;
    req.set_tenant_id(ctx.options.args[0]);
    if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return Usage(ctx, s.message());
    fleet::v1::TenantHistoryResponse resp;
    grpc::Status s = stub->TenantHistory(&c, req, &resp);
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
  if (action == "remove") {
    if (ctx.options.args.size() != 1) return Usage(ctx, "tenants remove takes one ID");
    fleet::v1::RemoveTenantRequest req;
    req.set_tenant_id(ctx.options.args[0]);
    if (absl::Status s = proto::ValidateTenantId(req.tenant_id()); !s.ok()) return Usage(ctx, s.message());
    fleet::v1::RemoveTenantResponse resp;
    grpc::Status s = stub->RemoveTenant(&c, req, &resp);
    if (!s.ok()) return Failed(ctx, s);
    ctx.out << "Removed tenant " << req.tenant_id()
            << " from the inventory (its agent will report it again unless its config drops it)\n";
    return kExitOk;
  }
  fleet::v1::ListFleetTenantsRequest req;
  int code = kExitOk;
  if (!ParseSelector(ctx, req.mutable_selector(), &code)) return code;
  fleet::v1::ListFleetTenantsResponse resp;
  grpc::Status s = stub->ListTenants(&c, req, &resp);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : resp.tenants()) j.push_back(TenantJson(t));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"TENANT", "AGENT", "REVISION", "LABELS", "LAST SEEN"}};
  for (const auto& t : resp.tenants()) {
    rows.push_back({t.id(), t.agent(), Heads(t.heads()), Labels(t.labels()), t.last_seen()});
  }
  PrintTable(ctx.out, rows);
  return kExitOk;
}

int RunBundleCommand(FleetContext& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  auto& stub = call.stub;
  grpc::ClientContext& c = call.context;
  const std::string& action = ctx.options.action;
  if (action == "push") {
    if (ctx.options.args.size() != 1) return Usage(ctx, "bundle push takes one versions DIR");
    auto files = migrations::ReadBundleFiles(ctx.fs, ctx.options.args[0]);
    if (!files.ok()) {
      ctx.err << "error: " << files.status().message() << "\n";
      return kExitFailed;
    }
    std::string digest = migrations::BundleDigest(*files);
    fleet::v1::PushBundleResponse resp;
    // In pieces: the controller takes no large message.
    auto writer = stub->PushBundle(&c, &resp);
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
  if (action == "show") {
    if (ctx.options.args.size() != 1) return Usage(ctx, "bundle show takes one DIGEST");
    fleet::v1::GetBundleRequest req;
    req.set_digest(ctx.options.args[0]);
    fleet::v1::GetBundleResponse resp;
    grpc::Status s = stub->GetBundle(&c, req, &resp);
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
  fleet::v1::ListBundlesResponse resp;
  grpc::Status s = stub->ListBundles(&c, {}, &resp);
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

int RunStatusCommand(FleetContext& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  auto& stub = call.stub;
  grpc::ClientContext& c = call.context;
  const std::string& sort = ctx.options.sort;
  if (sort != "behind" && sort != "id" && sort != "last-seen") {
    return Usage(ctx, "--sort takes behind, id or last-seen");
  }
  int code = kExitOk;
  fleet::v1::StatusRequest req;
  if (!ParseSelector(ctx, req.mutable_selector(), &code)) return code;
  req.set_refresh(ctx.options.refresh);
  req.set_schema_drift(ctx.options.schema_drift);
  fleet::v1::StatusResponse resp;
  grpc::Status s = stub->Status(&c, req, &resp);
  if (!s.ok()) return Failed(ctx, s);

  std::vector<const fleet::v1::TenantStatus*> rows;
  bool all_current = true;
  const bool drift = ctx.options.schema_drift;
  // A tenant whose schema differs from its revisions is not current.
  auto schema_ok = [&](const fleet::v1::TenantStatus& t) {
    return !drift || t.schema_differences() == 0;
  };
  for (const auto& t : resp.tenants()) {
    bool current = t.state() == "current" && schema_ok(t);
    all_current = all_current && current;
    if (ctx.options.lagging && current) continue;
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
      table.push_back({t->tenant().id(), t->tenant().agent(), Heads(t->tenant().heads()),
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

}  // namespace fleet::cli

namespace fleet::cli {
namespace {


// Whole seconds of a duration flag of a rollout (at most 30 days).
absl::StatusOr<int> Seconds(absl::string_view flag, const std::string& text) {
  ASSIGN_OR_RETURN(absl::Duration d, ParseDurationFlag(flag, text, absl::Hours(24 * 30)));
  return static_cast<int>(absl::ToInt64Seconds(d));
}

// The spec: a TOML file first (--file), then the flags over it.
bool BuildSpec(FleetContext& ctx, fleet::v1::RolloutSpec* spec, int* code) {
  FleetOptions o = ctx.options;
  if (!o.file.empty()) {
    auto text = ctx.fs.ReadFile(o.file);
    if (!text.ok()) {
      *code = Usage(ctx, text.status().message());
      return false;
    }
    try {
      toml::table t = toml::parse(*text, o.file);
      auto str = [&](const char* key, std::string* out) {
        if (out->empty()) {
          if (auto v = t[key].value<std::string>()) *out = *v;
        }
      };
      str("to", &o.to);
      str("canary", &o.canary);
      str("waves", &o.waves);
      str("max_failures", &o.max_failures);
      str("pause_after", &o.pause_after);
      str("on_failure", &o.on_failure);
      str("bundle", &o.bundle);
      if (o.bake == "0") str("bake", &o.bake);
      if (o.parallel == 0) o.parallel = static_cast<int>(t["parallel"].value_or(int64_t{0}));
      if (const toml::table* sel = t["selector"].as_table()) {
        for (const auto& [k, v] : *sel) {
          (*spec->mutable_selector()->mutable_match_labels())[std::string(k.str())] =
              v.value_or(std::string());
        }
      }
    } catch (const toml::parse_error& e) {
      *code = Usage(ctx, absl::StrCat(o.file, ":", e.source().begin.line, ": ",
                                      std::string(e.description())));
      return false;
    }
  }
  if (!ctx.options.selector.empty()) {
    ctx.options.selector = ctx.options.selector;
    if (!ParseSelector(ctx, spec->mutable_selector(), code)) return false;
  }
  spec->set_target(o.to);
  spec->set_canary(o.canary);
  spec->set_waves(o.waves);
  spec->set_parallel(o.parallel);
  spec->set_max_failures(o.max_failures);
  spec->set_pause_after(o.pause_after);
  spec->set_on_failure(o.on_failure);
  spec->set_bundle_digest(o.bundle);
  spec->set_actor(WhoAmI());
  auto bake = Seconds("--bake", o.bake);
  auto timeout = Seconds("--tenant-timeout", o.tenant_timeout);
  for (auto* s : {&bake, &timeout}) {
    if (!s->ok()) {
      *code = Usage(ctx, s->status().message());
      return false;
    }
  }
  spec->set_bake_seconds(*bake);
  spec->set_tenant_timeout_seconds(*timeout);
  return true;
}

// Whether watching can stop: nothing more happens without a person.
bool Terminal(const fleet::v1::Rollout& r) {
  return proto::IsTerminal(r.state()) || r.state() == fleet::v1::ROLLOUT_ROLLBACK_FAILED ||
         r.state() == fleet::v1::ROLLOUT_HALTED;
}

std::string Name(fleet::v1::RolloutState s) { return std::string(proto::StateName(s)); }
std::string Name(fleet::v1::RolloutTenantState s) { return std::string(proto::StateName(s)); }

std::string Counts(const fleet::v1::Rollout& r) {
  std::map<std::string, int> c(r.counts().begin(), r.counts().end());
  std::vector<std::string> parts;
  for (const char* s : {"succeeded", "failed", "running", "pending", "rolling_back",
                        "rolled_back", "rollback_failed"}) {
    if (c[s]) parts.push_back(absl::StrCat(c[s], " ", s));
  }
  return parts.empty() ? "no tenants" : absl::StrJoin(parts, ", ");
}

void PrintRollout(FleetContext& ctx, const fleet::v1::Rollout& r) {
  ctx.out << "Rollout " << r.id() << ": " << Name(r.state()) << "\n"
          << "  target " << r.spec().target() << " (bundle " << r.spec().bundle_digest().substr(0, 12)
          << "), wave " << std::min(r.wave(), r.waves()) << " of " << r.waves() << ", "
          << Counts(r) << "\n";
  if (!r.reason().empty()) ctx.out << "  " << r.reason() << "\n";
  if (!r.stalled().empty()) ctx.out << "  STALLED: " << r.stalled() << "\n";
  std::vector<std::vector<std::string>> rows{{"TENANT", "WAVE", "STATE", "FROM", "NOW", "ERROR"}};
  for (const auto& t : r.tenants()) {
    rows.push_back({t.id(), std::to_string(t.wave()), Name(t.state()), Heads(t.start_heads()),
                    t.heads().empty() && t.state() == fleet::v1::TENANT_PENDING ? "-"
                                                                                : Heads(t.heads()),
                    t.error().empty() ? "-" : t.error()});
  }
  ctx.out << "\n";
  PrintTable(ctx.out, rows);
}

nlohmann::json RolloutJson(const fleet::v1::Rollout& r) {
  nlohmann::json tenants = nlohmann::json::array();
  for (const auto& t : r.tenants()) {
    tenants.push_back({{"id", t.id()}, {"agent", t.agent()}, {"wave", t.wave()},
                       {"state", Name(t.state())},
                       {"start_heads", std::vector<std::string>(t.start_heads().begin(), t.start_heads().end())},
                       {"heads", std::vector<std::string>(t.heads().begin(), t.heads().end())},
                       {"error", t.error()}, {"started_at", t.started_at()},
                       {"finished_at", t.finished_at()}});
  }
  return {{"id", r.id()}, {"state", Name(r.state())}, {"target", r.spec().target()},
          {"bundle", r.spec().bundle_digest()}, {"wave", r.wave()}, {"waves", r.waves()},
          {"reason", r.reason()}, {"created_at", r.created_at()}, {"updated_at", r.updated_at()},
          {"counts", std::map<std::string, int>(r.counts().begin(), r.counts().end())},
          {"stalled", r.stalled()}, {"tenants", tenants}};
}

// The live view: one block redrawn in place on a terminal.
std::string LiveView(const fleet::v1::Rollout& r, absl::Duration elapsed) {
  std::map<int, std::map<std::string, int>> waves;
  int done = 0, total = r.tenants_size();
  for (const auto& t : r.tenants()) {
    ++waves[t.wave()][Name(t.state())];
    done += t.state() != fleet::v1::TENANT_PENDING && t.state() != fleet::v1::TENANT_RUNNING;
  }
  auto clock = [](absl::Duration d) {
    int64_t s = absl::ToInt64Seconds(d);
    return absl::StrFormat("%d:%02d", s / 60, s % 60);
  };
  std::string eta = done > 0 && done < total
                        ? clock(elapsed * (total - done) / done)
                        : std::string("-");
  std::string out = absl::StrCat("Rollout ", r.id(), "  ", Name(r.state()), "  elapsed ",
                                 clock(elapsed), "  ETA ", eta, "\n");
  for (const auto& [w, counts] : waves) {
    int n = 0, finished = 0;
    for (const auto& [state, c] : counts) {
      n += c;
      finished += state != "pending" && state != "running" ? c : 0;
    }
    int bar = n == 0 ? 0 : 20 * finished / n;
    std::vector<std::string> parts;
    for (const auto& [state, c] : counts) parts.push_back(absl::StrCat(c, " ", state));
    absl::StrAppend(&out, absl::StrFormat("  wave %-2d%-9s [%s%s] %d/%d  ", w,
                                          w == 0 ? "(canary)" : "", std::string(bar, '#'),
                                          std::string(20 - bar, '-'), finished, n),
                    absl::StrJoin(parts, ", "), "\n");
  }
  std::vector<std::string> errors;
  for (const auto& t : r.tenants()) {
    if (!t.error().empty()) errors.push_back(absl::StrCat("    ", t.id(), ": ", t.error().substr(0, 160)));
  }
  if (!errors.empty()) {
    absl::StrAppend(&out, "  latest errors:\n");
    for (size_t i = errors.size() > 5 ? errors.size() - 5 : 0; i < errors.size(); ++i) {
      absl::StrAppend(&out, errors[i], "\n");
    }
  }
  if (!r.reason().empty()) absl::StrAppend(&out, "  ", r.reason(), "\n");
  if (!r.stalled().empty()) absl::StrAppend(&out, "  STALLED: ", r.stalled(), "\n");
  return out;
}

int Watch(FleetContext& ctx, Stub& stub, const std::string& id) {
  std::string last;
  int drawn_lines = 0;
  absl::Time start = absl::Now();
  for (;;) {
    grpc::ClientContext c;
    PrepareCall(ctx, c);
    fleet::v1::GetRolloutRequest req;
    req.set_id(id);
    fleet::v1::Rollout r;
    grpc::Status s = stub.GetRollout(&c, req, &r);
    if (!s.ok()) return Failed(ctx, s);
    if (ctx.terminal) {
      std::string view = LiveView(r, absl::Now() - start);
      if (drawn_lines > 0) ctx.out << "\x1b[" << drawn_lines << "F\x1b[J";  // redraw in place
      ctx.out << view << std::flush;
      drawn_lines = static_cast<int>(std::count(view.begin(), view.end(), '\n'));
    } else {
      std::string line = absl::StrCat(Name(r.state()), " wave ", std::min(r.wave(), r.waves()), "/",
                                      r.waves(), ": ", Counts(r));
      if (line != last) {
        ctx.out << absl::FormatTime("%H:%M:%S ", absl::Now(), absl::LocalTimeZone()) << line
                << std::endl;
        last = line;
      }
    }
    if (Terminal(r)) {
      if (!ctx.terminal) {
        if (!r.reason().empty()) ctx.out << r.reason() << "\n";
        for (const auto& t : r.tenants()) {
          if (!t.error().empty()) ctx.out << "  " << t.id() << ": " << t.error() << "\n";
        }
      }
      return r.state() == fleet::v1::ROLLOUT_SUCCEEDED ? kExitOk : kExitCheckFailed;
    }
    absl::SleepFor(absl::Milliseconds(300));
  }
}

}  // namespace

int RunRolloutCommand(FleetContext& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  auto& stub = call.stub;
  grpc::ClientContext& c = call.context;
  int code = kExitOk;
  const std::string action = ctx.options.action == "promote" ? "resume" : ctx.options.action;
  if (action == "plan" || action == "start") {
    fleet::v1::RolloutSpec spec;
    if (!BuildSpec(ctx, &spec, &code)) return code;
    if (action == "plan") {
      fleet::v1::RolloutPlan plan;
      grpc::Status s = stub->PlanRollout(&c, spec, &plan);
      if (!s.ok()) return Failed(ctx, s);
      if (Json(ctx)) {
        nlohmann::json waves = nlohmann::json::array();
        for (const auto& w : plan.waves()) {
          nlohmann::json tenants = nlohmann::json::array();
          for (const auto& t : w.tenants()) {
            tenants.push_back({{"id", t.id()}, {"agent", t.agent()},
                               {"start_heads", std::vector<std::string>(t.start_heads().begin(), t.start_heads().end())},
                               {"steps", std::vector<std::string>(t.steps().begin(), t.steps().end())}});
          }
          waves.push_back({{"wave", w.number()}, {"tenants", tenants}});
        }
        std::vector<std::string> skipped;
        for (const auto& t : plan.skipped()) skipped.push_back(t.id());
        ctx.out << nlohmann::json{{"bundle", plan.bundle_digest()}, {"waves", waves},
                                  {"skipped", skipped}}.dump(2) << "\n";
        return kExitOk;
      }
      ctx.out << "Plan against bundle " << plan.bundle_digest().substr(0, 12) << " (heads "
              << absl::StrJoin(plan.target_heads(), ", ") << "):\n";
      for (const auto& w : plan.waves()) {
        ctx.out << (w.number() == 0 ? "Wave 0 (canary)" : absl::StrCat("Wave ", w.number()))
                << ": " << w.tenants_size() << " tenants\n";
        for (const auto& t : w.tenants()) {
          ctx.out << "  " << t.id() << " (" << t.agent() << "): " << Heads(t.start_heads())
                  << " -> " << t.steps_size() << " steps: " << absl::StrJoin(t.steps(), " ")
                  << "\n";
        }
      }
      if (plan.skipped_size() > 0) {
        std::vector<std::string> ids;
        for (const auto& t : plan.skipped()) ids.push_back(t.id());
        ctx.out << "Skipped, already at the target: " << absl::StrJoin(ids, ", ") << "\n";
      }
      return kExitOk;
    }
    fleet::v1::Rollout r;
    grpc::Status s = stub->StartRollout(&c, spec, &r);
    if (!s.ok()) return Failed(ctx, s);
    if (Json(ctx) && !ctx.options.watch) {
      ctx.out << RolloutJson(r).dump(2) << "\n";
      return kExitOk;
    }
    ctx.out << "Started rollout " << r.id() << ": " << r.tenants_size() << " tenants in "
            << r.waves() << " waves (" << Name(r.state()) << ")\n";
    if (!r.reason().empty()) ctx.out << r.reason() << "\n";
    if (ctx.options.watch) return Watch(ctx, *stub, r.id());
    return kExitOk;
  }
  if (action == "list") {
    fleet::v1::ListRolloutsResponse resp;
    grpc::Status s = stub->ListRollouts(&c, {}, &resp);
    if (!s.ok()) return Failed(ctx, s);
    if (Json(ctx)) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : resp.rollouts()) j.push_back(RolloutJson(r));
      ctx.out << j.dump(2) << "\n";
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows{{"ROLLOUT", "STATE", "TARGET", "WAVE", "CREATED", "ACTOR"}};
    for (const auto& r : resp.rollouts()) {
      rows.push_back({r.id(), Name(r.state()), r.spec().target(),
                      absl::StrCat(std::min(r.wave(), r.waves()), "/", r.waves()), r.created_at(),
                      r.spec().actor()});
    }
    PrintTable(ctx.out, rows);
    return kExitOk;
  }
  if (ctx.options.args.size() != 1) return Usage(ctx, absl::StrCat("rollout ", action, " takes one ID"));
  const std::string& id = ctx.options.args[0];
  if (action == "watch") return Watch(ctx, *stub, id);
  fleet::v1::Rollout r;
  grpc::Status s;
  if (action == "status") {
    fleet::v1::GetRolloutRequest req;
    req.set_id(id);
    s = stub->GetRollout(&c, req, &r);
  } else {
    fleet::v1::RolloutActionRequest req;
    req.set_id(id);
    req.set_action(action);
    req.set_actor(WhoAmI());
    s = stub->RolloutAction(&c, req, &r);
  }
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    ctx.out << RolloutJson(r).dump(2) << "\n";
  } else {
    PrintRollout(ctx, r);
  }
  if (action == "status") {
    return r.state() == fleet::v1::ROLLOUT_SUCCEEDED || !Terminal(r) ? kExitOk : kExitCheckFailed;
  }
  return kExitOk;
}

}  // namespace fleet::cli
