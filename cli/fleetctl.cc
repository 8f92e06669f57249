#include "cli/fleetctl.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/flags.h"
#include "cli/fleet_commands.h"
#include "cli/revision_format.h"
#include "migrations/autogenerate.h"
#include "migrations/dsn.h"
#include "migrations/migrator.h"
#include "migrations/offline_sql.h"
#include "migrations/revision_graph.h"
#include "migrations/schema_diff.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"
#include "toml++/toml.h"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

constexpr char kConfigFile[] = "fleet.toml";

// Everything a command line can set; one instance per run.
struct Options {
  std::string dir;
  std::string output = "table";
  bool verbose = false;
  bool sql = false;
  bool purge = false;
  bool splice = false;
  bool resolve_dependencies = false;
  std::string message;
  std::string head = "head";
  std::string branch_label;
  std::vector<std::string> depends_on;
  std::string rev_id;
  std::string range;
  std::string target;
  std::vector<std::string> revisions;
  std::string init_dir;
  std::string version_table;
  std::string version_table_schema;
  // Against a database.
  std::string dsn;
  std::string schema;
  std::string lock_wait = "30s";
  std::string lock_timeout = "2s";
  std::string statement_timeout = "0";
  int retries = 3;
  bool allow_drift = false;
  bool create_schema = false;
  bool indicate_current = false;
  // revision --autogenerate, check --autogenerate
  bool autogenerate = false;
  bool allow_drop = false;
  bool concurrent_indexes = false;
  std::string dev_url;   // else $FLEET_DEV_URL
  std::string declared;  // else schema = in fleet.toml
  FleetOptions fleet;  // the verbs that talk to the controller
};

struct Context {
  Options options;
  std::ostream& out;
  std::ostream& err;
  migrations::FileSystem& fs;
  Interrupt* interrupt = nullptr;
  // ./fleet.toml, read once (see ReadConfig).
  std::optional<absl::StatusOr<std::optional<toml::table>>> config;
};

// A failed operation: print one clear line, exit 3 (130 when interrupted).
int Fail(Context& ctx, const absl::Status& status) {
  ctx.err << "error: " << status.message() << "\n";
  return absl::IsCancelled(status) ? kExitInterrupted : kExitFailed;
}

int UsageError(Context& ctx, absl::string_view message) {
  ctx.err << "error: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

bool Json(const Context& ctx) { return ctx.options.output == "json"; }

absl::StatusOr<std::optional<toml::table>> ParseConfig(const Context& ctx) {
  if (!ctx.fs.Exists(kConfigFile)) return std::optional<toml::table>();
  ASSIGN_OR_RETURN(std::string text, ctx.fs.ReadFile(kConfigFile));
  try {
    return std::optional<toml::table>(toml::parse(text, std::string(kConfigFile)));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(kConfigFile, ":", e.source().begin.line, ": ",
                                                   std::string(e.description())));
  }
}

// fleet.toml in the current directory, or null when there is none. Read and
// parsed on the first call of a command, then kept.
absl::StatusOr<const toml::table*> ReadConfig(Context& ctx) {
  if (!ctx.config) ctx.config = ParseConfig(ctx);
  if (!ctx.config->ok()) return ctx.config->status();
  return ctx.config->value() ? &*ctx.config->value() : nullptr;
}

// --dir, else script_location from ./fleet.toml, else ./versions.
absl::StatusOr<std::string> VersionsDir(Context& ctx) {
  if (!ctx.options.dir.empty()) return ctx.options.dir;
  ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
  if (config) {
    if (auto loc = (*config)["script_location"].value<std::string>()) return *loc;
  }
  return std::string("versions");
}

