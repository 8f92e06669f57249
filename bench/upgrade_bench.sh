#!/usr/bin/env bash
# Engine overhead against a real server: apply examples/support-desk base -> head
# on N databases (default 100) one after another with `fleetctl upgrade heads`,
# then the same SQL (fleetctl's offline output, which is Alembic's) with one
# `psql -f` per database: the floor, the server's own work plus a connection.
# Target: fleetctl within 1.5x of psql in total.
#
#   bench/upgrade_bench.sh [N]        (build first: tests/run.sh or cmake --build build)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
fleetctl="$build/cli/fleetctl"
n="${1:-100}"
versions="$root/examples/support-desk/versions"
[[ -x "$fleetctl" ]] || { echo "build fleetctl first ($fleetctl)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench.XXXXXX")"
cleanup() { "$root/deploy/local/postgres.sh" stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
if [[ $(id -u) -eq 0 ]]; then chmod 755 "$work"; fi
admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"

for i in $(seq 1 "$n"); do
  echo "CREATE DATABASE bench_fleet_$i; CREATE DATABASE bench_psql_$i;"
done | psql -q -X "$admin" >/dev/null
"$fleetctl" upgrade heads --sql --dir "$versions" >"$work/head.sql"

now() { date +%s.%N; }
t0=$(now)
for i in $(seq 1 "$n"); do
  "$fleetctl" upgrade heads --dir "$versions" --dsn "$admin dbname=bench_fleet_$i" >/dev/null
done
t1=$(now)
for i in $(seq 1 "$n"); do
  psql -q -X -v ON_ERROR_STOP=1 "$admin dbname=bench_psql_$i" -f "$work/head.sql" >/dev/null
done
t2=$(now)

awk -v n="$n" -v f="$(echo "$t1 - $t0" | bc)" -v p="$(echo "$t2 - $t1" | bc)" 'BEGIN {
  printf "databases: %d (9 revisions each)\n", n
  printf "fleetctl upgrade heads: %.2f s total, %.1f ms per database\n", f, 1000 * f / n
  printf "psql -f (floor):        %.2f s total, %.1f ms per database\n", p, 1000 * p / n
  printf "ratio: %.2fx; fleet overhead %.1f ms per database\n", f / p, 1000 * (f - p) / n
}'
