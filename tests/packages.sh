# Sourced by tests/run.sh and deploy/local/demo.sh: installs the Debian 12
# packages the build and the tests need. Idempotent: `apt-get update` runs
# only when something is missing.

fleet_packages=(
  build-essential cmake pkg-config ccache
  libabsl-dev libssl-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpqxx-dev libpg-query-dev libprotobuf-c-dev postgresql-15
  libspdlog-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libsqlite3-dev libcpp-httplib-dev libyaml-cpp-dev
  openssl help2man
)

# Installs the Debian packages named that are not installed yet (an
# `apt-get update` only when there are some).
fleet_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "Installing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

fleet_install_packages() {
  fleet_apt_install "${fleet_packages[@]}"
}

# What only the tests need (tests/run.sh): Debian's Chromium, Node.js and
# npm (when the machine has none) for the dashboard's browser test, with
# playwright-core from the npm registry at the version tests/dashboard/
# package-lock.json pins; Alembic and psycopg2 for Debian's python3, which
# the Alembic import tests render and run projects with; lintian and
# systemd-analyze (Debian's systemd package; nothing is started) for the
# package's test.
fleet_install_test_tools() {
  local root=$1 wanted=(chromium python3-alembic python3-psycopg2 lintian systemd)
  # A Node.js of the machine's own (not Debian's) counts.
  command -v node >/dev/null || wanted+=(nodejs)
  command -v npm >/dev/null || wanted+=(npm)
  fleet_apt_install "${wanted[@]}"
  if [[ ! -d $root/tests/dashboard/node_modules/playwright-core ]]; then
    (cd "$root/tests/dashboard" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
