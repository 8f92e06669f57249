#!/usr/bin/env bash
# Development certificates for the demo and the tests: a CA, a controller
# certificate (server and client), agent certificates and an operator client
# certificate, all EC P-256, valid one year. Never use them in production.
#
#   deploy/certs/dev-ca.sh DIR [AGENT_NAME...]     (default one agent named "agent")
#
# DIR gets ca.crt, controller.{crt,key}, <agent>.{crt,key}, operator.{crt,key}.
# Server certificates name localhost and 127.0.0.1 besides their own name, so
# processes on loopback verify each other by address.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 DIR [AGENT_NAME...]" >&2; exit 2; }
dir=$1
shift
agents=("$@")
[[ ${#agents[@]} -gt 0 ]] || agents=(agent)
command -v openssl >/dev/null || { echo "dev-ca.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$dir"
cd "$dir"
umask 077
if [[ ! -f ca.key ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.crt -days 365 -subj "/CN=fleet development CA" 2>/dev/null
fi

issue() {  # issue NAME SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
  local name=$1 san=$2 usage=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
    -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$san" "$usage" \
    >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
    -days 365 -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue controller "DNS:controller,DNS:localhost,IP:127.0.0.1" "serverAuth,clientAuth"
for a in "${agents[@]}"; do
  issue "$a" "DNS:$a,DNS:localhost,IP:127.0.0.1" "serverAuth"
done
issue operator "DNS:operator" "clientAuth"
chmod 644 ./*.crt
echo "certificates in $dir: ca.crt, controller, ${agents[*]}, operator"
