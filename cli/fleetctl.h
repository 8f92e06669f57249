// fleetctl: the command-line driver, as a library so tests run it in-process.
//
// All logic lives behind RunFleetctl; main() only forwards argv. Each call is
// independent (no global state), so tests may run several at once.
#ifndef FLEET_CLI_FLEETCTL_H_
#define FLEET_CLI_FLEETCTL_H_

#include <ostream>

#include "cli/interrupt.h"
#include "migrations/file_system.h"

namespace fleet::cli {

// Exit codes scripts can rely on.
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // a check found something (check, validate)
  kExitUsage = 2,        // the command line is wrong
  kExitFailed = 3,       // the operation failed (bad scripts, unknown target, ...)
  kExitInterrupted = 130,  // stopped by Ctrl-C; the database is at its last completed revision
};

// Runs `fleetctl argv[1..]`, writing results to `out` and errors to `err`
// (one clear line first). Returns an ExitCode. `interrupt`, when given, lets
// another thread stop a running migration (Ctrl-C).
int RunFleetctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                migrations::FileSystem& fs, Interrupt* interrupt = nullptr);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_H_
