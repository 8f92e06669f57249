#!/usr/bin/env bash
# The fleet on one machine, narrated: a throwaway PostgreSQL with 24 tenant
# databases of examples/support-desk at mixed revisions, three agents and a
# controller on loopback with development certificates (mutual TLS, an
# operator token), then
#   1. `fleetctl status`: the tenants that lag;
#   2. a canary rollout to head, watched live;
#   3. `fleetctl status` again: every tenant current;
#   4. a new revision that fails on two tenants' data: `fleetctl lint` warns
#      of its lock, `rollout plan --rehearse` runs it on every tenant in a
#      transaction that is rolled back and names the two, `rollout start
#      --rehearse` refuses; started without the rehearsal, the rollout halts
#      in its wave and rolls back by itself, and `rollout status` says why.
#
#   deploy/local/demo.sh          set up and run the story (unattended)
#   deploy/local/demo.sh down     stop everything it started
#
# Everything lives under one directory: $FLEET_DEMO_DIR, default ./demo in the
# repository (the build too, unless FLEET_BUILD_DIR names an existing one).
# Running it again stops the previous run and starts afresh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
demo=$(realpath -m "${FLEET_DEMO_DIR:-$root/demo}")
build=$(realpath -m "${FLEET_BUILD_DIR:-$demo/build}")
versions=$root/examples/support-desk/versions

if [[ -t 1 ]]; then bold=$'\e[1m' dim=$'\e[2m' plain=$'\e[0m'; else bold='' dim='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
# Shows a command the way a person would type it, then runs it.
show() { printf '%s$ %s%s\n' "$dim" "$*" "$plain"; "$@"; }

# Only processes whose command line names the demo directory are ours: a
# recorded pid may belong to something else after a reboot.
ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$demo"; }

down() {
  if [[ -f $demo/pids ]]; then
    while read -r pid name; do
      if ours "$pid"; then kill "$pid" && echo "stopped $name (pid $pid)"; fi
    done <"$demo/pids"
    # Wait for them to exit (10 s), then make sure.
    for _ in $(seq 100); do
      alive=0
      while read -r pid _; do ours "$pid" && alive=1; done <"$demo/pids"
      [[ $alive -eq 0 ]] && break
      sleep 0.1
    done
    while read -r pid _; do if ours "$pid"; then kill -9 "$pid"; fi; done <"$demo/pids"
    rm -f "$demo/pids"
  fi
  if [[ -d $demo/pg ]]; then
    "$root/deploy/local/postgres.sh" stop "$demo/pg" >/dev/null 2>&1 && echo "stopped PostgreSQL" || true
  fi
}

case ${1:-up} in
  down)
    down
    exit 0
    ;;
  up) ;;
  *)
    echo "usage: $0 [up|down]" >&2
    exit 2
    ;;
esac

start_bg() {  # start_bg NAME LOG COMMAND...: a process the demo owns
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  echo "$! $name" >>"$demo/pids"
}

wait_file() {  # wait_file PATH NAME: until a port file appears (20 s)
  for _ in $(seq 200); do
    [[ -s $1 ]] && return 0
    sleep 0.1
  done
  echo "demo: $2 did not start; its log:" >&2
  cat "$demo/logs/$2.log" >&2
  exit 1
}

