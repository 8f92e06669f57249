// The verbs that work on one database (or print its SQL offline): upgrade,
// downgrade, stamp, current, check, validate.
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/database.h"
#include "cli/flags.h"
#include "cli/revision_format.h"
#include "migrations/dsn.h"
#include "migrations/offline_sql.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

// Migrator options from the command line; --dsn, else DATABASE_URL.
absl::StatusOr<migrations::MigratorOptions> MigratorOptionsFor(Context& ctx) {
  const Options& o = ctx.options;
  migrations::MigratorOptions m;
  m.dsn = o.dsn;
  if (m.dsn.empty()) {
    if (const char* env = std::getenv("DATABASE_URL")) m.dsn = env;
  }
  if (m.dsn.empty()) {
    return absl::InvalidArgumentError(
        "no database given: pass --dsn or set DATABASE_URL (or use --sql for offline SQL)");
  }
  ASSIGN_OR_RETURN(migrations::VersionTable table, VersionTableFor(ctx));
  m.schema = table.schema;
  m.version_table = table.name;
  m.create_schema = o.create_schema;
  ASSIGN_OR_RETURN(m.lock_wait, ParseDurationFlag("--lock-wait", o.lock_wait));
  ASSIGN_OR_RETURN(m.lock_timeout, ParseDurationFlag("--lock-timeout", o.lock_timeout));
  ASSIGN_OR_RETURN(m.statement_timeout,
                   ParseDurationFlag("--statement-timeout", o.statement_timeout));
  if (o.retries < 0) return absl::InvalidArgumentError("--retries must be 0 or more");
  m.retries = o.retries;
  m.allow_drift = o.allow_drift;
  m.actor = WhoAmI();
  return m;
}

migrations::StepObserver PrintSteps(Context& ctx) {
  // The step's "Running ..." line, kept to redraw it with a batched
  // revision's progress on a terminal.
  auto line = std::make_shared<std::string>();
  return [&ctx, line](const migrations::StepEvent& e) {
    auto batches = [&] {
      return absl::StrCat(e.rows, " rows in ", e.batches, e.batches == 1 ? " batch" : " batches");
    };
    switch (e.kind) {
      case migrations::StepEvent::Kind::kStarted:
        *line = absl::StrCat("Running ", migrations::DirectionName(e.direction), " ",
                             absl::StrJoin(e.from_revisions, ", "), " -> ",
                             absl::StrJoin(e.to_revisions, ", "), ", ", e.message, " ...");
        ctx.out << *line << std::flush;
        break;
      case migrations::StepEvent::Kind::kProgress:
        if (e.resumed_rows >= 0 && e.rows == e.resumed_rows && e.duration == absl::ZeroDuration()) {
          // Said once, terminal or not: this run goes on where one stopped.
          absl::StrAppend(line.get(), " resuming after ", batches(), " ...");
          ctx.out << " resuming after " << batches() << " ..." << std::flush;
        } else if (ctx.terminal) {
          ctx.out << "\r\033[K" << *line << " " << batches() << ", "
                  << static_cast<int64_t>(e.rows_per_second) << " rows/s" << std::flush;
        }
        break;
      case migrations::StepEvent::Kind::kSucceeded:
        if (ctx.terminal && e.batches > 0) ctx.out << "\r\033[K" << *line;
        ctx.out << " done (" << absl::ToInt64Milliseconds(e.duration) << " ms"
                << (e.batches > 0 ? absl::StrCat("; ", batches()) : std::string()) << ")"
                << std::endl;
        break;
      case migrations::StepEvent::Kind::kFailed:
        if (ctx.terminal && e.batches > 0) ctx.out << "\r\033[K" << *line;
        ctx.out << " FAILED" << std::endl;
        break;
    }
  };
}

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

int RunOnline(Context& ctx, migrations::Direction direction) {
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  return WithMigrator(ctx, **graph, [&](migrations::Migrator& m) {
    auto result = direction == migrations::Direction::kUpgrade
                      ? m.Upgrade(ctx.options.target, PrintSteps(ctx))
                      : m.Downgrade(ctx.options.target, PrintSteps(ctx));
    if (!result.ok()) return Fail(ctx, result.status());
    if (result->steps == 0) {
      ctx.out << "Nothing to do: the database is at " << HeadsText(result->end_heads) << "\n";
    } else {
      ctx.out << "Done: " << HeadsText(result->start_heads) << " -> "
              << HeadsText(result->end_heads) << " (" << result->steps << " revisions)\n";
    }
    return static_cast<int>(kExitOk);
  });
}