absl::StatusOr<migrations::VersionTable> VersionTableFor(Context& ctx) {
  migrations::VersionTable table;
  ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
  if (config) {
    if (auto v = (*config)["version_table"].value<std::string>()) table.name = *v;
    if (auto v = (*config)["version_table_schema"].value<std::string>()) table.schema = *v;
  }
  if (!ctx.options.version_table.empty()) table.name = ctx.options.version_table;
  if (!ctx.options.schema.empty()) table.schema = ctx.options.schema;
  if (!ctx.options.version_table_schema.empty()) table.schema = ctx.options.version_table_schema;
  return table;
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> LoadGraph(Context& ctx) {
  ASSIGN_OR_RETURN(std::string dir, VersionsDir(ctx));
  return migrations::LoadRevisionGraph(ctx.fs, dir);
}

std::vector<std::string> Ids(const RevisionGraph& graph, const std::vector<Index>& revs) {
  std::vector<std::string> ids;
  for (Index r : revs) ids.push_back(graph.id(r));
  return ids;
}

// Defined with the verbs that need a database, below.
int RunOnline(Context& ctx, migrations::Direction direction);
template <typename F>
int WithMigrator(Context& ctx, const RevisionGraph& graph, F&& body);
std::string HeadsText(const std::vector<std::string>& heads);

// ---- commands that read the graph ----

int RunHeads(Context& ctx) {
  auto graph = LoadGraph(ctx);
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
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  std::vector<std::string> db_heads;
  if (ctx.options.indicate_current || lower == "current" || upper == "current") {
    int code = WithMigrator(ctx, g, [&](migrations::Migrator& m) {
      auto state = m.Inspect();
      if (!state.ok()) return Fail(ctx, state.status());
      db_heads = state->heads;
      return static_cast<int>(kExitOk);
    });
    if (code != kExitOk) return code;
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
  auto graph = LoadGraph(ctx);
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
  auto graph = LoadGraph(ctx);
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

// ---- offline SQL ----

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


// ---- against a database ----

std::string Actor() {
  std::string user = "unknown";
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    user = found->pw_name;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return absl::StrCat(user, "@", host);
}

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
  m.actor = Actor();
  return m;
}

// Runs `body` with a Migrator whose Cancel() the interrupt triggers.
template <typename F>
int WithMigrator(Context& ctx, const RevisionGraph& graph, F&& body) {
  auto options = MigratorOptionsFor(ctx);
  if (!options.ok()) {
    return absl::IsInvalidArgument(options.status()) ? UsageError(ctx, options.status().message())
                                                     : Fail(ctx, options.status());
  }
  migrations::Migrator migrator(graph, *std::move(options));
  if (ctx.interrupt != nullptr) ctx.interrupt->SetHandler([&migrator] { migrator.Cancel(); });
  int code = body(migrator);
  if (ctx.interrupt != nullptr) ctx.interrupt->ClearHandler();
  return code;
}

std::string HeadsText(const std::vector<std::string>& heads) {
  return heads.empty() ? "base" : absl::StrJoin(heads, ", ");
}

migrations::StepObserver PrintSteps(Context& ctx) {
  return [&ctx](const migrations::StepEvent& e) {
    switch (e.kind) {
      case migrations::StepEvent::Kind::kStarted:
        ctx.out << "Running " << migrations::DirectionName(e.direction) << " "
                << absl::StrJoin(e.from_revisions, ", ") << " -> "
                << absl::StrJoin(e.to_revisions, ", ") << ", " << e.message << " ..."
                << std::flush;
        break;
      case migrations::StepEvent::Kind::kSucceeded:
        ctx.out << " done (" << absl::ToInt64Milliseconds(e.duration) << " ms)" << std::endl;
        break;
      case migrations::StepEvent::Kind::kFailed:
        ctx.out << " FAILED" << std::endl;
        break;
    }
  };
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
                                {"drift", state.drift.size()}}
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
    return static_cast<int>(kExitOk);
  });
}

int RunAutogenerateCheck(Context& ctx);

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

// ---- commands that write scripts ----

std::string NewRevisionId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  uint64_t bits = gen();
  for (int i = 0; i < 12; ++i, bits >>= 4) id.push_back(kHex[bits & 0xF]);
  return id;
}

