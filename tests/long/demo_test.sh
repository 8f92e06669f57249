#!/usr/bin/env bash
# Long tier: deploy/local/demo.sh end to end, unattended, then the commands
# it tells the reader to go on with, then `down`, after which nothing it
# started may be running.
#
#   tests/long/demo_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
export FLEET_DEMO_DIR=$build/demo-test FLEET_BUILD_DIR=$build
demo=$FLEET_DEMO_DIR
log=$build/demo-test.log

fail() {
  echo "demo_test: FAILED: $*" >&2
  echo "--- the demo's output: $log" >&2
  tail -40 "$log" >&2
  "$root/deploy/local/demo.sh" down >/dev/null 2>&1 || true
  exit 1
}
expect() { grep -qF -- "$1" "$log" || fail "the output lacks: $1"; }

# Twice: a second run must stop the first and start afresh.
for run in 1 2; do
  "$root/deploy/local/demo.sh" >"$log" 2>&1 || fail "run $run exited $?"
done
expect "24 tenants · 2 at head 9c0d1e2f · 22 lagging"
expect "every wave reached its target"
expect "24 tenants · 24 at head 9c0d1e2f"
expect "wave 1 failed: 2 of 11 tenants failed (max-failures 0)"
expect "tenant-07: agent"
expect "tenant-11: agent"
expect "24 tenants · 0 at head a0b1c2d3 · 24 lagging"
[[ $(grep -c '^[0-9]* ' "$demo/pids") -eq 4 ]] || fail "expected 4 processes in $demo/pids"

# The commands the demo prints, as a reader would run them.
(
  # shellcheck disable=SC1091
  source "$demo/env"
  set +e
  fleetctl status --lagging >/dev/null; [[ $? -eq 1 ]] || exit 11
  fleetctl rollout list | grep -q rolled_back || exit 12
  fleetctl tenants history tenant-07 | grep -q "upgrade failed" || exit 13
  fleetctl tenants list --selector tier=gold | grep -q tenant-03 || exit 14
  refused=$(FLEET_TOKEN_FILE=$demo/viewer.token fleetctl rollout start --to head 2>&1)
  [[ $? -eq 3 && $refused == *"demo-viewer is a viewer; starting a rollout needs the operator role"* ]] ||
    exit 15
  exit 0
) || fail "a go-on-by-hand command did not work (code $?)"

pids=$(cut -d' ' -f1 "$demo/pids")
"$root/deploy/local/demo.sh" down >>"$log" 2>&1 || fail "down exited $?"
# Running: present and not a zombie waiting for init to reap it.
running() { [[ -r /proc/$1/stat ]] && [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }
for pid in $pids; do
  ! running "$pid" || fail "pid $pid still runs after down"
done
if pgrep -f "$demo" >/dev/null; then fail "processes naming $demo still run: $(pgrep -af "$demo")"; fi
echo "demo_test: the demo ran twice end to end and down left nothing running"
