// The rollout verb: plan, start, status, list, watch, pause, resume
// (promote), abort, rollback. Each action is one handler of the table.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/controller_call.h"
#include "cli/flags.h"
#include "migrations/status_macros.h"
#include "proto/config_file.h"
#include "proto/convert.h"
#include "proto/states.h"
#include "toml++/toml.h"

namespace fleet::cli {
namespace {

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

// Whether watching can stop: nothing more happens without a person.
bool Terminal(const fleet::v1::Rollout& r) {
  return proto::IsTerminal(r.state()) || r.state() == fleet::v1::ROLLOUT_ROLLBACK_FAILED ||
         r.state() == fleet::v1::ROLLOUT_HALTED;
}

std::string Name(fleet::v1::RolloutState s) { return proto::StateName(s); }
std::string Name(fleet::v1::RolloutTenantState s) { return proto::StateName(s); }

std::string Counts(const fleet::v1::Rollout& r) {
  std::map<std::string, int> c(r.counts().begin(), r.counts().end());
  std::vector<std::string> parts;
  for (const char* s : {"succeeded", "failed", "running", "pending", "rolling_back",
                        "rolled_back", "rollback_failed"}) {
    if (c[s]) parts.push_back(absl::StrCat(c[s], " ", s));
  }
  return parts.empty() ? "no tenants" : absl::StrJoin(parts, ", ");
}

// A batched revision's progress on one tenant: "52000 rows, 6 batches,
// 4100 rows/s" while it runs.
std::string ProgressText(const fleet::v1::BatchProgress& p) {
  return absl::StrCat(p.rows(), " rows, ", p.batches(), p.batches() == 1 ? " batch" : " batches",
                      p.done() ? "" : absl::StrCat(", ", static_cast<int64_t>(p.rows_per_second()),
                                                   " rows/s"),
                      p.resumed() ? " (resumed)" : "");
}

// The rows batched revisions changed across the rollout so far.
int64_t BatchRows(const fleet::v1::Rollout& r) {
  int64_t rows = 0;
  for (const auto& t : r.tenants()) rows += t.progress().rows();
  return rows;
}

void PrintRollout(Context& ctx, const fleet::v1::Rollout& r) {
  ctx.out << "Rollout " << r.id() << ": " << Name(r.state()) << "\n"
          << "  target " << r.spec().target() << " (bundle " << r.spec().bundle_digest().substr(0, 12)
          << "), wave " << std::min(r.wave(), r.waves()) << " of " << r.waves() << ", "
          << Counts(r) << "\n";
  if (!r.reason().empty()) ctx.out << "  " << r.reason() << "\n";
  if (!r.stalled().empty()) ctx.out << "  STALLED: " << r.stalled() << "\n";
  // A BATCHES column when a batched revision ran anywhere.
  const bool batched = std::any_of(r.tenants().begin(), r.tenants().end(),
                                   [](const auto& t) { return t.has_progress(); });
  std::vector<std::vector<std::string>> rows{{"TENANT", "WAVE", "STATE", "FROM", "NOW", "ERROR"}};
  if (batched) rows[0].insert(rows[0].end() - 1, "BATCHED");
  for (const auto& t : r.tenants()) {
    rows.push_back({t.id(), std::to_string(t.wave()), Name(t.state()), HeadsText(t.start_heads(), ","),
                    t.heads().empty() && t.state() == fleet::v1::TENANT_PENDING ? "-"
                                                                                : HeadsText(t.heads(), ","),
                    t.error().empty() ? "-" : t.error()});
    if (batched) {
      rows.back().insert(rows.back().end() - 1,
                         t.has_progress() ? ProgressText(t.progress()) : std::string("-"));
    }
  }
  ctx.out << "\n";
  PrintTable(ctx.out, rows);
}

nlohmann::json RehearsalJson(const fleet::v1::Rehearsal& r) {
  nlohmann::json locks = nlohmann::json::array();
  for (const auto& l : r.locks()) locks.push_back({{"relation", l.relation()}, {"mode", l.mode()}});
  return {{"outcome", r.outcome()},
          {"error", r.error()},
          {"revision", r.revision()},
          {"file", r.file()},
          {"line", r.line()},
          {"statement", r.statement()},
          {"duration_ms", r.duration_ms()},
          {"locks", locks},
          {"rehearsed", std::vector<std::string>(r.rehearsed().begin(), r.rehearsed().end())},
          {"not_rehearsed",
           std::vector<std::string>(r.not_rehearsed().begin(), r.not_rehearsed().end())}};
}

// A rehearsal for people, indented under its tenant.
void PrintRehearsal(std::ostream& out, const fleet::v1::Rehearsal& r) {
  if (r.outcome() == "ok") {
    std::vector<std::string> locks;
    for (const auto& l : r.locks()) locks.push_back(absl::StrCat(l.relation(), " ", l.mode()));
    out << "    rehearsal ok (" << r.duration_ms() << " ms)"
        << (locks.empty() ? "" : "; locks " + absl::StrJoin(locks, ", ")) << "\n";
  } else if (r.outcome() == "failed") {
    out << "    rehearsal FAILED at revision " << r.revision() << " (" << r.file() << ":"
        << r.line() << "): " << r.error() << "\n";
    if (!r.statement().empty()) {
      std::string statement(absl::StripAsciiWhitespace(r.statement()));
      out << "      " << absl::StrReplaceAll(statement, {{"\n", "\n      "}}) << "\n";
    }
  } else {
    out << "    rehearsal not run: " << r.error() << "\n";
  }
  if (r.not_rehearsed_size() > 0) {
    out << "    not rehearsed (non-transactional, and what follows): "
        << absl::StrJoin(r.not_rehearsed(), " ") << "\n";
  }
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
    if (t.has_rehearsal()) tenants.back()["rehearsal"] = RehearsalJson(t.rehearsal());
    if (t.has_progress()) {
      const auto& p = t.progress();
      tenants.back()["progress"] = {{"revision", p.revision()},
                                    {"rows", p.rows()},
                                    {"batches", p.batches()},
                                    {"rows_per_second", p.rows_per_second()},
                                    {"done", p.done()},
                                    {"resumed", p.resumed()},
                                    {"updated_at", p.updated_at()}};
    }
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
  std::vector<std::string> batching;
  for (const auto& t : r.tenants()) {
    if (t.state() == fleet::v1::TENANT_RUNNING && t.has_progress() && !t.progress().done()) {
      batching.push_back(absl::StrCat("    ", t.id(), ": ", t.progress().revision(), " ",
                                      ProgressText(t.progress())));
    }
  }
  if (!batching.empty()) {
    absl::StrAppend(&out, "  batching (", BatchRows(r), " rows so far):\n");
    for (size_t i = 0; i < std::min<size_t>(batching.size(), 8); ++i) {
      absl::StrAppend(&out, batching[i], "\n");
    }
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

// Planned tenants whose rehearsal did not come out ok.
// The plan's lint findings as fleetctl shows them.
std::vector<LintReport> Reports(const fleet::v1::RolloutPlan& plan) {
  std::vector<LintReport> out;
  for (const fleet::v1::LintFinding& f : plan.lint()) {
    out.push_back({.rule = f.rule(),
                   .severity = f.severity(),
                   .revision = f.revision(),
                   .file = f.file(),
                   .line = f.line(),
                   .statement = f.statement(),
                   .table = f.table(),
                   .detail = f.detail(),
                   .why = f.why(),
                   .fix = f.fix(),
                   .ignored = f.ignored(),
                   .ignore_reason = f.ignore_reason()});
  }
  return out;
}

int RehearsalsFailed(const fleet::v1::RolloutPlan& plan) {
  int failed = 0;
  for (const auto& w : plan.waves()) {
    for (const auto& t : w.tenants()) failed += t.has_rehearsal() && t.rehearsal().outcome() != "ok";
  }
  return failed;
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
