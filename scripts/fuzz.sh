#!/usr/bin/env bash
# Runs every fuzz target of brokerguard's parsers and decoders for FUZZTIME each (default 10m), one at a
# time on one worker, and keeps what the fuzzer found interesting as the target's seed corpus in the
# package's testdata/fuzz/<Target>, which go test then runs every time.
#
#   scripts/fuzz.sh                      # every target, 10 minutes each
#   FUZZTIME=2m scripts/fuzz.sh FuzzParseScenario FuzzDecode
#
# -fuzzminimizetime is 2s: by default the fuzzer spends up to 60 s minimizing each new input, and on
# targets whose seeds are whole files (scenarios, rules) that is most of the run (0 executions a second
# for long stretches).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10m}"
cache="$(go env GOCACHE)/fuzz/github.com/brokerguard/brokerguard"

targets=$(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' internal | sed 's/^func //' | sort -u)
[ $# -gt 0 ] && targets="$*"
for target in $targets; do
  for file in $(grep -rlE --include='*_test.go' "^func $target\(" internal); do
    pkg="./$(dirname "$file")"
    echo "== $target ($pkg) for $fuzztime"
    go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s -parallel 1 "$pkg" 2>&1 | tail -3
    src="$cache/${pkg#./}/$target"
    if [ -d "$src" ]; then
      mkdir -p "$pkg/testdata/fuzz/$target"
      cp -n "$src"/* "$pkg/testdata/fuzz/$target/" 2>/dev/null || true
      echo "   corpus: $(ls "$pkg/testdata/fuzz/$target" | wc -l) inputs in $pkg/testdata/fuzz/$target"
    fi
  done
done
