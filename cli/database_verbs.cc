// The verbs that work on one database (or print its SQL offline): upgrade,
// downgrade, stamp, current, check, validate. Their tables and the offline
// SQL; what they do against the server is in cli/database_online.cc.
#include <optional>

#include "absl/strings/match.h"
#include "cli/command.h"
#include "cli/online.h"
#include "migrations/offline_sql.h"
#include "migrations/status_macros.h"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

// The heads an offline run starts from: what `from` resolves to.
absl::StatusOr<std::vector<std::string>> StartingHeads(const RevisionGraph& g,
                                                       absl::string_view from) {
  if (from.empty()) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(std::vector<Index> revs, g.Resolve(from));
  return Ids(g, revs);
}

int PrintOffline(Context& ctx, const absl::StatusOr<migrations::Plan>& plan) {
  if (!plan.ok()) return Fail(ctx, plan.status());
  auto table = VersionTableFor(ctx);
  if (!table.ok()) return Fail(ctx, table.status());
  ctx.out << migrations::RenderOfflineSql(*plan, *table);
  return kExitOk;
}

int RunUpgrade(Context& ctx) {
  const std::string& target = ctx.options.target;
  if (!ctx.options.sql) {
    if (absl::StrContains(target, ':')) return UsageError(ctx, "Range revision not allowed");
    return RunMigrate(ctx, migrations::Direction::kUpgrade);
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  std::string from, to = target;
  if (size_t colon = target.find(':'); colon != std::string::npos) {
    from = target.substr(0, colon);
    to = target.substr(colon + 1);
  }
  auto start = StartingHeads(**graph, from);
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanUpgrade(*start, to));
}

int RunDowngrade(Context& ctx) {
  const std::string& target = ctx.options.target;
  size_t colon = target.find(':');
  if (!ctx.options.sql) {
    if (colon != std::string::npos) return UsageError(ctx, "Range revision not allowed");
    return RunMigrate(ctx, migrations::Direction::kDowngrade);
  }
  if (colon == std::string::npos) {
    return UsageError(ctx, "downgrade with --sql requires <fromrev>:<torev>");
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  auto start = StartingHeads(**graph, target.substr(0, colon));
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanDowngrade(*start, target.substr(colon + 1)));
}

int RunStamp(Context& ctx) {
  if (!ctx.options.sql) return RunStampDatabase(ctx);
  if (ctx.options.purge) return UsageError(ctx, "Can't use --purge with --sql mode");
  std::optional<std::string> from;
  std::vector<std::string> dests;
  for (const std::string& r : ctx.options.revisions) {
    std::string dest = r;
    if (size_t colon = r.find(':'); colon != std::string::npos) {
      std::string f = r.substr(0, colon);
      if (from && *from != f) {
        return UsageError(ctx,
                          "Stamp operation with --sql only supports a single starting revision "
                          "at a time");
      }
      from = f;
      dest = r.substr(colon + 1);
    }
    dests.push_back(dest);
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  auto start = StartingHeads(**graph, from.value_or(""));
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanStamp(*start, dests));
}

}  // namespace

std::vector<Command> DatabaseVerbs() {
  return {
      {"upgrade", "Upgrade the database to TARGET (head, heads, an id, L@head, +N, rev+N ...).",
       [](CLI::App& c, Options& o) {
         c.add_option("TARGET", o.target, "Target; with --sql also FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
         c.add_flag("--allow-drift", o.allow_drift,
                    "Upgrade even though applied scripts changed since they ran");
         c.add_flag("--create-schema", o.create_schema, "Create --schema when it is missing");
         c.footer(
             "A batched revision (-- migrate:batch) commits batch by batch; stopped part-way "
             "(Ctrl-C, an error, a kill), it stays in progress and the same command resumes "
             "it after its last committed batch.");
       },
       RunUpgrade},
      {"downgrade", "Downgrade the database to TARGET (base, an id, -N, L@base ...).",
       [](CLI::App& c, Options& o) {
         c.add_option("TARGET", o.target, "Target; with --sql it must be FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
       },
       RunDowngrade},
      {"stamp", "Set the version table to REV... without running any script.",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.revisions, "Revisions; with --sql each may be FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
         c.add_flag("--purge", o.purge, "Empty the version table first");
         c.add_flag("--create-schema", o.create_schema, "Create --schema when it is missing");
       },
       RunStamp},
      {"current", "Show the database's current revision(s).",
       [](CLI::App& c, Options& o) {
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
       },
       RunCurrent},
      {"check",
       "Exit 1 and list what is pending when the database is not at head; with "
       "--autogenerate, when the declared schema and the heads differ.",
       [](CLI::App& c, Options& o) {
         c.add_flag("--autogenerate", o.autogenerate,
                    "Compare the declared schema with the heads' (no --dsn; needs --dev-url) "
                    "instead of a database with the heads");
         AddAutogenerateSources(c, o);
       },
       [](Context& ctx) {
         return ctx.options.autogenerate ? RunAutogenerateCheck(ctx) : RunCheckDatabase(ctx);
       }},
      {"validate",
       "Compare the checksum recorded for each applied revision with its script; exit 1 on "
       "drift.",
       [](CLI::App&, Options&) {}, RunValidate},
  };
}

}  // namespace fleet::cli