std::string NowLocal() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Alembic's slug: the message's words joined by '_', lowercased, at most 40
// characters, cut at a word boundary.
std::string Slug(absl::string_view message) {
  std::vector<std::string> words;
  std::string word;
  for (char c : message) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_') {
      word.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  std::string slug = absl::StrJoin(words, "_");
  if (slug.size() > 40) {
    slug = slug.substr(0, 40);
    size_t cut = slug.rfind('_');
    slug = (cut == std::string::npos ? slug : slug.substr(0, cut)) + "_";
  }
  return slug;
}

// Writes a new script on top of `parents`, after checking that the graph
// with it added is still valid. Prints Alembic's "Generating ... done".
int WriteRevision(Context& ctx, const std::string& dir, std::vector<migrations::Script> scripts,
                  migrations::Script script) {
  std::string id = script.revision;
  std::string slug = Slug(script.message);
  std::string name = slug.empty() ? absl::StrCat(id, ".sql") : absl::StrCat(id, "_", slug, ".sql");
  std::string path = migrations::JoinPath(dir, name);
  std::string text = migrations::FormatScript(script);
  auto parsed = migrations::ParseScript(path, text);
  if (!parsed.ok()) return Fail(ctx, parsed.status());
  scripts.push_back(*std::move(parsed));
  auto graph = RevisionGraph::Build(std::move(scripts));
  if (!graph.ok()) return Fail(ctx, graph.status());
  if (absl::Status s = ctx.fs.WriteNewFile(path, text); !s.ok()) return Fail(ctx, s);
  ctx.out << "  Generating " << path << " ...  done\n";
  return kExitOk;
}

// Parents for a new revision: resolved, distinct, and (without --splice)
// heads.
absl::StatusOr<std::vector<std::string>> NewParents(const RevisionGraph& g,
                                                   const std::vector<std::string>& exprs,
                                                   bool splice) {
  std::vector<Index> parents;
  for (const std::string& e : exprs) {
    ASSIGN_OR_RETURN(std::vector<Index> revs, g.Resolve(e));
    for (Index r : revs) {
      if (std::find(parents.begin(), parents.end(), r) != parents.end()) {
        return absl::InvalidArgumentError("Duplicate head revisions specified");
      }
      parents.push_back(r);
    }
  }
  if (!splice) {
    for (Index r : parents) {
      if (!g.IsHead(r)) {
        return absl::FailedPreconditionError(
            absl::StrCat("Revision ", g.id(r),
                         " is not a head revision; please specify --splice to create a new "
                         "branch from this revision"));
      }
    }
  }
  return Ids(g, parents);
}

// What an autogenerated revision holds; a plain revision has empty sections.
struct RevisionBody {
  std::string upgrade;
  std::string downgrade;
  bool transactional = true;
  std::string rev_id;   // overrides --rev-id (empty: --rev-id or random)
  std::string message;  // overrides -m (empty: -m)
};

