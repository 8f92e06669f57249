// The half of fleetctl that needs a server library: libpq for the verbs that
// work on a database (and autogenerate, test), gRPC for the ones that talk
// to fleet-controller.
//
// Two programs are built from the same verb tables. `fleetctl` links neither
// library, so the offline verbs (heads, history, show, revision, lint,
// upgrade --sql ...) start in a few milliseconds instead of the ~40 ms the
// dynamic loader needs for libpq, gRPC and what they pull in. Its versions
// of the functions below hand the whole command line, unchanged, to
// `fleetctl-online` (cli/offline_main.cc), which is fleetctl with both
// libraries, and whose versions (cli/database_online.cc, the fleet and
// rollout verbs, completion) do the work. Tests link the online half and run
// everything in-process.
#ifndef FLEET_CLI_ONLINE_H_
#define FLEET_CLI_ONLINE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/command.h"
#include "migrations/revision_graph.h"
#include "migrations/schema_diff.h"

namespace fleet::cli {

// Where the rest of the command line runs. In fleetctl-online (and the
// tests): nowhere else, nullopt. In fleetctl: it replaces this process with
// fleetctl-online and the same arguments, so it returns only when that
// fails, with the exit code after saying why.
std::optional<int> HandOver(Context& ctx);

// upgrade / downgrade TARGET against the database (not --sql).
int RunMigrate(Context& ctx, migrations::Direction direction);
// stamp REV... against the database (not --sql).
int RunStampDatabase(Context& ctx);
// current, check (without --autogenerate), validate.
int RunCurrent(Context& ctx);
int RunCheckDatabase(Context& ctx);
int RunValidate(Context& ctx);
// The database's heads, for history --indicate-current and `current` in a
// range; exit code in `code` when it could not be read (the error printed).
std::optional<std::vector<std::string>> DatabaseHeads(Context& ctx,
                                                      const migrations::RevisionGraph& graph,
                                                      int* code);
// test: the stairway in a scratch database.
int RunTest(Context& ctx);
// --autogenerate: the heads' schema against the declared one, both built in
// --dev-url.
absl::StatusOr<migrations::RevisionDiffs> Autogenerate(Context& ctx);

}  // namespace fleet::cli

#endif  // FLEET_CLI_ONLINE_H_
