#!/usr/bin/env bash
# Rollouts at scale. Build first (tests/run.sh or cmake --build build).
#  1. One rollout of examples/support-desk base -> head over N databases (default 200)
#     with --parallel 8, against the floor: the same SQL through `psql -f` on N other
#     databases, 8 at a time. Target: within 1.3x of the floor.
#  2. A rollout where all 1,000 tenants (schema-per-tenant, 10 agents) are already at the
#     target: target under 2 s end to end.
#
#   bench/rollout_bench.sh [N]
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-200}"

admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"
for i in $(seq 1 "$n"); do echo "CREATE DATABASE r_$i; CREATE DATABASE p_$i;"; done \
  | psql -q -X "$admin" >/dev/null

# 1. A rollout over N databases behind 4 agents, parallel 8.
for a in 0 1 2 3; do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/a$a.cache\""
    echo "max_concurrent_migrations = 8"
    for i in $(seq 1 "$n"); do
      if (( i % 4 == a )); then
        echo "[[tenants]]"; echo "id = \"r$i\""; echo "dsn_env = \"R_$i\""
      fi
    done
  } >"$work/a$a.toml"
done
for i in $(seq 1 "$n"); do export "R_$i=$admin dbname=r_$i"; done
for a in 0 1 2 3; do start_agent "a$a"; done
start_controller c1
enrol_and_push a0 a1 a2 a3
t0=$(now_ms)
"$fleetctl" rollout start --parallel 8 --canary 1 --waves 100% --watch \
  --insecure --controller "127.0.0.1:$port" >/dev/null
t1=$(now_ms)
"$fleetctl" upgrade heads --sql --dir "$versions" >"$work/head.sql"
seq 1 "$n" | xargs -P 8 -I{} psql -q -X -v ON_ERROR_STOP=1 "$admin dbname=p_{}" -f "$work/head.sql" >/dev/null
t2=$(now_ms)
awk -v n="$n" -v f=$((t1 - t0)) -v p=$((t2 - t1)) 'BEGIN {
  printf "rollout base->head over %d databases, parallel 8: %.2f s; psql -f 8 at a time: %.2f s; ratio %.2fx\n",
         n, f / 1000, p / 1000, f / p }'

# 2. 1,000 tenants already at the target.
psql -q -X "$admin" -c "CREATE DATABASE at_head" >/dev/null
export AT_HEAD="$admin dbname=at_head"
schema_tenants "$AT_HEAD" 1000 9c0d1e2f3041
for a in $(seq 0 9); do schema_agent "h$a" AT_HEAD h $((a * 100)) $((a * 100 + 99)); done
start_controller c2
enrol_and_push $(printf 'h%s ' $(seq 0 9))
t0=$(now_ms)
"$fleetctl" rollout start --watch --insecure --controller "127.0.0.1:$port" >/dev/null
t1=$(now_ms)
echo "rollout where all 1000 tenants are already at the target: $((t1 - t0)) ms end to end"
