// What every fleetctl verb shares: the options a command line sets, the
// context a verb runs in, and the table entry that declares a verb — its
// name, its help, its flags and its handler in one place. The tables are in
// cli/*_verbs.cc; cli/fleetctl.cc builds the command line from them.
//
// Threads: a Context belongs to one run of fleetctl.
#ifndef FLEET_CLI_COMMAND_H_
#define FLEET_CLI_COMMAND_H_

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/exit_codes.h"
#include "cli/interrupt.h"
#include "migrations/file_system.h"
#include "migrations/offline_sql.h"
#include "migrations/revision_graph.h"
#include "nlohmann/json.hpp"
#include "toml++/toml.h"

namespace fleet::cli {

// The fleet verbs' options (they talk to fleet-controller).
struct FleetOptions {
  std::string controller;  // host:port
  bool insecure = false;   // plaintext (loopback only)
  std::string tls_ca, tls_cert, tls_key, token_file;
  std::string token;               // loaded from token_file or FLEET_TOKEN; secret
  std::vector<std::string> args;   // an action's positional arguments
  std::string selector;  // k=v,k2=v2
  bool lagging = false;
  bool refresh = false;
  bool schema_drift = false;  // status --schema-drift
  std::string against;        // tenants diff --against
  std::string sort = "behind";
  double timeout_seconds = 30;
  // rollout start / plan
  std::string to;
  std::string canary, waves, max_failures, pause_after, on_failure, bundle, file;
  std::string bake = "0";
  std::string tenant_timeout = "10m";
  int parallel = 0;
  bool watch = false;
  bool allow_lint_errors = false;
  bool rehearse = false;
  std::string lint_large = "1GB";
};

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
  std::vector<std::string> autogenerate_exclude;  // and [autogenerate] exclude
  std::vector<std::string> autogenerate_schemas;  // and [autogenerate] schemas
  bool show_ignored = false;  // lint, rollout plan
  // import alembic
  std::string shell;  // completion
  std::string alembic_config;
  std::string import_out;
  std::string python = "python3";
  bool check_import = false;
  FleetOptions fleet;    // the verbs that talk to the controller
};

struct Context {
  Options options;
  std::ostream& out;
  std::ostream& err;
  migrations::FileSystem& fs;
  Interrupt* interrupt = nullptr;
  bool terminal = false;  // `out` is a terminal: live views redraw in place
  // ./fleet.toml, read once (see ReadConfig).
  std::optional<absl::StatusOr<std::optional<toml::table>>> config;
  // The whole command line's definition (completion walks it).
  const CLI::App* app = nullptr;
  // The command line as given (HandOver passes it on unchanged).
  int argc = 0;
  const char* const* argv = nullptr;
};

// One verb (or one action of a verb: `rollout pause`) of the table.
struct Command {
  Command(const char* name, const char* help,
          std::function<void(CLI::App&, Options&)> setup, int (*run)(Context&),
          std::vector<Command> actions = {}, const char* args = "")
      : name(name),
        help(help),
        setup(std::move(setup)),
        run(run),
        actions(std::move(actions)),
        args(args) {}

  const char* name;
  const char* help;
  // Adds the verb's flags and positionals (may be empty).
  std::function<void(CLI::App&, Options&)> setup;
  // What it runs; null for a verb made of actions.
  int (*run)(Context&) = nullptr;
  // A verb's actions (agents add|list|remove): each runs itself.
  std::vector<Command> actions;
  // An action's positional arguments, as help shows them ("ID"; "": none).
  const char* args = "";
};

// The tables, in the order --help lists them.
std::vector<Command> ScriptVerbs();    // init, revision, merge (script_verbs.cc)
std::vector<Command> GraphVerbs();     // heads, branches, history, show (graph_verbs.cc)
std::vector<Command> DatabaseVerbs();  // upgrade, downgrade, stamp, current, check, validate
std::vector<Command> FleetVerbs();     // status, agents, tenants, bundle (inventory_verbs.cc)
std::vector<Command> RolloutVerbs();   // rollout (rollout_verbs.cc)
std::vector<Command> CheckVerbs();     // lint, test (check_verbs.cc)
std::vector<Command> ImportVerbs();    // import alembic (import_verbs.cc)
std::vector<Command> CompletionVerbs();  // completion bash|zsh (completion_verbs.cc)

// One lint finding as fleetctl shows it, from the engine (lint) or from the
// controller (rollout plan).
struct LintReport {
  std::string rule, severity, revision, file;
  int line = 0;
  std::string statement, table, detail, why, fix;
  bool ignored = false;
  std::string ignore_reason;
};
// Lint findings for people, then a count line; ignored ones only with
// `show_ignored`. Returns the errors that are not ignored.
int PrintLintFindings(Context& ctx, const std::vector<LintReport>& findings, bool show_ignored);
// The same as JSON objects.
nlohmann::json LintFindingsJson(const std::vector<LintReport>& findings);

// Where --autogenerate builds and what it compares with (revision, check).
void AddAutogenerateSources(CLI::App& c, Options& o);
// check --autogenerate: exit 1 when the declared schema and the heads differ.
int RunAutogenerateCheck(Context& ctx);

// A failed operation: one clear line, exit 3 (130 when interrupted).
int Fail(Context& ctx, const absl::Status& status);
// A wrong command line: one clear line, exit 2.
int UsageError(Context& ctx, absl::string_view message);
// -o json
bool Json(const Context& ctx);

// ./fleet.toml, or null when there is none; read and parsed once.
absl::StatusOr<const toml::table*> ReadConfig(Context& ctx);
// --dir, else script_location from ./fleet.toml, else ./versions.
absl::StatusOr<std::string> VersionsDir(Context& ctx);
// The version table by fleet.toml, then the flags.
absl::StatusOr<migrations::VersionTable> VersionTableFor(Context& ctx);
// The versions directory's graph; with {.headers_only = true}, without
// parsing the scripts' SQL, for the verbs that only show the history
// (heads, branches, history, show): nothing can run such a graph.
absl::StatusOr<std::unique_ptr<const migrations::RevisionGraph>> LoadGraph(
    Context& ctx, const migrations::ParseScriptOptions& options = {});
std::vector<std::string> Ids(const migrations::RevisionGraph& graph,
                             const std::vector<migrations::RevisionGraph::Index>& revs);
// Alembic's file-name slug of a revision message: its words joined by '_',
// lowercased, at most 40 characters (script_verbs.cc).
std::string Slug(absl::string_view message);
// "user@host": who runs this, for logs and the audit.
std::string WhoAmI();
// Heads for people: "base" when there are none, else joined by `separator`.
template <typename Range>
std::string HeadsText(const Range& heads, const char* separator = ", ") {
  std::string out;
  for (const auto& h : heads) {
    if (!out.empty()) out += separator;
    out += h;
  }
  return out.empty() ? "base" : out;
}

// How long `rollout watch` waits before its next look, given how long the
// last look took: 300 ms, or ten times the look when that is longer (a look
// reads every tenant of the rollout), never more than 5 s.
absl::Duration WatchInterval(absl::Duration look);

}  // namespace fleet::cli

#endif  // FLEET_CLI_COMMAND_H_