int CreateRevision(Context& ctx, const std::vector<std::string>& parent_exprs, bool is_merge,
                   const RevisionBody& body = {}, std::string* written_id = nullptr) {
  const Options& o = ctx.options;
  auto dir = VersionsDir(ctx);
  if (!dir.ok()) return Fail(ctx, dir.status());
  auto scripts = migrations::LoadScripts(ctx.fs, *dir);
  if (!scripts.ok()) return Fail(ctx, scripts.status());
  auto graph = RevisionGraph::Build(*scripts);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;

  migrations::Script script;
  script.revision = !body.rev_id.empty() ? body.rev_id : o.rev_id.empty() ? NewRevisionId() : o.rev_id;
  if (absl::Status s = migrations::ValidateRevisionId(script.revision); !s.ok()) {
    return Fail(ctx, s);
  }
  if (auto existing = g.FindExact(script.revision)) {
    return Fail(ctx, absl::AlreadyExistsError(absl::StrCat("revision ", script.revision,
                                                           " already exists: ",
                                                           g.script(*existing).path)));
  }
  if (parent_exprs.size() == 1 && parent_exprs[0] == "head" && g.heads().size() > 1) {
    return Fail(ctx, absl::FailedPreconditionError(
                         "Multiple heads are present; please specify the head revision on which "
                         "the new revision should be based, or perform a merge."));
  }
  auto parents = NewParents(g, parent_exprs, o.splice);
  if (!parents.ok()) return Fail(ctx, parents.status());
  if (is_merge && parents->size() < 2) {
    return Fail(ctx, absl::FailedPreconditionError(absl::StrCat(
                         "merge needs at least two revisions; ", absl::StrJoin(parent_exprs, " "),
                         " resolves to ", parents->empty() ? "none" : absl::StrJoin(*parents, ", "),
                         " (see 'fleetctl heads')")));
  }
  script.down_revisions = *parents;
  if (!o.branch_label.empty()) script.branch_labels = {o.branch_label};
  for (const std::string& dep : o.depends_on) {
    for (absl::string_view part : absl::StrSplit(dep, ',', absl::SkipWhitespace())) {
      std::string d(absl::StripAsciiWhitespace(part));
      auto rev = g.ResolveOne(d);
      if (!rev.ok()) return Fail(ctx, rev.status());
      if (!*rev) return Fail(ctx, absl::InvalidArgumentError("--depends-on cannot name base"));
      const auto& labels = g.branch_labels(**rev);
      bool is_label = std::find(labels.begin(), labels.end(), d) != labels.end();
      script.depends_on.push_back(is_label ? d : g.id(**rev));
    }
  }
  std::string message = !body.message.empty() ? body.message
                        : o.message.empty()     ? "empty message"
                                                : o.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  script.message = message;
  script.create_date = NowLocal();
  script.transactional = body.transactional;
  script.upgrade.sql = body.upgrade;
  script.downgrade.emplace();
  script.downgrade->sql = body.downgrade;
  if (written_id != nullptr) *written_id = script.revision;
  return WriteRevision(ctx, *dir, *std::move(scripts), std::move(script));
}

// ---- autogenerate: the heads' schema against the declared one ----

struct Autogenerated {
  migrations::SchemaDiff upgrade;
  migrations::SchemaDiff downgrade;  // of the transactional part
  std::string concurrent_downgrade;  // DROP INDEX CONCURRENTLY for the concurrent part
};

absl::StatusOr<Autogenerated> Autogenerate(Context& ctx) {
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
  ASSIGN_OR_RETURN(migrations::SchemaPair pair,
                   migrations::BuildSchemas(*graph, files, dev, table.name));
  Autogenerated out;
  migrations::DiffOptions up;
  up.allow_drop = o.allow_drop;
  up.concurrent_indexes = o.concurrent_indexes;
  out.upgrade = migrations::DiffSchemaCatalogs(pair.heads, pair.declared, up);
  // The transactional revision's downgrade starts from the declared schema
  // without the indexes the concurrent revision creates.
  migrations::SchemaCatalog middle = pair.declared;
  for (const auto& c : out.upgrade.changes) {
    if (!c.concurrent) continue;
    absl::StrAppend(&out.concurrent_downgrade, "-- drop index ", c.object, "\n",
                    "DROP INDEX CONCURRENTLY ", pair.declared.indexes.at(c.object).q, ";\n");
    middle.indexes.erase(c.object);
  }
  migrations::DiffOptions down;
  down.downgrade = true;
  out.downgrade = migrations::DiffSchemaCatalogs(middle, pair.heads, down);
  return out;
}

void ReportAutogenerated(Context& ctx, const migrations::SchemaDiff& d) {
  for (const auto& c : d.changes) {
    ctx.out << "  Detected " << c.summary << (c.commented_out ? " (written commented out)" : "")
            << "\n";
    for (const auto& w : c.warnings) ctx.out << "    WARNING: " << w << "\n";
  }
  for (const auto& r : d.possible_renames) {
    ctx.out << "  Possible rename: " << r << "\n";
  }
}

