#!/usr/bin/env bash
# Takeover time of a highly available controller (issue 20): controllers
# sharing a PostgreSQL inventory on one throwaway PostgreSQL; the leader is
# (1) kill -9ed, (2) stopped with SIGSTOP; measured from the signal to the
# moment a standby says it leads. Each case runs RUNS times (default 5).
# Goal: within --leader-timeout (10 s by default) plus a standby's retry.
#
#   bench/ha_bench.sh [RUNS]
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs="${1:-5}"
admin="$("$root/deploy/local/postgres.sh" start "$work/pg")"
psql -q -X "$admin" -c "CREATE DATABASE fleet_inventory" >/dev/null
inventory="$admin dbname=fleet_inventory"

# start NAME: a controller on the shared inventory, logging to $work/NAME.log.
start() {
  "$build/controller/fleet-controller" --insecure --db "$inventory" --listen 127.0.0.1:0 \
    --http "" --poll-interval 24h --port-file "$work/$1.port" 2>"$work/$1.log" &
  pids+=("$!")
  echo "$!" >"$work/$1.pid"
}
leads() { grep -q "leading inventory" "$work/$1.log" 2>/dev/null; }
wait_leader() {  # prints the name of whichever of $@ leads, waiting up to 60 s
  for _ in $(seq 1 6000); do
    for n in "$@"; do if leads "$n"; then echo "$n"; return 0; fi; done
    sleep 0.01
  done
  return 1
}

report() {  # NAME MS...: median and max
  local name=$1
  shift
  sorted=$(printf '%s\n' "$@" | sort -n)
  median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  max=$(echo "$sorted" | tail -1)
  printf '  %-28s median %6.2f s, max %6.2f s over %d runs\n' "$name" \
    "$(echo "$median / 1000" | bc -l)" "$(echo "$max / 1000" | bc -l)" "$#"
}

kill_ms=() stop_ms=()
n=0
start "c$n"
leader=$(wait_leader "c$n")
for signal in KILL STOP; do
  for _ in $(seq 1 "$runs"); do
    n=$((n + 1))
    start "c$n"
    until grep -q "standing by" "$work/c$n.log" 2>/dev/null; do sleep 0.01; done
    t0=$(now_ms)
    kill -"$signal" "$(cat "$work/$leader.pid")"
    next=$(wait_leader "c$n")
    t1=$(now_ms)
    if [[ $signal == KILL ]]; then kill_ms+=($((t1 - t0))); else stop_ms+=($((t1 - t0))); fi
    # The stopped one, continued, steps down (exits 1) rather than write.
    kill -CONT "$(cat "$work/$leader.pid")" 2>/dev/null || true
    leader=$next
  done
done
echo "takeover by a standby (default --leader-timeout 10s):"
report "leader kill -9ed" "${kill_ms[@]}"
report "leader stopped (SIGSTOP)" "${stop_ms[@]}"
