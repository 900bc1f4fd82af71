#!/usr/bin/env bash
# Berth vs CNCF Distribution benchmark. Builds Berth and the load generator
# (bench/cmd/regbench), then runs the comparison suite, which starts both
# servers on 127.0.0.1 with equivalent settings (filesystem storage in fresh
# temp dirs, no auth, logs at warn), runs every workload against both
# alternately and prints a markdown table (also in bench/out/results.md).
#
#   bash bench/run.sh            full run, 3 runs per workload (< 15 min)
#   bash bench/run.sh --smoke    tiny sizes, 1 run each (< 60 s): checks the harness
#   bash bench/run.sh [--smoke] -- [regbench suite flags]   e.g. -- -only catalog -runs 5
#
# Env: BENCH_DATA_ROOT (where data dirs go; default /dev/shm when it has room),
#      DIST_BIN (default /usr/bin/docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"

mode=()
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mode=(-smoke); shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done

DIST_BIN=${DIST_BIN:-/usr/bin/docker-registry}
if [ ! -x "$DIST_BIN" ]; then
	echo "bench: $DIST_BIN missing; installing CNCF Distribution (Debian docker-registry)" >&2
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y -qq docker-registry >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get install -y -qq docker-registry >/dev/null; }
	else
		sudo apt-get install -y -qq docker-registry >/dev/null
	fi
fi
[ -x "$DIST_BIN" ] || { echo "bench: no CNCF Distribution at $DIST_BIN" >&2; exit 1; }

go build -o "$OUT/regbench" ./bench/cmd/regbench

berth=()
if compgen -G "cmd/berth/*.go" >/dev/null; then
	# A Berth that does not build is an error, not a reason to skip it.
	CGO_ENABLED=0 go build -o "$OUT/berth" ./cmd/berth # as `make build`
	berth=(-berth "$OUT/berth")
else
	echo "bench: cmd/berth has no Go files yet: a second Distribution stands in for Berth" >&2
fi

args=(-dist "$DIST_BIN" -out "$OUT/results.md" -logs "$OUT/logs")
[ -n "${BENCH_DATA_ROOT:-}" ] && args+=(-data-root "$BENCH_DATA_ROOT")
exec "$OUT/regbench" suite "${mode[@]}" "${berth[@]}" "${args[@]}" "$@"
