#!/usr/bin/env bash
# Pull-through cache benchmark: first-byte latency and throughput of a blob
# pulled through Berth from CNCF Distribution 2.8 (never pulled before),
# against the same pull from Distribution directly and a cached pull
# through Berth. See bench/cmd/proxybench.
#
#   bash bench/proxy.sh            256 MiB blobs, 5 runs (about a minute)
#   bash bench/proxy.sh --smoke    16 MiB blobs, 1 run
#   bash bench/proxy.sh -- -size 1073741824 -runs 3
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) args+=(-size 16777216 -runs 1); shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done
go build -o "$OUT/berth" ./cmd/berth
go build -o "$OUT/proxybench" ./bench/cmd/proxybench
exec "$OUT/proxybench" -berth "$OUT/berth" -dist "${DIST_BIN:-/usr/bin/docker-registry}" "${args[@]}" "$@"
