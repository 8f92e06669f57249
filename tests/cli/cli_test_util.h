// Helpers for fleetctl tests: run it in-process, or as the real binary.
#ifndef FLEET_TESTS_CLI_CLI_TEST_UTIL_H_
#define FLEET_TESTS_CLI_CLI_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/fleetctl.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace fleet::testing {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline Result RunCli(std::vector<std::string> args) {
  std::vector<const char*> argv{"fleetctl"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  Result r;
  r.code = cli::RunFleetctl(static_cast<int>(argv.size()), argv.data(), out, err,
                            migrations::DefaultFileSystem());
  r.out = out.str();
  r.err = err.str();
  return r;
}

// Runs `cmd` through the shell: its output and exit code.
inline Result RunShell(const std::string& cmd) {
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs the fleetctl program `binary` in `cwd` through the shell; stdout only,
// or stdout and stderr together in `out`.
inline Result RunProgram(const std::string& binary, const std::string& cwd, const std::string& args,
                         bool with_stderr = false) {
  return RunShell("cd '" + cwd + "' && '" + binary + "' " + args +
                  (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

// The same with the fleetctl just built.
inline Result RunBinary(const std::string& cwd, const std::string& args, bool with_stderr = false) {
  return RunProgram(FLEETCTL_PATH, cwd, args, with_stderr);
}

inline std::string ExampleDir() {
  return std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions";
}

}  // namespace fleet::testing

#endif  // FLEET_TESTS_CLI_CLI_TEST_UTIL_H_
