#!/usr/bin/env bash
# The soak run (make soak; not in CI): one Berth under mixed load from 32
# clients (pushes, pulls, tag lists, deletes; GC every 5 minutes) for
# SOAK_DURATION (default 30m), sampled at intervals: throughput, p99, RSS,
# file descriptors, goroutines, GC runs, errors (any error fails the run).
# The report goes to bench/out/soak.md.
#
#   make soak                        30 minutes, filesystem + SQLite, on disk
#   SOAK_DURATION=2m make soak       a short run
#   make soak-cluster                10 minutes, two instances on MinIO + PostgreSQL
#   bash bench/soak.sh -- [regbench soak flags]   e.g. -- -clients 64 -gc 1m
#
# Env: SOAK_DURATION, SOAK_BACKEND (fs or s3), SOAK_INSTANCES (1; 2 with s3),
#      BENCH_DATA_ROOT (default on disk, /var/tmp),
#      SOAK_PPROF=dir   each instance serves pprof on a loopback debug.addr and
#                       a heap profile is saved into dir at every sample
#                       (go tool pprof -inuse_space -base early.heap late.heap),
#      SOAK_BERTH=path  run this berth binary instead of building the tree
#                       (to compare two builds under the same load),
#      SOAK_BERTH_ENV="K=V,..."  more environment for Berth only
#                       (e.g. GOMEMLIMIT=80MiB; regbench itself runs without it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
[ "${1:-}" = "--" ] && shift
go build -o "$OUT/regbench" ./bench/cmd/regbench
BERTH_BIN=${SOAK_BERTH:-$OUT/berth}
[ -n "${SOAK_BERTH:-}" ] || CGO_ENABLED=0 go build -o "$OUT/berth" ./cmd/berth # as `make build`
args=(-berth "$BERTH_BIN" -dur "${SOAK_DURATION:-30m}" -backend "${SOAK_BACKEND:-fs}"
	-instances "${SOAK_INSTANCES:-1}" -out "$OUT/soak${SOAK_SUFFIX:-}.md" -logs "$OUT/logs")
[ -n "${BENCH_DATA_ROOT:-}" ] && args+=(-data-root "$BENCH_DATA_ROOT")
[ -n "${SOAK_PPROF:-}" ] && args+=(-pprof "$SOAK_PPROF")
[ -n "${SOAK_BERTH_ENV:-}" ] && args+=(-env "$SOAK_BERTH_ENV")
exec "$OUT/regbench" soak "${args[@]}" "$@"
