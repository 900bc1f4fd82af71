#!/usr/bin/env bash
# Runs every Go fuzz target in the repository briefly (FUZZTIME, default 5s
# each), so that CI exercises the parsers with generated input on every run.
# Seed corpora run as ordinary tests in `make unit` too.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
count=0
while IFS=: read -r file target; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $target ($fuzztime)"
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/berth-fuzz.log 2>&1 || {
    cat /tmp/berth-fuzz.log
    echo "fuzz: $target failed (the failing input is saved under $pkg/testdata/fuzz/$target)"
    exit 1
  }
  count=$((count + 1))
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' internal cmd | sed -E 's/func //')
echo "fuzz: $count targets passed"
[ "$count" -gt 0 ]
