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
  openssl
)

fleet_install_packages() {
  local missing=()
  local p
  for p in "${fleet_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
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