say "Stopping anything a previous demo left in $demo"
down
rm -rf "$demo/pg" "$demo/certs" "$demo/logs" "$demo/versions" "$demo/cache" "$demo"/*.toml \
  "$demo"/*.port "$demo"/*.token "$demo/env" "$demo/fleet.sqlite"*
mkdir -p "$demo/logs"

say "Installing what the build needs (Debian packages; skipped when present)"
# shellcheck source=tests/packages.sh
source "$root/tests/packages.sh"
fleet_install_packages

say "Building fleetctl, fleet-agent and fleet-controller into $build"
# An existing build folder keeps its build type (tests/run.sh's Release):
# switching it would rebuild everything.
build_type=()
[[ -f $build/CMakeCache.txt ]] || build_type=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
cmake -S "$root" -B "$build" "${build_type[@]}" >"$demo/logs/cmake.log"
cmake --build "$build" --parallel "$(nproc)" --target fleetctl fleet-agent fleet-controller \
  >>"$demo/logs/cmake.log" || { tail -40 "$demo/logs/cmake.log" >&2; exit 1; }

say "Starting a throwaway PostgreSQL in $demo/pg"
admin=$("$root/deploy/local/postgres.sh" start "$demo/pg")
echo "$admin"

say "Making development certificates: a CA, the controller, three agents, an operator"
"$root/deploy/certs/dev-ca.sh" "$demo/certs" agent-1 agent-2 agent-3

say "Creating 24 tenant databases at mixed revisions"
fleetctl=$build/cli/fleetctl
dsn_of() { echo "${admin/dbname=postgres/dbname=$1}"; }
for i in $(seq -w 1 24); do
  t=tenant-$i
  psql -q "$admin" -c "CREATE DATABASE \"$t\"" >/dev/null
  # 01-04 stay at base; 05-10 have tickets; 11-16 resolution tracking; 17-18
  # are at head; 19-20 at the main line's last revision before the merge;
  # 21-24 also run the reporting branch.
  case $((10#$i)) in
    [1-4]) targets=() ;;
    [5-9] | 10) targets=(2b3c4d5e6f70) ;;
    1[1-6]) targets=(4d5e6f708192) ;;
    17 | 18) targets=(head) ;;
    19 | 20) targets=(6f708192a3b4) ;;
    *) targets=(4d5e6f708192 8b9c0d1e2f30) ;;
  esac
  for target in "${targets[@]}"; do
    "$fleetctl" upgrade "$target" --dir "$versions" --dsn "$(dsn_of "$t")" >>"$demo/logs/setup.log"
  done
done
echo "tenant-01..04 at base, 05..10 at 2b3c4d5e6f70, 11..16 at 4d5e6f708192, 17..18 at head,"
echo "19..20 at 6f708192a3b4, 21..24 at 4d5e6f708192 + the reporting branch's 8b9c0d1e2f30"

say "Starting 3 agents (8 tenants each, mutual TLS) and the controller"
for a in 1 2 3; do
  {
    echo "listen = \"127.0.0.1:0\""
    echo "versions_cache = \"$demo/cache/agent-$a\""
    echo "[tls]"
    echo "cert = \"$demo/certs/agent-$a.crt\""
    echo "key = \"$demo/certs/agent-$a.key\""
    echo "ca = \"$demo/certs/ca.crt\""
    echo "allowed_clients = [\"controller\"]"
    for n in $(seq $(((a - 1) * 8 + 1)) $((a * 8))); do
      t=$(printf 'tenant-%02d' "$n")
      var=$(printf 'TENANT_%02d_DSN' "$n")
      export "$var=$(dsn_of "$t")"
      tier=standard
      ((n % 3 == 0)) && tier=gold
      echo "[[tenants]]"
      echo "id = \"$t\""
      echo "dsn_env = \"$var\""
      if ((n == 5)); then
        echo "labels = { tier = \"$tier\", canary = \"true\" }"
      else
        echo "labels = { tier = \"$tier\" }"
      fi
    done
  } >"$demo/agent-$a.toml"
  start_bg "agent-$a" "$demo/logs/agent-$a.log" \
    "$build/agent/fleet-agent" --config "$demo/agent-$a.toml" --port-file "$demo/agent-$a.port"
done
umask 077
openssl rand -hex 32 >"$demo/operator.token"
openssl rand -hex 32 >"$demo/viewer.token"
umask 022
{
  echo "# Who may call the controller: tokens by their SHA-256, certificates by name."
  echo "[[tokens]]"
  echo "name = \"demo-operator\""
  echo "role = \"operator\""
  echo "sha256 = \"$(tr -d '\n' <"$demo/operator.token" | sha256sum | cut -d' ' -f1)\""
  echo "[[tokens]]"
  echo "name = \"demo-viewer\""
  echo "role = \"viewer\""
  echo "sha256 = \"$(tr -d '\n' <"$demo/viewer.token" | sha256sum | cut -d' ' -f1)\""
  echo "[[certificates]]"
  echo "name = \"operator\""
  echo "role = \"operator\""
} >"$demo/auth.toml"
for a in 1 2 3; do wait_file "$demo/agent-$a.port" "agent-$a"; done
start_bg controller "$demo/logs/controller.log" \
  "$build/controller/fleet-controller" --db "$demo/fleet.sqlite" \
  --listen 127.0.0.1:0 --http 127.0.0.1:0 --port-file "$demo/controller.port" \
  --poll-interval 2s \
  --tls-cert "$demo/certs/controller.crt" --tls-key "$demo/certs/controller.key" \
  --tls-client-ca "$demo/certs/ca.crt" --auth "$demo/auth.toml" \
  --agent-tls-cert "$demo/certs/controller.crt" --agent-tls-key "$demo/certs/controller.key" \
  --agent-tls-ca "$demo/certs/ca.crt"
wait_file "$demo/controller.port" controller
read -r grpc_port http_port <"$demo/controller.port"
cat >"$demo/env" <<EOF
# source $demo/env  — then fleetctl talks to the demo's controller
export PATH="$build/cli:\$PATH"
export FLEET_CONTROLLER=127.0.0.1:$grpc_port
export FLEET_TLS_CA=$demo/certs/ca.crt
export FLEET_TOKEN_FILE=$demo/operator.token
EOF
# shellcheck disable=SC1091
source "$demo/env"
echo "agents on ports $(cat "$demo"/agent-*.port | tr '\n' ' ')· controller gRPC $grpc_port, HTTP $http_port"

say "Enrolling the agents and pushing examples/support-desk as a bundle"
for a in 1 2 3; do
  show fleetctl agents add "127.0.0.1:$(cat "$demo/agent-$a.port")"
done
show fleetctl bundle push "$versions"

say "1. Which tenants lag? (exit code 1: not every tenant is current)"
show fleetctl status || true

say "2. A canary rollout to head: tenant-05 (labelled canary=true) first, then 25% of the rest, then all"
show fleetctl rollout start --to head --canary 1 --waves 25%,100% --parallel 8 --bake 2s --watch

say "3. Every tenant is current"
show fleetctl status

say "4. Customers file tickets; two of them, on tenant-07 and tenant-11, wrote a one-character subject"
for i in $(seq -w 1 24); do
  subject="Printer on fire"
  [[ $i == 07 || $i == 11 ]] && subject="?"
  psql -q "$(dsn_of "tenant-$i")" -c "
    INSERT INTO users (email, display_name, role) VALUES ('ann@example.com', 'Ann', 'customer');
    INSERT INTO tickets (subject, requester_id) SELECT 'Cannot log in', id FROM users;
    INSERT INTO tickets (subject, requester_id) SELECT '$subject', id FROM users;" >/dev/null
done
echo "A developer adds a revision: subjects must be at least three characters."
rm -rf "$demo/versions"
cp -r "$versions" "$demo/versions"
show fleetctl revision -m "require ticket subjects of three characters" --rev-id a0b1c2d3e4f5 \
  --dir "$demo/versions"
new=$(ls "$demo/versions"/a0b1c2d3e4f5_*.sql)
sed -i \
  -e '/^-- migrate:upgrade/a ALTER TABLE tickets ADD CONSTRAINT tickets_subject_length CHECK (char_length(subject) >= 3);' \
  -e '/^-- migrate:downgrade/a ALTER TABLE tickets DROP CONSTRAINT tickets_subject_length;' "$new"
show cat "$new"
show fleetctl bundle push "$demo/versions"
echo "Before anything moves: lint the new revision (PostgreSQL's parser, no database)."
show fleetctl lint a0b1c2d3e4f5 --dir "$demo/versions"
echo "Rehearse it on every tenant, each in a transaction that is rolled back (exit code 1: two fail):"
show fleetctl rollout plan --to head --rehearse || true
echo "So a rehearsed start refuses, naming them (exit code 3):"
show fleetctl rollout start --to head --rehearse || true
echo "Started without a rehearsal, the rollout halts in the wave where those tenants fail, and"
echo "rolls back every tenant it moved:"
id=$(fleetctl rollout start --to head --canary 1 --waves 50%,100% --parallel 12 -o json |
  sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
show fleetctl rollout watch "$id" || true
show fleetctl rollout status "$id" || true   # exit code 1: it did not succeed
echo "Every tenant is back at 9c0d1e2f3041, one revision behind the new head (exit code 1):"
show fleetctl status --lagging || true

say "Done. Everything lives in $demo. Go on by hand:"
cat <<EOF
  source $demo/env
  fleetctl status --lagging                  # -o json for scripts
  fleetctl rollout list
  fleetctl rollout status $id
  fleetctl tenants history tenant-07
  fleetctl tenants list --selector tier=gold
  curl -s http://127.0.0.1:$http_port/metrics | grep fleet_tenants

  Dashboard: http://127.0.0.1:$http_port/  (sign in with the viewer token: $(cat "$demo/viewer.token"))
  FLEET_TOKEN_FILE=$demo/viewer.token fleetctl rollout start --to head   # a viewer: refused

  $0 down                  # stops the agents, the controller and PostgreSQL
EOF
