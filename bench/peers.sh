#!/usr/bin/env bash
# Installs the benchmark's peer registries when missing, built once per
# machine into the same cache as scripts/install-tools.sh
# ($BERTH_TOOLS_CACHE, default ~/.cache/berth-tools/<name>-<version>/), so a
# second run builds nothing. Prints NAME=PATH for each peer on stdout.
#
#   CNCF Distribution 2.8  Debian docker-registry (/usr/bin/docker-registry)
#   CNCF Distribution 3    go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2
#   zot v1.4.3             tools/zot (the only zot the module proxy serves;
#                          minimal build: no extensions, no cgo)
#
# The Go builds take 2–3 minutes of CPU each when cold; they run at low
# priority (nice) and at most as many at a time as there are cores.
#
#   bash bench/peers.sh [dist2|dist3|zot ...]   (default: all three)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST3_MOD=github.com/distribution/distribution/v3
DIST3_VERSION=v3.1.2
ZOT_DIR="$REPO/tools/zot"
ZOT_MOD=zotregistry.io/zot
# The pinned zot version is the one tools/zot/go.mod requires.
ZOT_VERSION="$(awk -v m="$ZOT_MOD" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$ZOT_DIR/go.mod")"
DIST2_BIN=${DIST_BIN:-/usr/bin/docker-registry}

CACHE="${BERTH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}"
mkdir -p "$CACHE"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# binary_version BIN MODULE: the version of MODULE that BIN was built from.
binary_version() {
	[[ -x "$1" ]] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3; exit }'
}

# build_go NAME MODULE VERSION COMMAND...: builds into a temporary directory
# of the cache, renamed when complete (a killed build leaves nothing that
# looks installed).
build_go() {
	local name=$1 mod=$2 want=$3
	shift 3
	local dir="$CACHE/$name-$want" tmp have
	tmp="$(mktemp -d "$CACHE/.$name-$want.XXXXXX")"
	GOBIN="$tmp" nice -n 15 "$@"
	have="$(binary_version "$tmp/$name" "$mod")"
	if [[ "$have" != "$want" ]]; then
		echo "peers: $name built as '${have}', want $want" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

want=("$@")
((${#want[@]})) || want=(dist2 dist3 zot)

declare -a names=() pids=() logs=()
# ensure_go NAME KEY MODULE VERSION COMMAND...
ensure_go() {
	local name=$1 key=$2 mod=$3 ver=$4
	shift 2
	if [[ "$(binary_version "$CACHE/$name-$ver/$name" "$mod")" == "$ver" ]]; then
		echo "$key=$CACHE/$name-$ver/$name"
		return
	fi
	echo "peers: building $name $ver into $CACHE (2–3 min of CPU, at low priority)" >&2
	local logf
	logf="$(mktemp)"
	build_go "$name" "$@" >"$logf" 2>&1 &
	names+=("$key:$name:$ver")
	pids+=($!)
	logs+=("$logf")
}

# One install at a time per machine, shared with scripts/install-tools.sh.
exec 9>"$CACHE/.lock"
flock 9
for w in "${want[@]}"; do
	case "$w" in
	dist2)
		if [[ ! -x "$DIST2_BIN" ]]; then
			echo "peers: $DIST2_BIN missing; installing CNCF Distribution 2.8 (Debian docker-registry)" >&2
			if [[ "$(id -u)" -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
			"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null 2>&1 ||
				{ "${SUDO[@]}" apt-get update -qq >/dev/null && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; }
		fi
		[[ -x "$DIST2_BIN" ]] || { echo "peers: no CNCF Distribution at $DIST2_BIN" >&2; exit 1; }
		echo "dist2=$DIST2_BIN"
		;;
	dist3)
		ensure_go registry dist3 "$DIST3_MOD" "$DIST3_VERSION" \
			env CGO_ENABLED=0 go install -trimpath "$DIST3_MOD/cmd/registry@$DIST3_VERSION"
		;;
	zot)
		# zot v1.4.3's go.mod calls it zotregistry.io/zot while the proxy serves
		# it as github.com/project-zot/zot: tools/zot replaces one by the
		# other and its go.sum pins the content (GONOSUMDB: the checksum
		# database knows the module under its other name only).
		ensure_go zot zot "$ZOT_MOD" "$ZOT_VERSION" \
			env -C "$ZOT_DIR" GONOSUMDB=github.com/project-zot CGO_ENABLED=0 GOWORK=off \
			go install -mod=readonly -trimpath -tags containers_image_openpgp "$ZOT_MOD/cmd/zot"
		;;
	*) echo "peers: unknown peer $w (dist2, dist3, zot)" >&2; exit 2 ;;
	esac
done

failed=0
for i in "${!pids[@]}"; do
	IFS=: read -r key name ver <<<"${names[$i]}"
	if wait "${pids[$i]}"; then
		echo "$key=$CACHE/$name-$ver/$name"
	else
		cat "${logs[$i]}" >&2
		echo "peers: building $name $ver failed" >&2
		failed=1
	fi
	rm -f "${logs[$i]}"
done
exit "$failed"
