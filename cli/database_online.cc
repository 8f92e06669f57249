// The one-database verbs' work against the server (libpq), and the verbs
// that build schemas in a scratch database (test, --autogenerate): the
// online half of cli/database_verbs.cc, cli/graph_verbs.cc,
// cli/check_verbs.cc and cli/script_verbs.cc (see cli/online.h).
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/database.h"
#include "cli/flags.h"
#include "cli/online.h"
#include "cli/revision_format.h"
#include "migrations/autogenerate.h"
#include "migrations/dsn.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

std::optional<int> HandOver(Context&) { return std::nullopt; }

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

int RunMigrate(Context& ctx, migrations::Direction direction) {
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

int RunStampDatabase(Context& ctx) {
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

namespace {

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
  return absl::StrCat("IN PROGRESS: batched revision ", state.in_progress_revision,
                      " stopped after ", state.in_progress_rows, " rows in ",
                      state.in_progress_batches, " batches; the next upgrade resumes it");
}

}  // namespace

int RunCurrent(Context& ctx) {
  return WithDatabaseState(
      ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
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

int RunCheckDatabase(Context& ctx) {
  return WithDatabaseState(
      ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
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
  return WithDatabaseState(
      ctx, [&](const RevisionGraph& g, const migrations::DatabaseState& state) {
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

std::optional<std::vector<std::string>> DatabaseHeads(Context& ctx, const RevisionGraph& g,
                                                      int* code) {
  std::optional<std::vector<std::string>> heads;
  *code = WithMigrator(ctx, g, [&](migrations::Migrator& m) {
    auto state = m.Inspect();
    if (!state.ok()) return Fail(ctx, state.status());
    heads = state->heads;
    return static_cast<int>(kExitOk);
  });
  if (*code != kExitOk) heads.reset();
  return heads;
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

  auto result =
      migrations::RunStairway(g, dev, table->name, [&](const migrations::StairwayStep& s) {
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

// The heads' schema against the declared one, both built in --dev-url.
absl::StatusOr<migrations::RevisionDiffs> Autogenerate(Context& ctx) {
  const Options& o = ctx.options;
  std::string dev = o.dev_url;
  if (dev.empty()) {
    if (const char* env = std::getenv("FLEET_DEV_URL")) dev = env;
  }
  if (dev.empty()) {
    return absl::InvalidArgumentError(
        "autogenerate needs a scratch PostgreSQL database: --dev-url or FLEET_DEV_URL (an empty "
        "database; fleetctl builds and drops schemas in it)");
  }
  std::string declared = o.declared;
  if (declared.empty()) {
    ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
    if (config) {
      if (auto v = (*config)["schema"].value<std::string>()) declared = *v;
    }
  }
  if (declared.empty()) {
    return absl::InvalidArgumentError(
        "no declared schema: set schema = \"schema/\" (a .sql file or a directory of them) in "
        "fleet.toml, or pass --declared PATH");
  }
  ASSIGN_OR_RETURN(auto graph, LoadGraph(ctx));
  ASSIGN_OR_RETURN(auto files, migrations::LoadDeclaredSchema(ctx.fs, declared));
  ASSIGN_OR_RETURN(migrations::VersionTable table, VersionTableFor(ctx));
  // Objects autogenerate leaves alone (--exclude, then [autogenerate]
  // exclude = [...] in fleet.toml) and the schemas it compares besides the
  // scripts' own (--include-schema, then schemas = [...]).
  std::vector<std::string> exclude = o.autogenerate_exclude;
  std::vector<std::string> schemas = o.autogenerate_schemas;
  {
    ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
    if (config != nullptr) {
      if (const toml::table* a = (*config)["autogenerate"].as_table()) {
        for (const auto& [key, value] : *a) {
          const std::string k(key.str());
          if (k != "exclude" && k != "schemas") {
            return absl::InvalidArgumentError(absl::StrCat(
                "fleet.toml: [autogenerate] has no key '", k,
                "' (it takes exclude = [\"test_*\", ...] and schemas = [\"audit\", ...])"));
          }
          const std::string what =
              k == "exclude" ? "a list of name patterns" : "a list of schema names";
          const toml::array* list = value.as_array();
          if (list == nullptr) {
            return absl::InvalidArgumentError(
                absl::StrCat("fleet.toml: [autogenerate] ", k, " must be ", what));
          }
          for (const auto& item : *list) {
            auto text = item.value<std::string>();
            if (!text) {
              return absl::InvalidArgumentError(
                  absl::StrCat("fleet.toml: [autogenerate] ", k, " must be ", what));
            }
            (k == "exclude" ? exclude : schemas).push_back(*text);
          }
        }
      }
    }
  }
  std::sort(schemas.begin(), schemas.end());
  schemas.erase(std::unique(schemas.begin(), schemas.end()), schemas.end());
  ASSIGN_OR_RETURN(migrations::SchemaPair pair,
                   migrations::BuildSchemas(*graph, files, dev, table.name, schemas));
  for (const std::string& schema : schemas) {
    if (!pair.heads.schemas.count(schema) && !pair.declared.schemas.count(schema)) {
      ctx.out << "  Schema " << schema
              << " is listed to compare but neither the revisions nor the declared schema "
                 "make it\n";
    }
  }
  std::set<std::string> skipped = migrations::ExcludeFromCatalog(&pair.heads, exclude);
  skipped.merge(migrations::ExcludeFromCatalog(&pair.declared, exclude));
  if (!skipped.empty()) {
    ctx.out << "  Skipped " << skipped.size() << (skipped.size() == 1 ? " object" : " objects")
            << " the exclude patterns match (" << absl::StrJoin(exclude, ", ")
            << "): " << absl::StrJoin(skipped, ", ") << "\n";
  }
  return migrations::DiffForRevisions(pair.heads, pair.declared, o.allow_drop,
                                      o.concurrent_indexes);
}

}  // namespace fleet::cli
