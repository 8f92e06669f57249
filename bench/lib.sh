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

# The processes a benchmark drives: agents and controllers on loopback, in
# plaintext (--insecure), each recorded for cleanup.

# start_controller NAME [FLAG...]: a controller on $work/NAME.sqlite; sets
# $port (its gRPC port) and $controller_pid.
start_controller() {
  local name=$1
  shift
  "$build/controller/fleet-controller" --insecure --db "$work/$name.sqlite" --listen 127.0.0.1:0 \
    --http "" --poll-interval 24h --port-file "$work/$name.port" "$@" 2>"$work/$name.log" &
  controller_pid=$!
  pids+=("$controller_pid")
  wait_file "$work/$name.port"
  read -r port _ <"$work/$name.port"
}

# schema_agent NAME DSN_ENV PREFIX FIRST LAST: an agent serving the
# schema-per-tenant tenants PREFIX<i> (schema t<i>) for i in FIRST..LAST of
# the database in $DSN_ENV; its port lands in $work/NAME.port.
schema_agent() {
  local name=$1 dsn_env=$2 prefix=$3 first=$4 last=$5
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$work/$name.cache\""
    for i in $(seq "$first" "$last"); do
      echo "[[tenants]]"; echo "id = \"$prefix$i\""; echo "dsn_env = \"$dsn_env\""; echo "schema = \"t$i\""
    done
  } >"$work/$name.toml"
  start_agent "$name"
}

# start_agent NAME: fleet-agent for $work/NAME.toml.
start_agent() {
  "$build/agent/fleet-agent" --insecure --config "$work/$1.toml" --port-file "$work/$1.port" \
    2>"$work/$1.log" &
  pids+=($!)
}

# enrol_and_push AGENT_NAME...: enrols the agents with the controller on
# $port and pushes examples/support-desk as its bundle.
enrol_and_push() {
  for a in "$@"; do
    wait_file "$work/$a.port"
    "$fleetctl" agents add "127.0.0.1:$(cat "$work/$a.port")" --insecure --controller "127.0.0.1:$port" >/dev/null
  done
  "$fleetctl" bundle push "$versions" --insecure --controller "127.0.0.1:$port" >/dev/null
}

# schema_tenants DSN COUNT REV...: schemas t0..t(COUNT-1) in DSN, each with an
# alembic_version holding REV number i modulo how many are given.
schema_tenants() {
  local dsn=$1 count=$2
  shift 2
  local revs
  revs=$(printf "'%s'," "$@")
  psql -q -X "$dsn" >/dev/null <<SQL
DO \$\$
DECLARE revs text[] := ARRAY[${revs%,}];
BEGIN
  FOR i IN 0..$((count - 1)) LOOP
    EXECUTE format('CREATE SCHEMA t%s', i);
    EXECUTE format('CREATE TABLE t%s.alembic_version (version_num varchar(32) PRIMARY KEY)', i);
    EXECUTE format('INSERT INTO t%s.alembic_version VALUES (%L)', i, revs[1 + i % array_length(revs, 1)]);
  END LOOP;
END
\$\$;
SQL
}