int RunAutogenerateRevision(Context& ctx) {
  auto result = Autogenerate(ctx);
  if (!result.ok()) return Fail(ctx, result.status());
  const migrations::SchemaDiff& up = result->upgrade;
  if (!up.refusals.empty()) {
    for (const auto& r : up.refusals) ctx.err << "error: " << r << "\n";
    ctx.err << "error: no revision written\n";
    return static_cast<int>(kExitFailed);
  }
  if (up.changes.empty()) {
    ctx.out << "No changes in schema detected; no revision written.\n";
    return kExitOk;
  }
  ReportAutogenerated(ctx, up);
  std::string main_up = migrations::RenderChanges(up.changes, false);
  std::string concurrent_up = migrations::RenderChanges(up.changes, true);
  const std::string header = "-- Generated by fleetctl revision --autogenerate: review it.\n";
  std::string first;
  if (!main_up.empty()) {
    RevisionBody body;
    body.upgrade = header + main_up;
    body.downgrade = header + migrations::RenderChanges(result->downgrade.changes, false);
    if (int code = CreateRevision(ctx, {ctx.options.head}, false, body, &first); code != kExitOk) {
      return code;
    }
  }
  if (!concurrent_up.empty()) {
    // After the transactional revision, when there is one, with its own id.
    RevisionBody body;
    body.upgrade = header + concurrent_up;
    body.downgrade = header + result->concurrent_downgrade;
    body.transactional = false;
    if (!main_up.empty()) {
      body.rev_id = NewRevisionId();
      body.message = ctx.options.message + " (indexes, concurrently)";
    }
    int code = CreateRevision(ctx, {main_up.empty() ? ctx.options.head : first}, false, body);
    if (code != kExitOk) return code;
  }
  int commented = 0;
  for (const auto& c : up.changes) commented += c.commented_out;
  if (commented > 0) {
    ctx.out << commented << " change(s) that would drop data are written commented out; "
            << "review them, or run again with --allow-drop.\n";
  }
  return kExitOk;
}

int RunAutogenerateCheck(Context& ctx) {
  auto result = Autogenerate(ctx);
  if (!result.ok()) return Fail(ctx, result.status());
  const migrations::SchemaDiff& up = result->upgrade;
  if (up.empty()) {
    ctx.out << "No new upgrade operations detected.\n";
    return kExitOk;
  }
  ctx.out << "New upgrade operations detected:\n";
  for (const auto& c : up.changes) ctx.out << "  " << c.summary << "\n";
  for (const auto& r : up.refusals) ctx.out << "  cannot: " << r << "\n";
  return static_cast<int>(kExitCheckFailed);
}

int RunRevision(Context& ctx) {
  if (ctx.options.autogenerate) return RunAutogenerateRevision(ctx);
  return CreateRevision(ctx, {ctx.options.head}, false);
}

int RunMerge(Context& ctx) {
  if (ctx.options.revisions.empty()) {
    return UsageError(ctx, "merge needs the revisions to merge, or 'heads'");
  }
  return CreateRevision(ctx, ctx.options.revisions, true);
}

int RunInit(Context& ctx) {
  const std::string& dir = ctx.options.init_dir;
  if (ctx.fs.Exists(dir)) {
    auto files = ctx.fs.ListFiles(dir);
    bool empty = files.ok() && files->empty() && !ctx.fs.Exists(migrations::JoinPath(dir, "versions"));
    if (!empty) {
      return Fail(ctx, absl::AlreadyExistsError(
                           absl::StrCat("Directory ", dir, " already exists and is not empty")));
    }
  }
  std::string versions = migrations::JoinPath(dir, "versions");
  if (absl::Status s = ctx.fs.CreateDirectories(versions); !s.ok()) return Fail(ctx, s);
  static constexpr char kToml[] =
      "# fleet.toml: settings for fleetctl's single-database verbs.\n"
      "# fleetctl reads ./fleet.toml, so run it from this directory (or pass --dir).\n"
      "\n"
      "# The versions directory: one <revision>_<slug>.sql file per revision.\n"
      "script_location = \"versions\"\n"
      "\n"
      "# The version table, exactly Alembic's (version_table, version_table_schema).\n"
      "# version_table = \"alembic_version\"\n"
      "# version_table_schema = \"public\"\n"
      "\n"
      "# The declared schema (a .sql file or a directory of them) that\n"
      "# `fleetctl revision --autogenerate` compares the heads with.\n"
      "# schema = \"schema/\"\n";
  std::string toml_path = migrations::JoinPath(dir, kConfigFile);
  if (absl::Status s = ctx.fs.WriteNewFile(toml_path, kToml); !s.ok()) return Fail(ctx, s);
  ctx.out << "  Creating directory " << versions << " ...  done\n"
          << "  Generating " << toml_path << " ...  done\n"
          << "Next: cd " << dir << " && fleetctl revision -m \"create tickets\"\n";
  return kExitOk;
}


