#!/usr/bin/env bash
# Runs make targets one after another, as `make test` lists them, and prints
# how long each took on one line at the end:
#
#   timing: tools 12s, lint 40s, unit 3m05s, fuzz-smoke 1m40s, e2e 9m12s, bench-smoke 2m01s; total 16m50s
#
# It stops at the first stage that fails, like make, still prints the line
# (the failed stage marked, the ones not run named) and exits with that
# stage's status.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}

fmt() { # seconds -> 12s, 3m05s, 1h02m03s
  local s=$1
  if [ "$s" -ge 3600 ]; then
    printf '%dh%02dm%02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
  elif [ "$s" -ge 60 ]; then
    printf '%dm%02ds' $((s / 60)) $((s % 60))
  else
    printf '%ds' "$s"
  fi
}

summary=()
status=0
start=$SECONDS
for stage in "$@"; do
  if [ "$status" -ne 0 ]; then
    summary+=("$stage not run")
    continue
  fi
  t0=$SECONDS
  "$make" --no-print-directory "$stage"
  status=$?
  took=$(fmt $((SECONDS - t0)))
  if [ "$status" -eq 0 ]; then
    summary+=("$stage $took")
  else
    summary+=("$stage FAILED after $took")
  fi
done
line=$(printf '%s, ' "${summary[@]}")
echo "timing: ${line%, }; total $(fmt $((SECONDS - start)))"
exit "$status"
