#include "cli/rollout_view.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "cli/controller_call.h"
#include "proto/convert.h"
#include "proto/states.h"

namespace fleet::cli::rollout_view {
namespace {

// A batched revision's progress on one tenant: "52000 rows, 6 batches,
// 4100 rows/s" while it runs.
std::string ProgressText(const fleet::v1::BatchProgress& p) {
  return absl::StrCat(
      p.rows(), " rows, ", p.batches(), p.batches() == 1 ? " batch" : " batches",
      p.done() ? "" : absl::StrCat(", ", static_cast<int64_t>(p.rows_per_second()), " rows/s"),
      p.resumed() ? " (resumed)" : "");
}

}  // namespace

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
  for (const char* s : {"succeeded", "failed", "running", "pending", "rolling_back", "rolled_back",
                        "rollback_failed"}) {
    if (c[s]) parts.push_back(absl::StrCat(c[s], " ", s));
  }
  return parts.empty() ? "no tenants" : absl::StrJoin(parts, ", ");
}

// The rows batched revisions changed across the rollout so far.
int64_t BatchRows(const fleet::v1::Rollout& r) {
  int64_t rows = 0;
  for (const auto& t : r.tenants()) rows += t.progress().rows();
  return rows;
}

void PrintRollout(Context& ctx, const fleet::v1::Rollout& r) {
  ctx.out << "Rollout " << r.id() << ": " << Name(r.state()) << "\n"
          << "  target " << r.spec().target() << " (bundle "
          << r.spec().bundle_digest().substr(0, 12) << "), wave " << std::min(r.wave(), r.waves())
          << " of " << r.waves() << ", " << Counts(r) << "\n";
  if (!r.reason().empty()) ctx.out << "  " << r.reason() << "\n";
  if (!r.stalled().empty()) ctx.out << "  STALLED: " << r.stalled() << "\n";
  // A BATCHES column when a batched revision ran anywhere.
  const bool batched = std::any_of(r.tenants().begin(), r.tenants().end(),
                                   [](const auto& t) { return t.has_progress(); });
  std::vector<std::vector<std::string>> rows{{"TENANT", "WAVE", "STATE", "FROM", "NOW", "ERROR"}};
  if (batched) rows[0].insert(rows[0].end() - 1, "BATCHED");
  for (const auto& t : r.tenants()) {
    rows.push_back(
        {t.id(), std::to_string(t.wave()), Name(t.state()), HeadsText(t.start_heads(), ","),
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
    tenants.push_back(
        {{"id", t.id()},
         {"agent", t.agent()},
         {"wave", t.wave()},
         {"state", Name(t.state())},
         {"start_heads", std::vector<std::string>(t.start_heads().begin(), t.start_heads().end())},
         {"heads", std::vector<std::string>(t.heads().begin(), t.heads().end())},
         {"error", t.error()},
         {"started_at", t.started_at()},
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
  return {{"id", r.id()},
          {"state", Name(r.state())},
          {"target", r.spec().target()},
          {"bundle", r.spec().bundle_digest()},
          {"wave", r.wave()},
          {"waves", r.waves()},
          {"reason", r.reason()},
          {"created_at", r.created_at()},
          {"updated_at", r.updated_at()},
          {"counts", std::map<std::string, int>(r.counts().begin(), r.counts().end())},
          {"stalled", r.stalled()},
          {"tenants", tenants}};
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
  std::string eta =
      done > 0 && done < total ? clock(elapsed * (total - done) / done) : std::string("-");
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
    absl::StrAppend(&out,
                    absl::StrFormat("  wave %-2d%-9s [%s%s] %d/%d  ", w, w == 0 ? "(canary)" : "",
                                    std::string(bar, '#'), std::string(20 - bar, '-'), finished, n),
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
    if (!t.error().empty())
      errors.push_back(absl::StrCat("    ", t.id(), ": ", t.error().substr(0, 160)));
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

// Planned tenants whose rehearsal did not come out ok.
int RehearsalsFailed(const fleet::v1::RolloutPlan& plan) {
  int failed = 0;
  for (const auto& w : plan.waves()) {
    for (const auto& t : w.tenants())
      failed += t.has_rehearsal() && t.rehearsal().outcome() != "ok";
  }
  return failed;
}

}  // namespace fleet::cli::rollout_view
