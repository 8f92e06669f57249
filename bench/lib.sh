# Sourced by the benchmark scripts: a private work directory with its own
# PostgreSQL, cleaned up on exit, and small helpers.
root="$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
versions="$root/examples/support-desk/versions"
fleetctl="$build/cli/fleetctl"

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench.XXXXXX")"
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$root/deploy/local/postgres.sh" stop "$work/pg"
  rm -rf "$work"
}
trap bench_cleanup EXIT
if [[ $(id -u) -eq 0 ]]; then chmod 755 "$work"; fi  # the postgres user must reach it

wait_file() { for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done; return 1; }
now_ms() { date +%s%3N; }
