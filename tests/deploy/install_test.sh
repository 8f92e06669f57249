#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, and staged with DESTDIR as a
# package build does: the three programs are there and run, the systemd
# units start the installed programs (never /usr/local by assumption), the
# example configuration, README, copyright notice and design map are in the doc folder, and
# nothing of the tests or benchmarks is installed.
#
#   tests/deploy/install_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleet-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

check_tree() {  # ROOT PREFIX: files under ROOT, units naming PREFIX
  local root=$1 prefix=$2
  local units="$root$prefix/lib/systemd/system" doc="$root$prefix/share/doc/fleet"
  for p in fleetctl fleet-controller fleet-agent; do
    [[ -x "$root$prefix/bin/$p" ]] || fail "$p is not installed in $prefix/bin"
    "$root$prefix/bin/$p" --help >/dev/null || fail "$p --help failed"
    [[ $("$root$prefix/bin/$p" --version) == "$p $version" ]] \
      || fail "$p --version says '$("$root$prefix/bin/$p" --version)', not '$p $version'"
  done
  [[ $(find "$root$prefix/bin" -type f | wc -l) -eq 3 ]] || fail "more than the three programs in bin"
  [[ -x "$root$prefix/libexec/fleet/fleetctl-online" ]] || fail "fleetctl-online is not in $prefix/libexec/fleet"
  # fleetctl hands what it cannot run itself to the installed fleetctl-online.
  local out
  out=$(cd "$tmp" && "$root$prefix/bin/fleetctl" status 2>&1) && fail "fleetctl status without a controller succeeded"
  grep -q "no controller given" <<<"$out" || fail "fleetctl status did not reach fleetctl-online: $out"
  if find "$root$prefix" -name '*_test' -o -name '*bench*' | grep -q .; then
    fail "a test or benchmark is installed"
  fi
  grep -q "^ExecStart=$prefix/bin/fleet-agent " "$units/fleet-agent.service" \
    || fail "fleet-agent.service does not start $prefix/bin/fleet-agent"
  grep -q "^ExecStart=$prefix/bin/fleet-controller " "$units/fleet-controller.service" \
    || fail "fleet-controller.service does not start $prefix/bin/fleet-controller"
  if [[ $prefix != /usr/local ]] && grep -q /usr/local "$units"/*.service; then
    fail "a unit still names /usr/local"
  fi
  for f in examples/agent.toml examples/agent.env examples/controller.env README.md COPYRIGHT copyright ARCHITECTURE.md; do
    [[ -s "$doc/$f" ]] || fail "share/doc/fleet/$f is missing"
  done
}

cmake --install "$build" --prefix "$tmp/opt/fleet" >/dev/null
check_tree "" "$tmp/opt/fleet"

DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr >/dev/null
check_tree "$tmp/stage" /usr
echo "install_test: ok"