// ---- fleet verbs (fleet_commands.cc) ----

template <int (*F)(FleetContext&)>
int RunFleet(Context& ctx) {
  FleetContext fleet{ctx.options.fleet, ctx.out, ctx.err, ctx.fs,
                     &ctx.out == &std::cout && isatty(STDOUT_FILENO) == 1};
  fleet.options.output = ctx.options.output;
  return F(fleet);
}

// Adds `verb`'s nested actions; each records its name and positional args.
void AddActions(CLI::App& c, Options& o,
                const std::vector<std::tuple<const char*, const char*, const char*>>& actions) {
  c.require_subcommand(1);
  for (const auto& [name, help, args] : actions) {
    CLI::App* sub = c.add_subcommand(name, help);
    if (args[0] != '\0') sub->add_option(args, o.fleet.args, args)->required();
    sub->callback([&o, n = std::string(name)] { o.fleet.action = n; });
  }
}

// Where --autogenerate builds and what it compares with (revision, check).
void AddAutogenerateSources(CLI::App& c, Options& o) {
  c.add_option("--dev-url", o.dev_url,
               "An empty scratch database for --autogenerate (default: $FLEET_DEV_URL)");
  c.add_option("--declared", o.declared,
               "The declared schema: a .sql file or a directory (default: schema = in "
               "fleet.toml)");
}

// ---- the command table: names, help, options, handlers ----

