#!/usr/bin/env bash
# Database-per-tenant at scale: N tenant databases (default 1,000) behind 4
# agents on one throwaway PostgreSQL (fsync off). Build first (tests/run.sh or
# cmake --build build). Measures, side by side in one run:
#  1. the floor: 8 psql processes, each \connect-ing through its share of N
#     other fresh databases and running the same SQL (examples/support-desk
#     base -> head);
#  2. a fleet rollout of the same change, --canary 0 --waves 100% --parallel 8;
#  3. the no-op rollout (every tenant already at the target), twice: just
#     after the rollout's DDL and again;
#  4. fleetctl status --refresh;
#  5. new PostgreSQL sessions per tenant (pg_stat_database.sessions) during
#     the rollout and during the no-op rollout;
#  6. peak resident memory (VmHWM) of the controller and of each agent.
# Goals (issue 15): rollout <= 1.3x the floor; no-op rollout and status
# --refresh < 2 s each; <= 2 new sessions per tenant per rollout; agent RSS
# < 100 MB with 250 tenants.
#
#   bench/scale_bench.sh [N]
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-1000}"
agents=4

# Every agent keeps one idle session per tenant database it serves (its
# max_connections below), as a production fleet would size it: the server
# must allow them all.
per_agent=$(( (n + agents - 1) / agents ))
budget=$(( per_agent + 16 ))
admin="$(FLEET_PG_MAX_CONNECTIONS=$(( agents * budget + 50 )) \
  "$root/deploy/local/postgres.sh" start "$work/pg")"
echo "creating $((2 * n)) databases..."
for i in $(seq 1 "$n"); do echo "CREATE DATABASE r_$i; CREATE DATABASE p_$i;"; done \
  | psql -q -X "$admin" >/dev/null

# Sessions ever opened to the fleet's databases, counted from the server's
# log of connections (pg_stat_database.sessions lags while backends idle).
psql -q -X "$admin" -c "ALTER SYSTEM SET log_connections = on" -c "SELECT pg_reload_conf()" >/dev/null
pg_data="$work/pg/data"
if [[ -f "$work/pg/datadir" ]]; then pg_data=$(cat "$work/pg/datadir"); fi
sessions() { grep -c 'connection authorized: user=[^ ]* database=r_' "$pg_data/server.log" || true; }
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

for a in $(seq 0 $((agents - 1))); do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/a$a.cache\""
    echo "max_concurrent_migrations = 8"
    echo "max_connections = $budget"
    # Longer than the gap between the benchmark's steps (the floor runs in
    # between); a controller polling every 15 s keeps them warm anyway.
    echo "connection_idle_timeout = \"30m\""
    for i in $(seq 1 "$n"); do
      if (( i % agents == a )); then
        echo "[[tenants]]"; echo "id = \"r$i\""; echo "dsn_env = \"R_$i\""
      fi
    done
  } >"$work/a$a.toml"
done
for i in $(seq 1 "$n"); do export "R_$i=$admin dbname=r_$i"; done
s_start=$(sessions)
agent_pids=()
for a in $(seq 0 $((agents - 1))); do
  start_agent "a$a"
  agent_pids+=("${pids[-1]}")
done
# The first read of a fresh database is its slowest (a backend builds its
# catalog cache from disk): enrolment gets a longer deadline than a poll.
start_controller c1 --agent-timeout 120s
enrol_and_push $(printf 'a%s ' $(seq 0 $((agents - 1))))
ctl=(--insecure --controller "127.0.0.1:$port")
s_enrolled=$(sessions)

# 1. The floor.
"$fleetctl" upgrade heads --sql --dir "$versions" >"$work/head.sql"
for k in $(seq 0 7); do
  for i in $(seq 1 "$n"); do
    if (( i % 8 == k )); then printf '\\connect p_%s\n\\i %s\n' "$i" "$work/head.sql"; fi
  done >"$work/floor$k.psql"
done
t0=$(now_ms)
floor_pids=()
for k in $(seq 0 7); do
  psql -q -X -v ON_ERROR_STOP=1 "$admin" -f "$work/floor$k.psql" >/dev/null &
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

# 3b. The no-op rollout again: the first reads every tenant just after the
# rollout's DDL (whose catalog invalidations every idle session of the
# cluster takes in); this one shows what the read costs warm.
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
    -v st="$status_ms" -v noop2="$noop2_ms" -v se="$s_start" -v sa="$s_enrolled" -v s0="$s0" -v s1="$s1" -v s2="$s2" -v ap="$agent_peak" \
    -v cp="$controller_peak" 'BEGIN {
  printf "%d tenant databases behind %d agents, parallel 8\n", n, a
  printf "  floor (8 psql, \\connect through their share): %.2f s\n", floor / 1000
  printf "  fleet rollout base -> head:                     %.2f s (%.2fx the floor)\n", r / 1000, r / floor
  printf "  no-op rollout:                                  %.2f s (again: %.2f s)\n", noop / 1000, noop2 / 1000
  printf "  status --refresh:                               %.2f s\n", st / 1000
  printf "  new sessions per tenant: enrolment %.2f, rollout %.2f, no-op rollout %.2f\n",
         (sa - se) / n, (s1 - s0) / n, (s2 - s1) / n
  printf "  peak RSS: controller %.0f MB, largest agent (%d tenants) %.0f MB\n", cp / 1024, n / a, ap / 1024
}'
