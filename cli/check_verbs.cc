// The verbs that check a history before it ships: lint (every statement
// against the rules of migrations/lint.h) and test (the stairway of upgrades
// and downgrades in a scratch database).
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "cli/online.h"
#include "migrations/lint.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

// The revisions RANGE names: "[start]:[end]" as history reads it, one
// target (an id, a prefix, a label, head, heads), or, empty, all of them.
absl::StatusOr<std::vector<Index>> RevisionsIn(const RevisionGraph& g, const std::string& range) {
  if (range.empty()) return g.History("", "");
  if (absl::StrContains(range, ':')) {
    std::vector<std::string> parts = absl::StrSplit(range, absl::MaxSplits(':', 1));
    return g.History(absl::StripAsciiWhitespace(parts[0]), absl::StripAsciiWhitespace(parts[1]));
  }
  return g.Resolve(range);
}

int RunLint(Context& ctx) {
  auto dir = VersionsDir(ctx);
  if (!dir.ok()) return Fail(ctx, dir.status());
  // Statements the migrator refuses at load (COMMIT in a transactional
  // revision, CONCURRENTLY in a transaction) are loaded and reported as
  // findings, beside everything else.
  auto scripts = migrations::LoadScripts(
      ctx.fs, *dir, {.keep_misplaced_transaction_statements = true});
  if (!scripts.ok()) return Fail(ctx, scripts.status());
  auto graph = RevisionGraph::Build(*std::move(scripts));
  if (!graph.ok()) return Fail(ctx, graph.status());
  auto revisions = RevisionsIn(**graph, ctx.options.range);
  if (!revisions.ok()) return Fail(ctx, revisions.status());
  std::vector<LintReport> findings;
  for (const migrations::LintFinding& f : migrations::LintRevisions(**graph, *revisions)) {
    findings.push_back({.rule = f.rule->id,
                        .severity = std::string(migrations::LintSeverityName(f.severity)),
                        .revision = f.revision,
                        .file = f.path,
                        .line = f.line,
                        .statement = f.statement,
                        .table = f.table,
                        .detail = f.detail,
                        .why = f.rule->why,
                        .fix = f.rule->fix,
                        .ignored = f.ignored,
                        .ignore_reason = f.ignore_reason});
  }
  int errors = 0;
  if (Json(ctx)) {
    for (const auto& f : findings) errors += !f.ignored && f.severity == "error";
    ctx.out << nlohmann::json{{"revisions", revisions->size()},
                              {"findings", LintFindingsJson(findings)}}
                   .dump(2)
            << "\n";
  } else {
    errors = PrintLintFindings(ctx, findings, ctx.options.show_ignored);
    ctx.out << "(" << revisions->size() << (revisions->size() == 1 ? " revision" : " revisions")
            << " linted)\n";
  }
  return errors > 0 ? kExitCheckFailed : kExitOk;
}

std::string RuleList() {
  std::string out = "Rules (severity):";
  for (const migrations::LintRule& r : migrations::LintRules()) {
    absl::StrAppend(&out, "\n  ", r.id, " (", migrations::LintSeverityName(r.severity), ")");
  }
  return out;
}

}  // namespace

int PrintLintFindings(Context& ctx, const std::vector<LintReport>& findings, bool show_ignored) {
  int errors = 0, warnings = 0, ignored = 0;
  for (const LintReport& f : findings) {
    if (f.ignored) {
      ++ignored;
      if (!show_ignored) continue;
    } else if (f.severity == "error") {
      ++errors;
    } else {
      ++warnings;
    }
    ctx.out << f.file << ":" << f.line << ": " << (f.ignored ? "ignored " : "") << f.severity << " "
            << f.rule << " (revision " << f.revision << ")\n";
    if (!f.statement.empty()) ctx.out << "    " << f.statement << "\n";
    std::string what = f.table.empty() ? "" : absl::StrCat("table ", f.table);
    if (!f.detail.empty()) absl::StrAppend(&what, what.empty() ? "" : ", ", f.detail);
    ctx.out << "    why: " << (what.empty() ? "" : what + ": ") << f.why << "\n";
    ctx.out << "    instead: " << f.fix << "\n";
    if (f.ignored) ctx.out << "    ignored because: " << f.ignore_reason << "\n";
  }
  if (errors + warnings == 0) {
    ctx.out << "No lint findings";
  } else {
    ctx.out << errors << (errors == 1 ? " error, " : " errors, ") << warnings
            << (warnings == 1 ? " warning" : " warnings");
  }
  if (ignored > 0) {
    ctx.out << " (" << ignored << " ignored"
            << (show_ignored ? "" : "; --show-ignored lists them") << ")";
  }
  ctx.out << "\n";
  return errors;
}

nlohmann::json LintFindingsJson(const std::vector<LintReport>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const LintReport& f : findings) {
    out.push_back({{"rule", f.rule},
                   {"severity", f.severity},
                   {"revision", f.revision},
                   {"file", f.file},
                   {"line", f.line},
                   {"statement", f.statement},
                   {"table", f.table},
                   {"detail", f.detail},
                   {"why", f.why},
                   {"fix", f.fix},
                   {"ignored", f.ignored},
                   {"ignore_reason", f.ignore_reason}});
  }
  return out;
}

std::vector<Command> CheckVerbs() {
  static const std::string lint_help = absl::StrCat(
      "Lint revisions with PostgreSQL's parser: locks, rewrites, lost data, irreversible "
      "revisions. Exit 1 when an error remains. Silence one finding with '-- lint:ignore RULE "
      "reason' on the line above its statement.\n",
      RuleList());
  return {
      {"lint", lint_help.c_str(),
       [](CLI::App& c, Options& o) {
         c.add_option("RANGE", o.range,
                      "Revisions: [start]:[end] as history takes it (base:head, ae10:), one "
                      "target, or all when omitted");
         c.add_flag("--show-ignored", o.show_ignored,
                    "Also list the findings lint:ignore silenced, with their reasons");
       },
       RunLint},
      {"test",
       "Test every revision in an empty scratch database: one head; for each revision in order "
       "upgrade, run its verify queries, downgrade, check the schema is as before, upgrade "
       "again; then, when a declared schema is configured, that the heads build it. Exit 1 "
       "naming the first revision that breaks.",
       [](CLI::App& c, Options& o) {
         c.add_option("--dev-url", o.dev_url,
                      "An empty scratch database (default: $FLEET_DEV_URL)");
         c.add_option("--declared", o.declared,
                      "The declared schema to compare with the heads (default: schema = in "
                      "fleet.toml; none: not compared)");
       },
       RunTest},
  };
}

}  // namespace fleet::cli
