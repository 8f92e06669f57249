// fleetctl: parses nothing itself; see cli/fleetctl.h.
#include <iostream>

#include "cli/fleetctl.h"

int main(int argc, char** argv) {
  return fleet::cli::RunFleetctl(argc, argv, std::cout, std::cerr,
                                 fleet::migrations::DefaultFileSystem());
}
