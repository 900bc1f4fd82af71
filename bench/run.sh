#!/usr/bin/env bash
# Berth vs its peers: CNCF Distribution 2.8 (the reference row), CNCF
# Distribution 3 and zot. Installs the peers when missing (bench/peers.sh:
# built once per machine into the tool cache), builds Berth and the load
# generator (bench/cmd/regbench), then runs the comparison suite, which
# starts every server on 127.0.0.1 with equivalent settings (filesystem
# storage in fresh temp dirs, no auth, logs at warn), runs every workload
# against each in turn, round after round, and prints a markdown table with
# one Berth/peer ratio column per peer (also in bench/out/results.md).
#
#   bash bench/run.sh            full run, 3 runs per workload (< 30 min)
#   bash bench/run.sh --smoke    tiny sizes, 1 run each (< 2 min once the peers are built): checks the harness
#   bash bench/run.sh [--smoke] -- [regbench suite flags]   e.g. -- -only catalog -runs 5
#
# Env: BENCH_DATA_ROOT (where data dirs go; default on disk, /var/tmp: as
#      users deploy; BENCH_DATA_ROOT=/dev/shm leaves the disk out, to tell
#      CPU from I/O),
#      BENCH_PEERS (default "dist2 dist3 zot"; dist2 is always compared),
#      DIST_BIN (Distribution 2.8, default /usr/bin/docker-registry).
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

peers=(${BENCH_PEERS:-dist2 dist3 zot})
[[ " ${peers[*]} " == *" dist2 "* ]] || peers=(dist2 "${peers[@]}")
declare -A peer=()
while IFS='=' read -r k v; do peer[$k]=$v; done < <(bash bench/peers.sh "${peers[@]}")

go build -o "$OUT/regbench" ./bench/cmd/regbench

berth=()
if compgen -G "cmd/berth/*.go" >/dev/null; then
	# A Berth that does not build is an error, not a reason to skip it.
	CGO_ENABLED=0 go build -o "$OUT/berth" ./cmd/berth # as `make build`
	berth=(-berth "$OUT/berth")
else
	echo "bench: cmd/berth has no Go files yet: a second Distribution stands in for Berth" >&2
fi

args=(-dist "${peer[dist2]}" -out "$OUT/results.md" -logs "$OUT/logs")
[ -n "${peer[dist3]:-}" ] && args+=(-dist3 "${peer[dist3]}")
[ -n "${peer[zot]:-}" ] && args+=(-zot "${peer[zot]}")
[ -n "${BENCH_DATA_ROOT:-}" ] && args+=(-data-root "$BENCH_DATA_ROOT")
exec "$OUT/regbench" suite "${mode[@]}" "${berth[@]}" "${args[@]}" "$@"
