// The rollout verb: plan, start, status, list, watch, pause, resume
// (promote), abort, rollback. Each action is one handler of the table; how
// a rollout and a plan are shown is cli/rollout_view.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/controller_call.h"
#include "cli/flags.h"
#include "cli/rollout_view.h"
#include "migrations/status_macros.h"
#include "proto/config_file.h"
#include "proto/convert.h"
#include "toml++/toml.h"

namespace fleet::cli {
namespace {

using rollout_view::BatchRows;
using rollout_view::Counts;
using rollout_view::LiveView;
using rollout_view::Name;
using rollout_view::PrintRehearsal;
using rollout_view::PrintRollout;
using rollout_view::RehearsalJson;
using rollout_view::RehearsalsFailed;
using rollout_view::Reports;
using rollout_view::RolloutJson;
using rollout_view::Terminal;

// Whole seconds of a duration flag of a rollout (at most 30 days).
absl::StatusOr<int> Seconds(absl::string_view flag, const std::string& text) {
  ASSIGN_OR_RETURN(absl::Duration d, ParseDurationFlag(flag, text, absl::Hours(24 * 30)));
  return static_cast<int>(absl::ToInt64Seconds(d));
}

// The spec: a TOML file first (--file), then the flags over it.
bool BuildSpec(Context& ctx, fleet::v1::RolloutSpec* spec, int* code) {
  FleetOptions o = ctx.options.fleet;
  if (!o.file.empty()) {
    auto text = ctx.fs.ReadFile(o.file);
    if (!text.ok()) {
      *code = UsageError(ctx, text.status().message());
      return false;
    }
    auto parsed = proto::ParseToml(*text, o.file);
    if (!parsed.ok()) {
      *code = UsageError(ctx, parsed.status().message());
      return false;
    }
    {
      toml::table& t = *parsed;
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
    }
  }
  if (!ctx.options.fleet.selector.empty()) {
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
  spec->set_allow_lint_errors(o.allow_lint_errors);
  spec->set_rehearse(o.rehearse);
  auto large = ParseSizeFlag("--lint-large", o.lint_large);
  if (!large.ok()) {
    *code = UsageError(ctx, large.status().message());
    return false;
  }
  spec->set_lint_large_bytes(*large);
  auto bake = Seconds("--bake", o.bake);
  auto timeout = Seconds("--tenant-timeout", o.tenant_timeout);
  for (auto* s : {&bake, &timeout}) {
    if (!s->ok()) {
      *code = UsageError(ctx, s->status().message());
      return false;
    }
  }
  spec->set_bake_seconds(*bake);
  spec->set_tenant_timeout_seconds(*timeout);
  return true;
}

int Watch(Context& ctx, Stub& stub, const std::string& id) {
  std::string last;
  int drawn_lines = 0;
  absl::Time start = absl::Now();
  for (;;) {
    grpc::ClientContext c;
    PrepareCall(ctx, c);
    fleet::v1::GetRolloutRequest req;
    req.set_id(id);
    fleet::v1::Rollout r;
    const absl::Time asked = absl::Now();
    grpc::Status s = stub.GetRollout(&c, req, &r);
    if (!s.ok()) return Failed(ctx, s);
    const absl::Duration took = absl::Now() - asked;
    if (ctx.terminal) {
      std::string view = LiveView(r, absl::Now() - start);
      if (drawn_lines > 0) ctx.out << "\x1b[" << drawn_lines << "F\x1b[J";  // redraw in place
      ctx.out << view << std::flush;
      drawn_lines = static_cast<int>(std::count(view.begin(), view.end(), '\n'));
    } else {
      std::string line = absl::StrCat(Name(r.state()), " wave ", std::min(r.wave(), r.waves()), "/",
                                      r.waves(), ": ", Counts(r));
      if (const int64_t rows = BatchRows(r); rows > 0) {
        // Batched revisions: the line changes as their rows do (recorded
        // about once a second).
        absl::StrAppend(&line, "; ", rows, " rows batched");
      }
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
    absl::SleepFor(WatchInterval(took));
  }
}

// rollout plan
int Plan(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  int code = kExitOk;
  fleet::v1::RolloutSpec spec;
  if (!BuildSpec(ctx, &spec, &code)) return code;

  fleet::v1::RolloutPlan plan;
  grpc::Status s = stub.PlanRollout(&call.context, spec, &plan);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    nlohmann::json waves = nlohmann::json::array();
    for (const auto& w : plan.waves()) {
      nlohmann::json tenants = nlohmann::json::array();
      for (const auto& t : w.tenants()) {
        tenants.push_back({{"id", t.id()}, {"tenant", t.id()}, {"agent", t.agent()},
                           {"start_heads", std::vector<std::string>(t.start_heads().begin(), t.start_heads().end())},
                           {"steps", std::vector<std::string>(t.steps().begin(), t.steps().end())}});
        if (t.has_rehearsal()) tenants.back()["rehearsal"] = RehearsalJson(t.rehearsal());
        nlohmann::json tables = nlohmann::json::array();
        for (const auto& f : t.table_findings()) {
          tables.push_back({{"table", f.table()}, {"bytes", f.bytes()}, {"rows", f.rows()},
                            {"rule", f.rule()}, {"revision", f.revision()},
                            {"severity", f.severity()}});
        }
        tenants.back()["tables"] = tables;
        if (!t.table_sizes_error().empty()) {
          tenants.back()["table_sizes_error"] = t.table_sizes_error();
        }
      }
      waves.push_back({{"wave", w.number()}, {"tenants", tenants}});
    }
    std::vector<std::string> skipped;
    for (const auto& t : plan.skipped()) skipped.push_back(t.id());
    ctx.out << nlohmann::json{{"bundle", plan.bundle_digest()},
                              {"waves", waves},
                              {"skipped", skipped},
                              {"lint", LintFindingsJson(Reports(plan))}}
                   .dump(2)
            << "\n";
    return RehearsalsFailed(plan) > 0 ? kExitCheckFailed : kExitOk;
  }
  ctx.out << "Plan against bundle " << plan.bundle_digest().substr(0, 12) << " (heads "
          << absl::StrJoin(plan.target_heads(), ", ") << "):\n";
  for (const auto& w : plan.waves()) {
    ctx.out << (w.number() == 0 ? "Wave 0 (canary)" : absl::StrCat("Wave ", w.number()))
            << ": " << w.tenants_size() << " tenants\n";
    for (const auto& t : w.tenants()) {
      ctx.out << "  " << t.id() << " (" << t.agent() << "): " << HeadsText(t.start_heads(), ",")
              << " -> " << t.steps_size() << " steps: " << absl::StrJoin(t.steps(), " ")
              << "\n";
      for (const auto& f : t.table_findings()) {
        ctx.out << "    table " << f.table() << " " << proto::HumanBytes(f.bytes())
                << (f.rows() >= 0 ? absl::StrCat(", ~", f.rows(), " rows") : "") << ": "
                << f.severity() << " " << f.rule() << " (revision " << f.revision() << ")"
                << (f.severity() == "error" ? " -- over --lint-large" : "") << "\n";
      }
      if (!t.table_sizes_error().empty()) {
        ctx.out << "    table sizes unknown: " << t.table_sizes_error() << "\n";
      }
      if (t.has_rehearsal()) PrintRehearsal(ctx.out, t.rehearsal());
    }
  }
  if (plan.skipped_size() > 0) {
    std::vector<std::string> ids;
    for (const auto& t : plan.skipped()) ids.push_back(t.id());
    ctx.out << "Skipped, already at the target: " << absl::StrJoin(ids, ", ") << "\n";
  }
  if (plan.waves_size() > 0) {
    ctx.out << "Lint of the revisions it would run:\n";
    int errors = PrintLintFindings(ctx, Reports(plan), ctx.options.show_ignored);
    if (errors > 0 && !ctx.options.fleet.allow_lint_errors) {
      ctx.out << "rollout start refuses these errors unless --allow-lint-errors\n";
    }
  }
  if (ctx.options.fleet.rehearse) {
    int tenants = 0;
    for (const auto& w : plan.waves()) tenants += w.tenants_size();
    const int failed = RehearsalsFailed(plan);
    ctx.out << "Rehearsal: " << tenants - failed << " of " << tenants << " tenants ok";
    if (failed > 0) ctx.out << ", " << failed << " would fail (rollout start --rehearse refuses)";
    ctx.out << "; every rehearsal was rolled back\n";
    return failed > 0 ? kExitCheckFailed : kExitOk;
  }
  return kExitOk;
}

// rollout start
int Start(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;
  int code = kExitOk;
  fleet::v1::RolloutSpec spec;
  if (!BuildSpec(ctx, &spec, &code)) return code;
  fleet::v1::Rollout r;
  grpc::Status s = stub.StartRollout(&call.context, spec, &r);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx) && !ctx.options.fleet.watch) {
    ctx.out << RolloutJson(r).dump(2) << "\n";
    return kExitOk;
  }
  ctx.out << "Started rollout " << r.id() << ": " << r.tenants_size() << " tenants in "
          << r.waves() << " waves (" << Name(r.state()) << ")\n";
  if (!r.reason().empty()) ctx.out << r.reason() << "\n";
  if (ctx.options.fleet.watch) return Watch(ctx, stub, r.id());
  return kExitOk;
}

// rollout list
int List(Context& ctx, ControllerCall& call) {
  Stub& stub = *call.stub;

  fleet::v1::ListRolloutsResponse resp;
  grpc::Status s = stub.ListRollouts(&call.context, {}, &resp);
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

// The one ID a rollout action takes; empty (and the error printed) when not.
std::string RolloutId(Context& ctx, const char* action) {
  if (ctx.options.fleet.args.size() == 1) return ctx.options.fleet.args[0];
  UsageError(ctx, absl::StrCat("rollout ", action, " takes one ID"));
  return "";
}

// rollout watch ID
int WatchAction(Context& ctx, ControllerCall& call) {
  std::string id = RolloutId(ctx, "watch");
  return id.empty() ? kExitUsage : Watch(ctx, *call.stub, id);
}

// rollout status ID: exit 1 when it ended otherwise than succeeded.
int StatusAction(Context& ctx, ControllerCall& call) {
  std::string id = RolloutId(ctx, "status");
  if (id.empty()) return kExitUsage;
  fleet::v1::GetRolloutRequest req;
  req.set_id(id);
  fleet::v1::Rollout r;
  grpc::Status s = call.stub->GetRollout(&call.context, req, &r);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    ctx.out << RolloutJson(r).dump(2) << "\n";
  } else {
    PrintRollout(ctx, r);
  }
  return r.state() == fleet::v1::ROLLOUT_SUCCEEDED || !Terminal(r) ? kExitOk : kExitCheckFailed;
}

// What a rollout is (target, tenants, waves, gates): the flags of start and
// plan alike.
void AddSpecFlags(CLI::App& c, Options& o) {
  FleetOptions& f = o.fleet;
  c.add_option("--to", f.to, "Target: head, heads or a revision (default heads)");
  c.add_option("--selector", f.selector, "Only tenants with these labels: k=v,k2=v2");
  c.add_option("--canary", f.canary, "N or N% of tenants first (default 1; canary=true first)");
  c.add_option("--waves", f.waves, "Cumulative waves (default 10%,50%,100%)");
  c.add_option("--parallel", f.parallel, "Tenants at once within a wave (default 8)");
  c.add_option("--max-failures", f.max_failures, "Failures a wave tolerates: N or N% (default 0)");
  c.add_option("--bake", f.bake, "Wait after each wave, then check its tenants again (e.g. 10m)");
  c.add_option("--pause-after", f.pause_after, "Gates: canary, each, or wave numbers 1,2");
  c.add_option("--on-failure", f.on_failure,
               "rollback-all (default), rollback-wave, or halt");
  c.add_option("--bundle", f.bundle, "Bundle digest (8+ hex digits; default the newest)");
  c.add_option("--tenant-timeout", f.tenant_timeout,
               "How long to retry a tenant whose agent is unreachable (default 10m)");
  c.add_option("--file", f.file, "Read the rollout from a TOML file (flags override it)");
  c.add_option("--lint-large", f.lint_large,
               "A lock-heavy lint warning on a table at least this big on a tenant is an "
               "error for that tenant (plan shows sizes per tenant; start refuses unless "
               "--allow-lint-errors)")
      ->capture_default_str();
  c.add_flag("--rehearse", f.rehearse,
             "Rehearse each tenant's upgrade first, in a transaction that is always rolled "
             "back (operator role: it takes real locks): plan shows per tenant ok or the "
             "failing statement and the locks; start refuses if any fails");
}

// An operator's action on rollout ID: pause, resume, abort, rollback.
int Act(Context& ctx, ControllerCall& call, const char* action) {
  std::string id = RolloutId(ctx, action);
  if (id.empty()) return kExitUsage;
  fleet::v1::RolloutActionRequest req;
  req.set_id(id);
  req.set_action(action);
  req.set_actor(WhoAmI());
  fleet::v1::Rollout r;
  grpc::Status s = call.stub->RolloutAction(&call.context, req, &r);
  if (!s.ok()) return Failed(ctx, s);
  if (Json(ctx)) {
    ctx.out << RolloutJson(r).dump(2) << "\n";
  } else {
    PrintRollout(ctx, r);
  }
  return kExitOk;
}
int Pause(Context& ctx, ControllerCall& call) { return Act(ctx, call, "pause"); }
int Resume(Context& ctx, ControllerCall& call) { return Act(ctx, call, "resume"); }
int Abort(Context& ctx, ControllerCall& call) { return Act(ctx, call, "abort"); }
int Rollback(Context& ctx, ControllerCall& call) { return Act(ctx, call, "rollback"); }

}  // namespace

