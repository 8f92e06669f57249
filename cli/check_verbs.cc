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
#include "migrations/autogenerate.h"
#include "migrations/lint.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"
#include "proto/convert.h"

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
  std::vector<fleet::v1::LintFinding> findings;
  for (const migrations::LintFinding& f : migrations::LintRevisions(**graph, *revisions)) {
    findings.push_back(proto::LintFindingToProto(f));
  }
  int errors = 0;
  if (Json(ctx)) {
    for (const auto& f : findings) errors += !f.ignored() && f.severity() == "error";
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

int RunTest(Context& ctx) {
  const Options& o = ctx.options;
  std::string dev = o.dev_url;
  if (dev.empty()) {
    if (const char* env = std::getenv("FLEET_DEV_URL")) dev = env;
  }
  if (dev.empty()) {
    return UsageError(ctx,
                      "test needs a scratch PostgreSQL database: --dev-url or FLEET_DEV_URL (an "
                      "empty database; fleetctl builds and drops a schema in it)");
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto table = VersionTableFor(ctx);
  if (!table.ok()) return Fail(ctx, table.status());
  auto config = ReadConfig(ctx);
  if (!config.ok()) return Fail(ctx, config.status());

  // One head, unless fleet.toml declares the heads the branches end at.
  std::vector<std::string> heads = Ids(g, g.heads());
  std::vector<std::string> declared_heads;
  if (*config != nullptr) {
    if (const toml::array* a = (**config)["heads"].as_array()) {
      for (const auto& h : *a) declared_heads.push_back(h.value_or(std::string()));
    }
  }
  std::vector<std::string> sorted_heads = heads, sorted_declared = declared_heads;
  std::sort(sorted_heads.begin(), sorted_heads.end());
  std::sort(sorted_declared.begin(), sorted_declared.end());
  if (declared_heads.empty() ? heads.size() > 1 : sorted_heads != sorted_declared) {
    ctx.out << "FAIL heads: the versions directory has " << heads.size() << " heads ("
            << HeadsText(heads) << ")"
            << (declared_heads.empty()
                    ? "; merge them (fleetctl merge heads), or list them as heads = [...] in "
                      "fleet.toml when the branches are meant"
                    : absl::StrCat(" where fleet.toml declares ", HeadsText(declared_heads)))
            << "\n";
    return kExitCheckFailed;
  }
  ctx.out << "ok   heads: " << HeadsText(heads) << "\n";

  auto result = migrations::RunStairway(g, dev, table->name, [&](const migrations::StairwayStep& s) {
    ctx.out << "ok   " << s.revision << " (" << s.path << "): "
            << (s.reversible ? "upgrade, verify, downgrade, upgrade"
                             : "upgrade, verify (no downgrade to test)")
            << "\n";
    ctx.out.flush();
  });
  if (!result.ok()) return Fail(ctx, result.status());
  if (!result->failed_revision.empty()) {
    ctx.out << "FAIL " << result->failed_revision << " (" << result->failed_path
            << "): " << result->failure << "\n";
    return kExitCheckFailed;
  }
  // The declared schema, when there is one, must be what the heads build.
  bool has_declared = !o.declared.empty();
  if (*config != nullptr && (**config)["schema"].value<std::string>()) has_declared = true;
  if (has_declared) {
    ctx.options.dev_url = dev;
    std::ostringstream detail;
    Context inner{ctx.options, detail, ctx.err, ctx.fs, ctx.interrupt, false, ctx.config};
    int code = RunAutogenerateCheck(inner);
    if (code == kExitOk) {
      ctx.out << "ok   declared schema: the heads build it\n";
    } else if (code == kExitCheckFailed) {
      ctx.out << "FAIL declared schema: the heads do not build it; what would make them:\n"
              << detail.str();
      return kExitCheckFailed;
    } else {
      return code;
    }
  }
  ctx.out << "All " << result->passed.size() << " revisions passed.\n";
  return kExitOk;
}

std::string RuleList() {
  std::string out = "Rules (severity):";
  for (const migrations::LintRule& r : migrations::LintRules()) {
    absl::StrAppend(&out, "\n  ", r.id, " (", migrations::LintSeverityName(r.severity), ")");
  }
  return out;
}

}  // namespace

int PrintLintFindings(Context& ctx, const std::vector<fleet::v1::LintFinding>& findings,
                      bool show_ignored) {
  int errors = 0, warnings = 0, ignored = 0;
  for (const fleet::v1::LintFinding& f : findings) {
    if (f.ignored()) {
      ++ignored;
      if (!show_ignored) continue;
    } else if (f.severity() == "error") {
      ++errors;
    } else {
      ++warnings;
    }
    ctx.out << f.file() << ":" << f.line() << ": " << (f.ignored() ? "ignored " : "")
            << f.severity() << " " << f.rule() << " (revision " << f.revision() << ")\n";
    if (!f.statement().empty()) ctx.out << "    " << f.statement() << "\n";
    std::string what = f.table().empty() ? "" : absl::StrCat("table ", f.table());
    if (!f.detail().empty()) absl::StrAppend(&what, what.empty() ? "" : ", ", f.detail());
    ctx.out << "    why: " << (what.empty() ? "" : what + ": ") << f.why() << "\n";
    ctx.out << "    instead: " << f.fix() << "\n";
    if (f.ignored()) ctx.out << "    ignored because: " << f.ignore_reason() << "\n";
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

nlohmann::json LintFindingsJson(const std::vector<fleet::v1::LintFinding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const fleet::v1::LintFinding& f : findings) {
    out.push_back({{"rule", f.rule()},
                   {"severity", f.severity()},
                   {"revision", f.revision()},
                   {"file", f.file()},
                   {"line", f.line()},
                   {"statement", f.statement()},
                   {"table", f.table()},
                   {"detail", f.detail()},
                   {"why", f.why()},
                   {"fix", f.fix()},
                   {"ignored", f.ignored()},
                   {"ignore_reason", f.ignore_reason()}});
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
