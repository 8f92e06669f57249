#!/usr/bin/env bash
# `cpack -G DEB` in the build folder, then the package checked as dpkg sees
# it: its name and version, Depends computed from the shared libraries
# (libpqxx, gRPC, SQLite among them), the programs, units, docs and
# conffiles inside and nothing of the tests or benchmarks; extracted into a
# temporary root, the three programs print the build's version and their
# help, and the units pass `systemd-analyze verify`.
#
#   tests/deploy/deb_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleet-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

# A package folder of its own: ctest runs tests side by side.
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(find "$tmp/out" -maxdepth 1 -name 'fleet_*.deb' | head -1)
[[ -n $deb ]] || fail "no fleet_*.deb in $tmp/out: $(ls "$tmp/out")"
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "fleet_${version}_${arch}.deb" ]] || fail "named $(basename "$deb"), not fleet_${version}_${arch}.deb"

info=$(dpkg-deb -I "$deb")
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpqxx libgrpc++ libsqlite3 adduser; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is $(dpkg-deb -f "$deb" Version)"
grep -q "conffiles" <<<"$info" || fail "no conffiles in the control area"
grep -q "postinst" <<<"$info" || fail "no postinst in the control area"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/fleetctl ./usr/libexec/fleet/fleetctl-online ./usr/bin/fleet-controller ./usr/bin/fleet-agent \
         ./usr/lib/systemd/system/fleet-agent.service ./usr/lib/systemd/system/fleet-controller.service \
         ./etc/fleet/agent.toml ./etc/fleet/agent.env ./etc/fleet/controller.env \
         ./usr/share/doc/fleet/README.md ./usr/share/doc/fleet/copyright ./usr/share/doc/fleet/examples/agent.toml \
         ./usr/share/bash-completion/completions/fleetctl ./usr/share/zsh/vendor-completions/_fleetctl \
         ./usr/share/man/man1/fleetctl.1.gz ./usr/share/man/man8/fleet-controller.8.gz \
         ./usr/share/man/man8/fleet-agent.8.gz; do
  grep -qxF "$f" <<<"$contents" || fail "$f is not in the package"
done
if grep -Eq '_test$|bench' <<<"$contents"; then fail "a test or benchmark is in the package"; fi

dpkg-deb -e "$deb" "$tmp/control"
for f in /etc/fleet/agent.toml /etc/fleet/agent.env /etc/fleet/controller.env; do
  grep -qxF "$f" "$tmp/control/conffiles" || fail "$f is not a conffile"
done
if grep -v '^[[:space:]]*#' "$tmp/control/postinst" | grep -Eq 'systemctl|deb-systemd'; then
  fail "postinst starts or enables a service"
fi

dpkg-deb -x "$deb" "$tmp/root"
for p in fleetctl fleet-controller fleet-agent; do
  [[ $("$tmp/root/usr/bin/$p" --version) == "$p $version" ]] || fail "$p --version is wrong"
  "$tmp/root/usr/bin/$p" --help >/dev/null || fail "$p --help failed"
done
out=$("$tmp/root/usr/bin/fleetctl" status 2>&1) && fail "fleetctl status without a controller succeeded"
grep -q "no controller given" <<<"$out" || fail "the packaged fleetctl did not reach fleetctl-online: $out"
bash -n "$tmp/root/usr/share/bash-completion/completions/fleetctl" || fail "the bash completion does not parse"
zcat "$tmp/root/usr/share/man/man1/fleetctl.1.gz" | grep -q '^\.TH FLEETCTL "1"' || fail "fleetctl.1 is not a man page"
grep -q '^ExecStart=/usr/bin/fleet-agent ' "$tmp/root/usr/lib/systemd/system/fleet-agent.service" \
  || fail "the agent's unit does not start /usr/bin/fleet-agent"
# systemd-analyze verify needs no running systemd; it checks that the
# programs a unit starts exist, so the units are checked with their paths
# pointed into the extracted root. It exits 0 on an unknown key or a bad
# value (it prints them and goes on): any output is a failure too.
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/units"
  for u in "$tmp"/root/usr/lib/systemd/system/*.service; do
    sed "s|/usr/bin/|$tmp/root/usr/bin/|g" "$u" >"$tmp/units/$(basename "$u")"
  done
  verified=$(systemd-analyze verify --man=no "$tmp"/units/*.service 2>&1) \
    || fail "systemd-analyze verify refused the units: $verified"
  [[ -z $verified ]] || fail "systemd-analyze verify: $verified"
elif [[ ${CI:-} == true ]]; then
  fail "systemd-analyze is not installed (tests/run.sh installs systemd)"
fi
# Debian's own checks: no error and no warning.
if command -v lintian >/dev/null; then
  tags=$(lintian --tag-display-limit 0 "$deb" 2>/dev/null | grep -E '^[EW]: ' || true)
  [[ -z $tags ]] || fail "lintian: $tags"
elif [[ ${CI:-} == true ]]; then
  fail "lintian is not installed (tests/run.sh installs it)"
fi
echo "deb_test: $(basename "$deb") ok"
