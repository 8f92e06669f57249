// The verbs that read the versions directory only: heads, branches,
// history (with --dsn it marks the database's revisions), show.
#include <algorithm>
#include <optional>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "cli/online.h"
#include "cli/revision_format.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

// These verbs show the history: they read the scripts' headers, not their
// SQL (ParseScriptOptions::headers_only).
constexpr migrations::ParseScriptOptions kHeadersOnly{.headers_only = true};

int RunHeads(Context& ctx) {
  auto graph = LoadGraph(ctx, kHeadersOnly);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  const std::vector<Index>& revs = ctx.options.resolve_dependencies ? g.real_heads() : g.heads();
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : revs) {
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r) << "\n";
    } else {
      ctx.out << FormatRevisionLine(g, r, {.include_branches = true, .tree_indicators = false})
              << "\n";
    }
  }
  return kExitOk;
}

int RunHistory(Context& ctx) {
  std::string lower, upper;
  if (!ctx.options.range.empty()) {
    std::vector<std::string> parts = absl::StrSplit(ctx.options.range, absl::MaxSplits(':', 1));
    if (parts.size() != 2) {
      return UsageError(ctx, "History range requires [start]:[end], [start]:, or :[end]");
    }
    lower = std::string(absl::StripAsciiWhitespace(parts[0]));
    upper = std::string(absl::StripAsciiWhitespace(parts[1]));
  }
  auto graph = LoadGraph(ctx, kHeadersOnly);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  std::vector<std::string> db_heads;
  if (ctx.options.indicate_current || lower == "current" || upper == "current") {
    int code = kExitOk;
    std::optional<std::vector<std::string>> heads = DatabaseHeads(ctx, g, &code);
    if (!heads) return code;
    db_heads = *std::move(heads);
    for (std::string* end : {&lower, &upper}) {
      if (*end != "current") continue;
      if (db_heads.size() > 1) {
        return Fail(ctx, absl::FailedPreconditionError(
                             "'current' is ambiguous: the database has several heads (" +
                             absl::StrJoin(db_heads, ", ") + ")"));
      }
      *end = db_heads.empty() ? "base" : db_heads.front();
    }
  }
  auto is_current = [&](Index r) {
    return std::find(db_heads.begin(), db_heads.end(), g.id(r)) != db_heads.end();
  };
  auto revs = g.History(lower, upper);
  if (!revs.ok()) return Fail(ctx, revs.status());
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : *revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : *revs) {
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r, is_current(r)) << "\n";
    } else {
      ctx.out << FormatRevisionLine(g, r,
                                    {.include_branches = true,
                                     .include_doc = true,
                                     .include_parents = true,
                                     .current = is_current(r)})
              << "\n";
    }
  }
  return kExitOk;
}

int RunBranches(Context& ctx) {
  auto graph = LoadGraph(ctx, kHeadersOnly);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto revs = g.History("", "");
  if (!revs.ok()) return Fail(ctx, revs.status());
  nlohmann::json j = nlohmann::json::array();
  for (Index r : *revs) {
    if (!g.IsBranchPoint(r)) continue;
    if (Json(ctx)) {
      j.push_back({{"branch_point", RevisionJson(g, r)},
                   {"children", Ids(g, g.next_revisions(r))}});
      continue;
    }
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r) << "\n";
    } else {
      ctx.out << FormatRevisionLine(g, r, {.include_branches = true}) << "\n";
    }
    std::vector<std::string> lines;
    for (Index c : g.next_revisions(r)) {
      lines.push_back(absl::StrCat(
          std::string(g.id(r).size(), ' '), " -> ",
          FormatRevisionLine(g, c, {.include_branches = true, .include_doc = ctx.options.verbose})));
    }
    ctx.out << absl::StrJoin(lines, "\n") << "\n\n";
  }
  if (Json(ctx)) ctx.out << j.dump(2) << "\n";
  return kExitOk;
}

int RunShow(Context& ctx) {
  if (ctx.options.target == "current") {
    return UsageError(ctx, "'show current' needs a database connection");
  }
  auto graph = LoadGraph(ctx, kHeadersOnly);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto revs = g.Resolve(ctx.options.target);
  if (!revs.ok()) return Fail(ctx, revs.status());
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : *revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : *revs) ctx.out << FormatRevisionBlock(g, r) << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> GraphVerbs() {
  return {
      {"heads", "Show the head revisions of the versions directory.",
       [](CLI::App& c, Options& o) {
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
         c.add_flag("--resolve-dependencies", o.resolve_dependencies,
                    "Treat depends_on as down revisions (only real heads)");
       },
       RunHeads},
      {"branches", "Show branch points and the revisions they branch into.",
       [](CLI::App& c, Options& o) {
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
       },
       RunBranches},
      {"history", "List revisions, newest first.",
       [](CLI::App& c, Options& o) {
         c.add_option("-r,--rev-range", o.range,
                      "Range [start]:[end], e.g. ae10:head, base:, current: (needs --dsn)");
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
         c.add_flag("-i,--indicate-current", o.indicate_current,
                    "Mark the database's current revisions (needs --dsn)");
       },
       RunHistory},
      {"show", "Show the revision(s) a target names (id, prefix, label, head, heads).",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.target, "Target expression")->required();
       },
       RunShow},
  };
}

}  // namespace fleet::cli
