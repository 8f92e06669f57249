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

start_controller() {  # start_controller NAME -> sets port
  "$build/controller/fleet-controller" --insecure --db "$work/$1.sqlite" --listen 127.0.0.1:0 --http "" \
    --poll-interval 24h --port-file "$work/$1.port" 2>"$work/$1.log" &
  pids+=($!)
  wait_file "$work/$1.port"
  read -r port _ <"$work/$1.port"
}

# 1. A rollout over N databases behind 4 agents, parallel 8.
for a in 0 1 2 3; do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/cache$a\""
    echo "max_concurrent_migrations = 8"
    for i in $(seq 1 "$n"); do
      if (( i % 4 == a )); then
        echo "[[tenants]]"; echo "id = \"r$i\""; echo "dsn_env = \"R_$i\""
      fi
    done
  } >"$work/agent$a.toml"
done
for i in $(seq 1 "$n"); do export "R_$i=$admin dbname=r_$i"; done
for a in 0 1 2 3; do
  "$build/agent/fleet-agent" --insecure --config "$work/agent$a.toml" --port-file "$work/a$a.port" \
    2>"$work/a$a.log" &
  pids+=($!)
done
start_controller c1
for a in 0 1 2 3; do
  wait_file "$work/a$a.port"
  "$fleetctl" agents add "127.0.0.1:$(cat "$work/a$a.port")" --insecure --controller "127.0.0.1:$port" >/dev/null
done
"$fleetctl" bundle push "$versions" --insecure --controller "127.0.0.1:$port" >/dev/null
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
psql -q -X "$AT_HEAD" >/dev/null <<SQL
DO \$\$ BEGIN
  FOR i IN 0..999 LOOP
    EXECUTE format('CREATE SCHEMA t%s', i);
    EXECUTE format('CREATE TABLE t%s.alembic_version (version_num varchar(32) PRIMARY KEY)', i);
    EXECUTE format('INSERT INTO t%s.alembic_version VALUES (%L)', i, '9c0d1e2f3041');
  END LOOP;
END \$\$;
SQL
for a in $(seq 0 9); do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/hcache$a\""
    for i in $(seq $((a * 100)) $((a * 100 + 99))); do
      echo "[[tenants]]"; echo "id = \"h$i\""; echo "dsn_env = \"AT_HEAD\""; echo "schema = \"t$i\""
    done
  } >"$work/hagent$a.toml"
  "$build/agent/fleet-agent" --insecure --config "$work/hagent$a.toml" --port-file "$work/h$a.port" \
    2>"$work/h$a.log" &
  pids+=($!)
done
start_controller c2
for a in $(seq 0 9); do
  wait_file "$work/h$a.port"
  "$fleetctl" agents add "127.0.0.1:$(cat "$work/h$a.port")" --insecure --controller "127.0.0.1:$port" >/dev/null
done
"$fleetctl" bundle push "$versions" --insecure --controller "127.0.0.1:$port" >/dev/null
t0=$(now_ms)
"$fleetctl" rollout start --watch --insecure --controller "127.0.0.1:$port" >/dev/null
t1=$(now_ms)
echo "rollout where all 1000 tenants are already at the target: $((t1 - t0)) ms end to end"
