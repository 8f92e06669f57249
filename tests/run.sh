#!/usr/bin/env bash
# The one test command: installs what the build and the tests need (Debian
# packages, skipped when present), builds with CMake (warnings are errors),
# starts a throwaway PostgreSQL (deploy/local/postgres.sh) whose connection
# string the tests read from FLEET_TEST_PG, and runs every test with ctest, two
# at a time.
#
#   tests/run.sh            # build into ./build and run all tests
#   tests/run.sh --long     # and then the long tier: the demo end to end, each
#                           # fuzzer for a minute, a clang -Wthread-safety build
#   BUILD_DIR=/tmp/b tests/run.sh -R Revision   # extra args go to ctest
set -euo pipefail

long=0
if [[ ${1:-} == --long ]]; then
  long=1
  shift
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"

# shellcheck source=tests/packages.sh
source "$root/tests/packages.sh"
fleet_install_packages
fleet_install_test_tools "$root"

jobs="$(nproc 2>/dev/null || echo 2)"
# Release, the way a user builds, with warnings as errors turned on here (a
# user's build keeps them as warnings); ccache makes a rebuild of an
# unchanged tree, or a clean clone after one, take a minute or two.
# Paths relative to the checkout, so that another clone hits the same cache.
export CCACHE_BASEDIR="$root"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLEET_WERROR=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$build" --parallel "$jobs"
# A throwaway PostgreSQL for the tests that need one, stopped however we exit.
pg="$build/pg"
trap '"$root/deploy/local/postgres.sh" stop "$pg"' EXIT
FLEET_TEST_PG="$("$root/deploy/local/postgres.sh" start "$pg")"
export FLEET_TEST_PG

cd "$build"
ctest --output-on-failure -j2 "$@"

if [[ $long -eq 1 ]]; then
  # The long tier: deploy/local/demo.sh twice and its follow-up commands,
  # then libFuzzer on the script and target parsers (clang, ASan, UBSan), a
  # minute each; tests/fuzz/run.sh SECONDS runs them longer; and the
  # libraries and daemons built with clang's -Wthread-safety, which checks
  # every ABSL_GUARDED_BY member is touched only under its lock.
  "$root/tests/long/demo_test.sh" "$build"
  if ! command -v clang++ >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang
  fi
  cmake -S "$root" -B "$build-tsa" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Release -DFLEET_WERROR=ON -DFLEET_THREAD_SAFETY=ON \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
  cmake --build "$build-tsa" --parallel "$jobs" --target fleet-controller fleet-agent fleetctl \
    controller_test
  "$build-tsa/tests/controller_test"
  "$root/tests/fuzz/run.sh" "${FLEET_FUZZ_SECONDS:-60}"
fi