int RunUpgrade(Context& ctx) {
  const std::string& target = ctx.options.target;
  if (!ctx.options.sql) {
    if (absl::StrContains(target, ':')) return UsageError(ctx, "Range revision not allowed");
    return RunOnline(ctx, migrations::Direction::kUpgrade);
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
    return RunOnline(ctx, migrations::Direction::kDowngrade);
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
  if (!ctx.options.sql) {
    auto graph = LoadGraph(ctx);
    if (!graph.ok()) return Fail(ctx, graph.status());
    return WithMigrator(ctx, **graph, [&](migrations::Migrator& m) {
      auto result = m.Stamp(ctx.options.revisions, ctx.options.purge);
      if (!result.ok()) return Fail(ctx, result.status());
      ctx.out << "Stamped: " << HeadsText(result->start_heads) << " -> "
              << HeadsText(result->end_heads) << "\n";
      return static_cast<int>(kExitOk);
    });
  }
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

// Loads the graph, reads the database's state (without the migration lock)
// and hands both to `body`, which returns the exit code.
template <typename F>
int WithDatabaseState(Context& ctx, F&& body) {
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  return WithMigrator(ctx, g, [&](migrations::Migrator& m) {
    auto state = m.Inspect();
    if (!state.ok()) return Fail(ctx, state.status());
    return static_cast<int>(body(g, *state));
  });
}

// "IN PROGRESS: ..." for a batched revision a run left part-way.
std::string InProgressText(const migrations::DatabaseState& state) {
  return absl::StrCat("IN PROGRESS: batched revision ", state.in_progress_revision, " stopped after ",
                      state.in_progress_rows, " rows in ", state.in_progress_batches,
                      " batches; the next upgrade resumes it");
}

int RunCurrent(Context& ctx) {
  return WithDatabaseState(ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
    auto current = g.CurrentRevisions(state.heads);
    if (!current.ok()) return Fail(ctx, current.status());
    if (Json(ctx)) {
      nlohmann::json revs = nlohmann::json::array();
      for (Index r : *current) revs.push_back(RevisionJson(g, r));
      ctx.out << nlohmann::json{{"database", state.database},
                                {"schema", state.schema},
                                {"heads", state.heads},
                                {"current", revs},
                                {"dirty", state.dirty},
                                {"drift", state.drift.size()},
                                {"in_progress",
                                 state.in_progress_revision.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json{{"revision", state.in_progress_revision},
                                                      {"rows", state.in_progress_rows},
                                                      {"batches", state.in_progress_batches}}}}
                     .dump(2)
              << "\n";
      return static_cast<int>(kExitOk);
    }
    if (ctx.options.verbose) {
      std::string dsn = ctx.options.dsn.empty() && std::getenv("DATABASE_URL")
                            ? std::getenv("DATABASE_URL")
                            : ctx.options.dsn;
      ctx.out << "Current revision(s) for " << migrations::ConnectionName(dsn) << ":\n";
    }
    for (Index r : *current) {
      if (ctx.options.verbose) {
        ctx.out << FormatRevisionBlock(g, r, true) << "\n";
      } else {
        ctx.out << FormatRevisionLine(g, r, {}) << "\n";
      }
    }
    if (state.dirty) {
      ctx.out << "DIRTY: revision " << state.dirty_revision << " failed part-way\n";
    }
    if (!state.in_progress_revision.empty()) ctx.out << InProgressText(state) << "\n";
    return static_cast<int>(kExitOk);
  });
}

int RunCheck(Context& ctx) {
  if (ctx.options.autogenerate) return RunAutogenerateCheck(ctx);
  return WithDatabaseState(ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
    auto plan = g.PlanUpgrade(state.heads, "heads");
    if (!plan.ok()) return Fail(ctx, plan.status());
    int code = kExitOk;
    if (state.dirty) {
      ctx.out << "dirty: revision " << state.dirty_revision << " failed part-way\n";
      code = kExitCheckFailed;
    }
    for (const migrations::Drift& d : state.drift) {
      ctx.out << "drift: " << d.revision << " (" << d.path << ")\n";
      code = kExitCheckFailed;
    }
    if (plan->steps.empty()) {
      ctx.out << "No pending revisions: " << state.database << "/" << state.schema
              << " is at head (" << HeadsText(state.heads) << ")\n";
      return code;
    }
    ctx.out << plan->steps.size() << " pending revision(s) on " << state.database << "/"
            << state.schema << ":\n";
    for (const migrations::Step& step : plan->steps) {
      ctx.out << "  " << absl::StrJoin(step.from_revisions, ", ") << " -> "
              << step.script->revision << ", " << step.script->message << "\n";
    }
    if (!state.in_progress_revision.empty()) ctx.out << InProgressText(state) << "\n";
    return static_cast<int>(kExitCheckFailed);
  });
}

int RunValidate(Context& ctx) {
  return WithDatabaseState(ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
    auto applied = g.AppliedRevisions(state.heads);
    if (!applied.ok()) return Fail(ctx, applied.status());
    if (Json(ctx)) {
      nlohmann::json drift = nlohmann::json::array();
      for (const auto& d : state.drift) {
        drift.push_back({{"revision", d.revision},
                         {"path", d.path},
                         {"recorded_checksum", d.recorded_checksum},
                         {"current_checksum", d.current_checksum}});
      }
      ctx.out << nlohmann::json{{"applied", applied->size()}, {"drift", drift}}.dump(2) << "\n";
      return static_cast<int>(state.drift.empty() ? kExitOk : kExitCheckFailed);
    }
    for (const migrations::Drift& d : state.drift) {
      ctx.out << "drift: revision " << d.revision << " (" << d.path
              << ") changed since it was applied: recorded sha256 " << d.recorded_checksum
              << ", script now " << d.current_checksum << "\n";
    }
    if (!state.drift.empty()) return static_cast<int>(kExitCheckFailed);
    ctx.out << "OK: the " << applied->size()
            << " applied revision(s) match their scripts (revisions applied before fleet kept "
               "its log are not checked)\n";
    return static_cast<int>(kExitOk);
  });
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
       RunCheck},
      {"validate",
       "Compare the checksum recorded for each applied revision with its script; exit 1 on "
       "drift.",
       [](CLI::App&, Options&) {}, RunValidate},
  };
}

}  // namespace fleet::cli
