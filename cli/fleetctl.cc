#include "cli/fleetctl.h"

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/command.h"
#include "cli/online.h"
#include "proto/version.h"

namespace fleet::cli {
namespace {

// Every verb, in the order --help lists them.
std::vector<Command> AllVerbs() {
  std::vector<Command> all;
  for (auto table :
       {ScriptVerbs, GraphVerbs, CheckVerbs, ImportVerbs, DatabaseVerbs, FleetVerbs, RolloutVerbs,
        CompletionVerbs}) {
    for (Command& c : table()) all.push_back(std::move(c));
  }
  return all;
}

// Adds `command` under `parent`; records every handler with its subcommand.
void AddCommand(CLI::App& parent, const Command& command, Options& options,
                std::vector<std::pair<CLI::App*, int (*)(Context&)>>& handlers) {
  CLI::App* sub = parent.add_subcommand(command.name, command.help);
  if (command.setup) command.setup(*sub, options);
  if (command.args[0] != '\0') {
    sub->add_option(command.args, options.fleet.args, command.args)->required();
  }
  if (command.run) handlers.emplace_back(sub, command.run);
  if (!command.actions.empty()) {
    sub->require_subcommand(1);
    for (const Command& action : command.actions) AddCommand(*sub, action, options, handlers);
  }
}

}  // namespace

int RunFleetctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                migrations::FileSystem& fs, Interrupt* interrupt) {
  Context ctx{Options{}, out, err, fs, interrupt,
              &out == &std::cout && isatty(STDOUT_FILENO) == 1, std::nullopt};
  CLI::App app{
      "fleetctl: Alembic-compatible schema migrations for one database, and a fleet of tenant "
      "databases through fleet-controller.\n\nThe versions directory is --dir, else script_location in "
      "./fleet.toml, else ./versions. The database is --dsn, else $DATABASE_URL.\n"
      "Exit codes: 0 ok, 1 a check found something, 2 usage error, 3 failed, 130 interrupted.",
      "fleetctl"};
  app.set_version_flag("--version", std::string("fleetctl ") + proto::kVersion);
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
                 "fleet-controller address for the fleet verbs (default: $FLEET_CONTROLLER); "
                 "several, comma-separated, for controllers sharing an inventory: the leader "
                 "is used");
  CLI::Option* timeout =
      app.add_option("--timeout", ctx.options.fleet.timeout_seconds,
                     "Seconds to wait for the controller (with --rehearse: default 600)")
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
  std::vector<std::pair<CLI::App*, int (*)(Context&)>> handlers;
  for (const Command& command : AllVerbs()) AddCommand(app, command, ctx.options, handlers);
  ctx.app = &app;
  ctx.argc = argc;
  ctx.argv = argv;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // fleetctl knows only the offline verbs: --help, and anything it cannot
    // parse, is for fleetctl-online, which knows them all (cli/online.h).
    if (dynamic_cast<const CLI::CallForVersion*>(&e) == nullptr) {
      if (std::optional<int> code = HandOver(ctx)) return *code;
    }
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e, out, err);
      return kExitOk;
    }
    return UsageError(ctx, e.what());
  }
  // A rehearsal runs every tenant's upgrade before the answer comes.
  if (ctx.options.fleet.rehearse && timeout->count() == 0) ctx.options.fleet.timeout_seconds = 600;
  if (const double t = ctx.options.fleet.timeout_seconds;
      !std::isfinite(t) || t <= 0 || t > 7 * 24 * 3600) {
    return UsageError(ctx, "--timeout takes seconds, more than 0 and at most 604800 (7 days)");
  }
  for (auto& [sub, run] : handlers) {
    if (sub->parsed()) return run(ctx);
  }
  return UsageError(ctx, "no command given");
}

}  // namespace fleet::cli