std::vector<Command> RolloutVerbs() {
  return {
      {"rollout",
       "Roll a target out in waves, canary first, halting and rolling back on failure: start, "
       "plan, status ID, list, watch ID, pause ID, resume ID (promote), abort ID, rollback ID.",
       nullptr, nullptr,
       {{"start", "Start a rollout: plan its waves, lint them, then run them",
         [](CLI::App& c, Options& o) {
           AddSpecFlags(c, o);
           c.add_flag("--watch", o.fleet.watch, "Follow the rollout until it ends");
           c.add_flag("--allow-lint-errors", o.fleet.allow_lint_errors,
                      "Start even though lint finds errors in the revisions it would run "
                      "(see fleetctl lint)");
         },
         WithController<Start>},
        {"plan", "Print the waves a rollout would run; act on nothing",
         [](CLI::App& c, Options& o) {
           AddSpecFlags(c, o);
           c.add_flag("--show-ignored", o.show_ignored,
                      "Also list the lint findings lint:ignore silenced");
         },
         WithController<Plan>},
        {"status", "A rollout and every tenant in it", nullptr, WithController<StatusAction>, {},
         "ID"},
        {"list", "All rollouts, newest first", nullptr, WithController<List>},
        {"watch", "Follow a rollout until it ends", nullptr, WithController<WatchAction>, {}, "ID"},
        {"pause", "Stop starting tenants (in-flight ones finish)", nullptr, WithController<Pause>,
         {}, "ID"},
        {"resume", "Go on after a pause or a gate", nullptr, WithController<Resume>, {}, "ID"},
        {"promote", "The same as resume", nullptr, WithController<Resume>, {}, "ID"},
        {"abort", "Stop for good, without rolling back", nullptr, WithController<Abort>, {}, "ID"},
        {"rollback", "Put every tenant the rollout moved back", nullptr, WithController<Rollback>,
         {}, "ID"}}},
  };
}

// Every 300 ms, or less often when one look costs more: a look reads every
// tenant of the rollout (about 45 ms of the controller's CPU at 10,000
// tenants), and a watcher should not take the CPU the migrations need. At
// most a tenth of the time goes to looking.
absl::Duration WatchInterval(absl::Duration look) {
  return std::clamp(10 * look, absl::Milliseconds(300), absl::Seconds(5));
}

}  // namespace fleet::cli
