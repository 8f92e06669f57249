#!/usr/bin/env bash
# fleetctl status at scale. Build first (tests/run.sh or cmake --build build).
#  1. 10,000 tenants (10 agents' worth) answered from the inventory: target under
#     150 ms per `fleetctl status`, controller resident memory under 200 MB.
#  2. `fleetctl status --refresh` over 1,000 tenants (schema-per-tenant, one database)
#     behind 10 real agents: target under 2 s.
#
#   bench/status_bench.sh [TENANTS_FROM_INVENTORY] [TENANTS_REFRESHED]
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n_inventory="${1:-10000}"
n_refresh="${2:-1000}"
time_runs() {  # time_runs N CMD...: prints the median of N runs in ms
  local n=$1; shift
  local times=()
  for _ in $(seq 1 "$n"); do
    local t0; t0=$(now_ms)
    "$@" >/dev/null || [[ $? -eq 1 ]]
    times+=($(( $(now_ms) - t0 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p"
}

# 1. From the inventory.
"$build/bench/inventory_fill" "$work/c1.sqlite" "$n_inventory" "$versions"
start_controller c1 --agent-timeout 200ms
port1=$port
c1=$controller_pid
"$fleetctl" status --insecure --controller "127.0.0.1:$port1" >/dev/null || true  # warm the graph cache
ms=$(time_runs 9 "$fleetctl" status -o json --insecure --controller "127.0.0.1:$port1")
ms_table=$(time_runs 9 "$fleetctl" status --insecure --controller "127.0.0.1:$port1")
rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$c1/status")
echo "status over $n_inventory tenants from the inventory: median ${ms} ms (-o json), ${ms_table} ms (table); controller RSS ${rss} MB"

# 2. --refresh through real agents.
admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"
psql -q -X "$admin" -c "CREATE DATABASE bench" >/dev/null
export BENCH_DSN="$admin dbname=bench"
schema_tenants "$BENCH_DSN" "$n_refresh" 9c0d1e2f3041 4d5e6f708192 6f708192a3b4
agents=10
per=$(( n_refresh / agents ))
for a in $(seq 0 $((agents - 1))); do
  schema_agent "a$a" BENCH_DSN t $((a * per)) $(((a + 1) * per - 1))
done
start_controller c2
port2=$port
enrol_and_push $(printf 'a%s ' $(seq 0 $((agents - 1))))
ms_refresh=$(time_runs 5 "$fleetctl" status --refresh --insecure --controller "127.0.0.1:$port2")
echo "status --refresh over $n_refresh tenants behind $agents agents: median ${ms_refresh} ms"
