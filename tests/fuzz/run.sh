#!/usr/bin/env bash
# Fuzzes the script parser and the target-expression parser with libFuzzer
# (clang, AddressSanitizer, UBSan) for SECONDS each (default 60: the long
# tier's short run). The corpus starts from tests/fuzz/seeds, examples/ and
# every regression, and grows in build-fuzz/corpus between runs.
#
#   tests/fuzz/run.sh [SECONDS] [script|target ...]
#
# A crash stops with the input saved under build-fuzz/crashes/NAME/; copy it
# into tests/fuzz/regressions/NAME/ (the normal suite replays that folder),
# fix the bug, and run again. Longer runs: tests/fuzz/run.sh 3600, or
# several at once with -jobs (see FUZZ_FLAGS below).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(script target)
build=${FLEET_FUZZ_BUILD:-$root/build-fuzz}

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang and libFuzzer (Debian packages)" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q clang libclang-rt-14-dev >&2
fi

cmake -S "$root" -B "$build" -DFLEET_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/%/_fuzzer}" >/dev/null

status=0
for name in "${targets[@]}"; do
  corpus=$build/corpus/$name
  crashes=$build/crashes/$name
  mkdir -p "$corpus" "$crashes"
  seeds=("$root/tests/fuzz/seeds/$name" "$root/tests/fuzz/regressions/$name")
  [[ $name == script ]] && seeds+=("$root/examples/support-desk/versions")
  echo "fuzz: $name for ${seconds}s (corpus $corpus)"
  # shellcheck disable=SC2086
  if ! "$build/tests/fuzz/${name}_fuzzer" "$corpus" "${seeds[@]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$crashes/" ${FUZZ_FLAGS:-} 2>"$build/$name.log"; then
    echo "fuzz: $name FAILED; the input is in $crashes/, the report in $build/$name.log:" >&2
    grep -A25 -m1 "ERROR\|property violated\|deadly signal" "$build/$name.log" >&2 || tail -30 "$build/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/$name.log" | tail -2 | sed "s/^/fuzz: $name: /"
  fi
done
exit $status
