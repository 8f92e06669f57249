// fleetctl: parses nothing itself; see cli/fleetctl.h. Here only the process
// wiring: SIGINT/SIGTERM go to a thread that interrupts the running command.
#include <signal.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "cli/fleetctl.h"
#include "cli/interrupt.h"
#include "serving/serving.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a dropped server connection must not kill us
  // Blocked here, inherited by every thread: only the waiter below sees them.
  sigset_t signals = fleet::serving::BlockSignals({SIGINT, SIGTERM});
  fleet::cli::Interrupt interrupt;
  std::thread([&signals, &interrupt] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) == 0) interrupt.Trigger();
    }
  }).detach();
  return fleet::cli::RunFleetctl(argc, argv, std::cout, std::cerr,
                                 fleet::migrations::DefaultFileSystem(), &interrupt);
}
