// What the verbs that work on one database share: the Migrator the command
// line describes, cancelled by Ctrl-C, and how its steps are printed.
#ifndef FLEET_CLI_DATABASE_H_
#define FLEET_CLI_DATABASE_H_

#include "cli/command.h"
#include "migrations/migrator.h"

namespace fleet::cli {

// Migrator options from the command line: --dsn, else DATABASE_URL.
// INVALID_ARGUMENT naming the flag when one is wrong.
absl::StatusOr<migrations::MigratorOptions> MigratorOptionsFor(Context& ctx);

// One line per step: "Running upgrade A -> B, message ... done (12 ms)".
migrations::StepObserver PrintSteps(Context& ctx);

// Runs `body` with a Migrator whose Cancel() the interrupt triggers; the
// exit code is body's.
template <typename F>
int WithMigrator(Context& ctx, const migrations::RevisionGraph& graph, F&& body) {
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

}  // namespace fleet::cli

#endif  // FLEET_CLI_DATABASE_H_
