#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the tests and the demo.
#
#   deploy/local/postgres.sh start DIR   initdb into DIR (once), start on 127.0.0.1 at a
#                                        free port; prints the libpq connection string
#   deploy/local/postgres.sh stop DIR    stop it (fast shutdown)
#   deploy/local/postgres.sh dsn DIR     print the connection string of a running cluster
#
# FLEET_PG_MAX_CONNECTIONS (default 300) sets the server's max_connections at start.
#
# As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses to
# run as root. Authentication is `trust` on 127.0.0.1 only: it is a scratch cluster.
set -euo pipefail

usage() { echo "usage: $0 start|stop|dsn DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$(realpath -m "$2")

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -n "$bindir" && -x "$bindir/initdb" ]] || {
  echo "postgres.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
}

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The data directory: inside DIR when the server's user can reach it, else a
# private temporary directory recorded in DIR/datadir.
datadir() {
  if [[ -f "$dir/datadir" ]]; then cat "$dir/datadir"; else echo "$dir/data"; fi
}

start() {
  mkdir -p "$dir"
  local data
  data=$(datadir)
  if [[ ! -f "$data/PG_VERSION" ]]; then
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres:postgres "$dir" 2>/dev/null || true
      if ! runuser -u postgres -- test -w "$dir"; then
        data=$(mktemp -d "${TMPDIR:-/tmp}/fleet-pg.XXXXXX")
        chown postgres:postgres "$data"
        echo "$data" >"$dir/datadir"
      fi
    fi
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
  fi
  if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    dsn
    return
  fi
  local port try
  for try in $(seq 1 20); do
    port=$((20000 + RANDOM % 30000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if as_pg "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c max_connections=${FLEET_PG_MAX_CONNECTIONS:-300}" start >/dev/null; then
      echo "$port" >"$dir/port"
      dsn
      return
    fi
  done
  echo "postgres.sh: could not start PostgreSQL; see $data/server.log" >&2
  exit 1
}

stop() {
  local data
  data=$(datadir)
  [[ -f "$data/PG_VERSION" ]] || return 0
  as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

dsn() {
  echo "host=127.0.0.1 port=$(cat "$dir/port") user=postgres dbname=postgres"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  dsn) dsn ;;
  *) usage ;;
esac