struct Command {
  const char* name;
  const char* help;
  std::function<void(CLI::App&, Options&)> setup;
  int (*run)(Context&);
};

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const kCommands = new std::vector<Command>{
      {"init", "Create a versions directory and a commented fleet.toml in DIR.",
       [](CLI::App& c, Options& o) {
         c.add_option("DIR", o.init_dir, "Directory to create")->required();
       },
       RunInit},
      {"revision", "Write a new, empty revision script on top of the current head.",
       [](CLI::App& c, Options& o) {
         c.add_option("-m,--message", o.message, "What the revision does (names the file)");
         c.add_option("--head", o.head,
                      "Revision to build on: a head, 'base' for a new root, or with --splice "
                      "any revision")
             ->capture_default_str();
         c.add_option("--branch-label", o.branch_label, "Branch label for the new revision");
         c.add_option("--depends-on", o.depends_on,
                      "Revision or branch label this one depends on (repeatable)");
         c.add_option("--rev-id", o.rev_id, "Use this id instead of 12 random hex digits");
         c.add_flag("--splice", o.splice, "Allow --head to be a revision that is not a head");
         c.add_flag("--autogenerate", o.autogenerate,
                    "Write the difference between the heads' schema and the declared schema "
                    "(schema = in fleet.toml, or --declared), built in the --dev-url database");
         c.add_flag("--allow-drop", o.allow_drop,
                    "With --autogenerate: drop tables and columns the declared schema lacks "
                    "(otherwise written commented out)");
         c.add_flag("--concurrent-indexes", o.concurrent_indexes,
                    "With --autogenerate: new indexes on existing tables go into a second, "
                    "transactional: false revision as CREATE INDEX CONCURRENTLY");
         AddAutogenerateSources(c, o);
       },
       RunRevision},
      {"merge", "Write a revision that merges REV... (or 'heads') into one head.",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.revisions, "Revisions to merge, or 'heads'")->required();
         c.add_option("-m,--message", o.message, "What the merge is for");
         c.add_option("--branch-label", o.branch_label, "Branch label for the merge revision");
         c.add_option("--rev-id", o.rev_id, "Use this id instead of 12 random hex digits");
       },
       RunMerge},
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
      {"upgrade", "Upgrade the database to TARGET (head, heads, an id, L@head, +N, rev+N ...).",
       [](CLI::App& c, Options& o) {
         c.add_option("TARGET", o.target, "Target; with --sql also FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
         c.add_flag("--allow-drift", o.allow_drift,
                    "Upgrade even though applied scripts changed since they ran");
         c.add_flag("--create-schema", o.create_schema, "Create --schema when it is missing");
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
      {"status",
       "Which tenants lag: a summary line, then every tenant's revision, distance from head "
       "and state. Exit 0 when every selected tenant is current, 1 otherwise.",
       [](CLI::App& c, Options& o) {
         c.add_flag("--lagging", o.fleet.lagging, "Only tenants that are not current");
         c.add_option("--selector", o.fleet.selector, "Only tenants with these labels: k=v,k2=v2");
         c.add_option("--sort", o.fleet.sort, "behind, id or last-seen")->capture_default_str();
         c.add_flag("--refresh", o.fleet.refresh,
                    "Ask the agents now instead of reading the inventory");
         c.add_flag("--schema-drift", o.fleet.schema_drift,
                    "Also compare each tenant's real schema with what its revisions build (a "
                    "SCHEMA column; slower: the agents build each tenant's expected schema)");
       },
       RunFleet<RunStatusCommand>},
      {"agents", "Enrol, list and remove agents (fleet-agent processes).",
       [](CLI::App& c, Options& o) {
         AddActions(c, o, {{"add", "Enrol the agent at ADDR and all its tenants", "ADDR"},
                           {"list", "List enrolled agents", ""},
                           {"remove", "Forget an agent and its tenants", "ADDR"}});
       },
       RunFleet<RunAgentsCommand>},
      {"tenants", "List tenants, set their labels, remove them from the inventory.",
       [](CLI::App& c, Options& o) {
         AddActions(c, o, {{"list", "List tenants", ""},
                           {"label", "Set (k=v) or remove (k-) labels: label ID k=v... k-", "ARGS"},
                           {"history", "A tenant's rollout steps: who, when, from, to, outcome", "ID"},
                           {"diff", "How a tenant's real schema differs from what its revisions "
                                    "build (hand-made indexes, added columns); exit 1 when it does",
                            "ID"},
                           {"remove", "Remove a tenant from the inventory", "ID"}});
         c.add_option("--selector", o.fleet.selector, "Only tenants with these labels: k=v,k2=v2");
         c.add_option("--against", o.fleet.against,
                      "diff: compare with this target (head, an id) instead of the tenant's own "
                      "revisions");
       },
       RunFleet<RunTenantsCommand>},
      {"bundle", "Push a versions directory to the controller; list and show bundles.",
       [](CLI::App& c, Options& o) {
         AddActions(c, o, {{"push", "Upload the scripts of DIR; prints digest and heads", "DIR"},
                           {"list", "List bundles, newest first", ""},
                           {"show", "Show one bundle (8+ hex digits of its digest)", "DIGEST"}});
       },
       RunFleet<RunBundleCommand>},
      {"rollout",
       "Roll a target out in waves, canary first, halting and rolling back on failure: start, "
       "plan, status ID, list, watch ID, pause ID, resume ID (promote), abort ID, rollback ID.",
       [](CLI::App& c, Options& o) {
         AddActions(c, o, {{"start", "Start a rollout (see the flags)", ""},
                           {"plan", "Print the waves a rollout would run; act on nothing", ""},
                           {"status", "A rollout and every tenant in it", "ID"},
                           {"list", "All rollouts, newest first", ""},
                           {"watch", "Follow a rollout until it ends", "ID"},
                           {"pause", "Stop starting tenants (in-flight ones finish)", "ID"},
                           {"resume", "Go on after a pause or a gate", "ID"},
                           {"promote", "The same as resume", "ID"},
                           {"abort", "Stop for good, without rolling back", "ID"},
                           {"rollback", "Put every tenant the rollout moved back", "ID"}});
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
         c.add_flag("--watch", f.watch, "After start, follow the rollout until it ends");
       },
       RunFleet<RunRolloutCommand>},
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
  return *kCommands;
}

}  // namespace

int RunFleetctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                migrations::FileSystem& fs, Interrupt* interrupt) {
  Context ctx{Options{}, out, err, fs, interrupt, std::nullopt};
  CLI::App app{
      "fleetctl: Alembic-compatible schema migrations for one database, and a fleet of tenant "
      "databases through fleet-controller.\n\nThe versions directory is --dir, else script_location in "
      "./fleet.toml, else ./versions. The database is --dsn, else $DATABASE_URL.\n"
      "Exit codes: 0 ok, 1 a check found something, 2 usage error, 3 failed, 130 interrupted.",
      "fleetctl"};
  app.set_version_flag("--version", "fleetctl 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options work before or after the verb
  app.add_option("--dir", ctx.options.dir, "Versions directory");
  app.add_option("-o,--output", ctx.options.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--version-table", ctx.options.version_table,
                 "Version table name (default alembic_version)");
  app.add_option("--version-table-schema", ctx.options.version_table_schema,
                 "Schema of the version table (offline; online use --schema)");
  app.add_option("--controller", ctx.options.fleet.controller,
                 "fleet-controller address for the fleet verbs (default: $FLEET_CONTROLLER)");
  app.add_option("--timeout", ctx.options.fleet.timeout_seconds,
                 "Seconds to wait for the controller")
      ->capture_default_str();
  app.add_option("--tls-ca", ctx.options.fleet.tls_ca,
                 "CA that signs the controller's certificate (default: $FLEET_TLS_CA, else the "
                 "system's roots)");
  app.add_option("--tls-cert", ctx.options.fleet.tls_cert,
                 "Client certificate to prove who you are (default: $FLEET_TLS_CERT)");
  app.add_option("--tls-key", ctx.options.fleet.tls_key,
                 "Its private key (default: $FLEET_TLS_KEY)");
  app.add_option("--token-file", ctx.options.fleet.token_file,
                 "File holding a bearer token to prove who you are (default: $FLEET_TOKEN_FILE, "
                 "or the token itself in $FLEET_TOKEN)");
  app.add_flag("--insecure", ctx.options.fleet.insecure,
               "Plaintext to the controller; only allowed to a loopback address");
  app.add_option("--dsn", ctx.options.dsn,
                 "Database: libpq connection string or postgresql:// URL (default: "
                 "$DATABASE_URL); keep passwords in ~/.pgpass or PGPASSWORD");
  app.add_option("--schema", ctx.options.schema,
                 "Schema-per-tenant: search_path, version table and log live in this schema");
  app.add_option("--lock-wait", ctx.options.lock_wait,
                 "How long to wait for another migrator's lock")
      ->capture_default_str();
  app.add_option("--lock-timeout", ctx.options.lock_timeout,
                 "lock_timeout for every statement; lock timeouts are retried")
      ->capture_default_str();
  app.add_option("--statement-timeout", ctx.options.statement_timeout,
                 "statement_timeout for every statement (0: off)")
      ->capture_default_str();
  app.add_option("--retries", ctx.options.retries,
                 "Retries of a revision after a lock timeout or deadlock")
      ->capture_default_str();
  std::vector<std::pair<CLI::App*, int (*)(Context&)>> subcommands;
  for (const Command& command : Commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    command.setup(*sub, ctx.options);
    subcommands.emplace_back(sub, command.run);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e, out, err);
      return kExitOk;
    }
    return UsageError(ctx, e.what());
  }
  if (const double t = ctx.options.fleet.timeout_seconds;
      !std::isfinite(t) || t <= 0 || t > 7 * 24 * 3600) {
    return UsageError(ctx, "--timeout takes seconds, more than 0 and at most 604800 (7 days)");
  }
  for (auto& [sub, run] : subcommands) {
    if (sub->parsed()) return run(ctx);
  }
  return UsageError(ctx, "no command given");
}

}  // namespace fleet::cli
