#!/usr/bin/env bash
# Schema-per-tenant at scale: N tenant schemas (default 10,000) in one
# database, behind 4 agents with their default connection pools, on one
# throwaway PostgreSQL (fsync off). Build first (tests/run.sh or cmake --build
# build). Measures, side by side in one run:
#  1. the floor: 8 psql sessions, each running the same SQL (examples/
#     support-desk base -> head) through its share of N schemas of another
#     database with SET search_path;
#  2. a fleet rollout of the same change, --canary 0 --waves 100% --parallel 8;
#  3. the no-op rollout (every tenant already at the target), twice: just
#     after the rollout's DDL and again;
#  4. fleetctl status --refresh;
#  5. new PostgreSQL sessions during the rollout and the no-op rollout
#     (from the server's connection log);
#  6. peak resident memory (VmHWM) of the controller and of each agent.
# Goals (issue 24): rollout <= 1.3x the floor at 1,000 and 10,000 schemas;
# no-op rollout and status --refresh over 10,000 schemas < 5 s each; new
# sessions per rollout <= the agents' pool sizes plus a small constant.
#
#   bench/schema_bench.sh [N]
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-10000}"
agents=4

admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"
psql -q -X "$admin" -c "CREATE DATABASE tenants" -c "CREATE DATABASE floor" >/dev/null
psql -q -X "$admin" -c "ALTER SYSTEM SET log_connections = on" -c "SELECT pg_reload_conf()" >/dev/null
pg_data="$work/pg/data"
if [[ -f "$work/pg/datadir" ]]; then pg_data=$(cat "$work/pg/datadir"); fi
sessions() { grep -c 'connection authorized: user=[^ ]* database=tenants' "$pg_data/server.log" || true; }
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
echo "creating $((2 * n)) schemas..."
for db in tenants floor; do
  psql -q -X "$admin dbname=$db" \
    -c "DO \$\$ BEGIN FOR i IN 0..$((n - 1)) LOOP EXECUTE format('CREATE SCHEMA t%s', i); END LOOP; END \$\$" >/dev/null
done

export TENANTS_DSN="$admin dbname=tenants"
per=$(( (n + agents - 1) / agents ))
agent_pids=()
for a in $(seq 0 $((agents - 1))); do
  first=$((a * per))
  last=$(( (a + 1) * per - 1 ))
  (( last >= n )) && last=$((n - 1))
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/a$a.cache\""
    echo "max_concurrent_migrations = 8"
    for i in $(seq "$first" "$last"); do
      echo "[[tenants]]"; echo "id = \"t$i\""; echo "dsn_env = \"TENANTS_DSN\""; echo "schema = \"t$i\""
    done
  } >"$work/a$a.toml"
  start_agent "a$a"
  agent_pids+=("${pids[-1]}")
done
start_controller c1 --agent-timeout 120s
enrol_and_push $(printf 'a%s ' $(seq 0 $((agents - 1))))
ctl=(--insecure --controller "127.0.0.1:$port")

# 1. The floor.
"$fleetctl" upgrade heads --sql --dir "$versions" >"$work/head.sql"
for k in $(seq 0 7); do
  for i in $(seq 0 $((n - 1))); do
    if (( i % 8 == k )); then printf 'SET search_path TO t%s;\n\\i %s\n' "$i" "$work/head.sql"; fi
  done >"$work/floor$k.psql"
done
t0=$(now_ms)
floor_pids=()
for k in $(seq 0 7); do
  psql -q -X -v ON_ERROR_STOP=1 "$admin dbname=floor" -f "$work/floor$k.psql" >/dev/null &
  floor_pids+=($!)
done
for p in "${floor_pids[@]}"; do wait "$p"; done
t1=$(now_ms)
floor_ms=$((t1 - t0))

# 2. The rollout.
s0=$(sessions)
t0=$(now_ms)
"$fleetctl" rollout start --canary 0 --waves 100% --parallel 8 --watch "${ctl[@]}" >"$work/rollout.out"
t1=$(now_ms)
rollout_ms=$((t1 - t0))
s1=$(sessions)

# 3. The no-op rollout.
t0=$(now_ms)
"$fleetctl" rollout start --canary 0 --waves 100% --parallel 8 --watch "${ctl[@]}" >"$work/noop.out"
t1=$(now_ms)
noop_ms=$((t1 - t0))
s2=$(sessions)

# 3b. The no-op rollout again: the first one reads every schema just after
# the rollout's DDL, when the sessions' catalog caches are cold; this one
# shows what the read costs warm.
t0=$(now_ms)
"$fleetctl" rollout start --canary 0 --waves 100% --parallel 8 --watch "${ctl[@]}" >"$work/noop2.out"
t1=$(now_ms)
noop2_ms=$((t1 - t0))

# 4. status --refresh.
t0=$(now_ms)
"$fleetctl" status --refresh "${ctl[@]}" >/dev/null || true  # exit 1 would mean lagging tenants
t1=$(now_ms)
status_ms=$((t1 - t0))

agent_peak=0
for p in "${agent_pids[@]}"; do
  kb=$(peak_kb "$p")
  (( kb > agent_peak )) && agent_peak=$kb
done
controller_peak=$(peak_kb "$controller_pid")

awk -v n="$n" -v a="$agents" -v floor="$floor_ms" -v r="$rollout_ms" -v noop="$noop_ms" \
    -v st="$status_ms" -v noop2="$noop2_ms" -v s0="$s0" -v s1="$s1" -v s2="$s2" -v ap="$agent_peak" \
    -v cp="$controller_peak" 'BEGIN {
  printf "%d tenant schemas in one database behind %d agents, parallel 8\n", n, a
  printf "  floor (8 psql sessions, SET search_path):  %.2f s\n", floor / 1000
  printf "  fleet rollout base -> head:                %.2f s (%.2fx the floor)\n", r / 1000, r / floor
  printf "  no-op rollout:                             %.2f s (again: %.2f s)\n", noop / 1000, noop2 / 1000
  printf "  status --refresh:                          %.2f s\n", st / 1000
  printf "  new sessions: rollout %d, no-op rollout %d\n", s1 - s0, s2 - s1
  printf "  peak RSS: controller %.0f MB, largest agent (%d tenants) %.0f MB\n", cp / 1024, n / a, ap / 1024
}'
