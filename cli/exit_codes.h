// fleetctl's exit codes: what scripts may rely on.
#ifndef FLEET_CLI_EXIT_CODES_H_
#define FLEET_CLI_EXIT_CODES_H_

namespace fleet::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,    // a check found something (check, validate, status, a failed rollout)
  kExitUsage = 2,          // the command line is wrong
  kExitFailed = 3,         // the operation failed (bad scripts, unknown target, ...)
  kExitInterrupted = 130,  // stopped by Ctrl-C; the database is at its last completed revision
};

}  // namespace fleet::cli

#endif  // FLEET_CLI_EXIT_CODES_H_
