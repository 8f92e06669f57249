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
"$build/bench/inventory_fill" "$work/inv.sqlite" "$n_inventory" "$versions"
"$build/controller/fleet-controller" --insecure --db "$work/inv.sqlite" --listen 127.0.0.1:0 --http "" \
  --poll-interval 24h --agent-timeout 200ms --port-file "$work/c1.port" 2>"$work/c1.log" &
pids+=($!)
c1=$!
wait_file "$work/c1.port"
read -r port1 _ <"$work/c1.port"
"$fleetctl" status --insecure --controller "127.0.0.1:$port1" >/dev/null || true  # warm the graph cache
ms=$(time_runs 9 "$fleetctl" status -o json --insecure --controller "127.0.0.1:$port1")
ms_table=$(time_runs 9 "$fleetctl" status --insecure --controller "127.0.0.1:$port1")
rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$c1/status")
echo "status over $n_inventory tenants from the inventory: median ${ms} ms (-o json), ${ms_table} ms (table); controller RSS ${rss} MB"

# 2. --refresh through real agents.
admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"
psql -q -X "$admin" -c "CREATE DATABASE bench" >/dev/null
export BENCH_DSN="$admin dbname=bench"
psql -q -X "$BENCH_DSN" >/dev/null <<SQL
DO \$\$
DECLARE revs text[] := ARRAY['9c0d1e2f3041', '4d5e6f708192', '6f708192a3b4'];
BEGIN
  FOR i IN 0..$((n_refresh - 1)) LOOP
    EXECUTE format('CREATE SCHEMA t%s', i);
    EXECUTE format('CREATE TABLE t%s.alembic_version (version_num varchar(32) PRIMARY KEY)', i);
    EXECUTE format('INSERT INTO t%s.alembic_version VALUES (%L)', i, revs[1 + i % 3]);
  END LOOP;
END
\$\$;
SQL
agents=10
per=$(( n_refresh / agents ))
for a in $(seq 0 $((agents - 1))); do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/cache$a\""
    for i in $(seq $((a * per)) $(((a + 1) * per - 1))); do
      echo "[[tenants]]"
      echo "id = \"t$i\""
      echo "dsn_env = \"BENCH_DSN\""
      echo "schema = \"t$i\""
    done
  } >"$work/agent$a.toml"
  "$build/agent/fleet-agent" --insecure --config "$work/agent$a.toml" --port-file "$work/a$a.port" \
    2>"$work/a$a.log" &
  pids+=($!)
done
"$build/controller/fleet-controller" --insecure --db "$work/live.sqlite" --listen 127.0.0.1:0 --http "" \
  --poll-interval 24h --port-file "$work/c2.port" 2>"$work/c2.log" &
pids+=($!)
wait_file "$work/c2.port"
read -r port2 _ <"$work/c2.port"
for a in $(seq 0 $((agents - 1))); do
  wait_file "$work/a$a.port"
  "$fleetctl" agents add "127.0.0.1:$(cat "$work/a$a.port")" --insecure --controller "127.0.0.1:$port2" >/dev/null
done
"$fleetctl" bundle push "$versions" --insecure --controller "127.0.0.1:$port2" >/dev/null
ms_refresh=$(time_runs 5 "$fleetctl" status --refresh --insecure --controller "127.0.0.1:$port2")
echo "status --refresh over $n_refresh tenants behind $agents agents: median ${ms_refresh} ms"
