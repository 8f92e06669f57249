// fleetctl: the command-line driver, as a library so tests run it in-process.
//
// All logic lives behind RunFleetctl; main() only forwards argv. Each call is
// independent (no global state), so tests may run several at once. The
// verbs live in cli/*_verbs.cc, each group a table (cli/command.h).
#ifndef FLEET_CLI_FLEETCTL_H_
#define FLEET_CLI_FLEETCTL_H_

#include <ostream>

#include "cli/exit_codes.h"
#include "cli/interrupt.h"
#include "migrations/file_system.h"

namespace fleet::cli {

// Runs `fleetctl argv[1..]`, writing results to `out` and errors to `err`
// (one clear line first). Returns an ExitCode. `interrupt`, when given, lets
// another thread stop a running migration (Ctrl-C).
int RunFleetctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                migrations::FileSystem& fs, Interrupt* interrupt = nullptr);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_H_
