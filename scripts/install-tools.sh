#!/usr/bin/env bash
# Installs the tools that `make test` (end-to-end tests, benchmarks) needs.
# Idempotent: only what is missing, or present at another version, is
# installed; with everything present it takes well under two seconds.
#
#   Debian packages (apt-get): skopeo umoci podman buildah jq docker-registry wrk curl postgresql nginx
#     slapd ldap-utils docker.io containerd chromium fonts-wqy-microhei prometheus docker-compose
#   (docker-compose validates deploy/compose offline: `docker-compose config`)
#   (docker.io and containerd are the real engines the e2e tests start privately;
#   their package scripts' services are kept from starting by policy-rc.d)
#   (fonts-wqy-microhei: a small CJK font, so the browser tests' screenshots show
#   the zh-CN pages as text, not boxes)
#   (prometheus: promtool and the server the deploy/ rule and scrape tests run)
#   Go tools at pinned versions, built once per machine into a cache and
#   linked into $REPO/.tools/bin: crane, regctl, oras, helm, cosign, minio,
#   fake-gcs-server (the Google Cloud Storage emulator the gcs driver is tested against)
#   npm tools, installed the same way (npm install --prefix into the cache):
#   azurite (the Azure Blob Storage emulator the azure driver is tested against)
#
# oras is built from the module in tools/oras (its go.mod pins
# oras.land/oras with a `tool` directive, its go.sum is committed) because
# `go install oras.land/oras/cmd/oras@v1.3.0` fails here: the checksum
# database has no entry for it (see tools/README.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$REPO/.tools/bin"

APT_PACKAGES=(skopeo umoci podman buildah jq docker-registry wrk curl postgresql nginx slapd ldap-utils docker.io containerd chromium fonts-wqy-microhei prometheus docker-compose)

CRANE_PKG=github.com/google/go-containerregistry/cmd/crane
CRANE_MOD=github.com/google/go-containerregistry
CRANE_VERSION=v0.22.1
REGCTL_PKG=github.com/regclient/regclient/cmd/regctl
REGCTL_MOD=github.com/regclient/regclient
REGCTL_VERSION=v0.11.7
HELM_PKG=helm.sh/helm/v3/cmd/helm
HELM_MOD=helm.sh/helm/v3
HELM_VERSION=v3.22.0
# cosign signs and verifies images; a cold build takes ~5 min.
COSIGN_PKG=github.com/sigstore/cosign/v2/cmd/cosign
COSIGN_MOD=github.com/sigstore/cosign/v2
COSIGN_VERSION=v2.6.5
# MinIO, the S3 server the s3 storage driver is tested against. Only this
# pseudo-version is served by the module proxy here; a cold build takes ~5 min.
MINIO_PKG=github.com/minio/minio
MINIO_MOD=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# fake-gcs-server, the Google Cloud Storage emulator (JSON and XML APIs).
FAKEGCS_PKG=github.com/fsouza/fake-gcs-server
FAKEGCS_MOD=github.com/fsouza/fake-gcs-server
FAKEGCS_VERSION=v1.56.1
# Azurite, the Azure Storage emulator (npm; needs node and npm).
AZURITE_VERSION=3.37.0
ORAS_DIR="$REPO/tools/oras"
ORAS_MOD=oras.land/oras
# The pinned oras version is the one tools/oras/go.mod requires.
ORAS_VERSION="$(awk -v m="$ORAS_MOD" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$ORAS_DIR/go.mod")"
if [[ -z "$ORAS_VERSION" ]]; then
	echo "install-tools: cannot find $ORAS_MOD in $ORAS_DIR/go.mod" >&2
	exit 1
fi

log() { printf '%-16s %s\n' "$1" "$2"; }

if [[ "$(id -u)" -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi

# ---------------------------------------------------------------- apt ----
apt_missing=()
# One dpkg-query for all packages; a package never seen makes it print an
# error line on stderr and nothing on stdout for it.
declare -A apt_status=()
while IFS=' ' read -r name status; do
	apt_status["$name"]="$status"
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
for p in "${APT_PACKAGES[@]}"; do
	if [[ "${apt_status[$p]:-}" == "installed" ]]; then
		log "$p" "present ($(dpkg-query -W -f='${Version}' "$p"))"
	else
		apt_missing+=("$p")
	fi
done

if ((${#apt_missing[@]} > 0)); then
	echo "install-tools: apt-get install ${apt_missing[*]}"
	# Package scripts (docker-registry's) would start system services.
	# Where no policy-rc.d forbids it, put one in place for the duration.
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [[ ! -e "$policy" ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
		"${SUDO[@]}" chmod 755 "$policy"
		made_policy=1
	fi
	cleanup_policy() { if ((made_policy)); then "${SUDO[@]}" rm -f "$policy"; fi; }
	trap cleanup_policy EXIT
	port5000_busy() { command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htln 'sport = :5000' 2>/dev/null)" ]]; }
	port5000_before=0
	if port5000_busy; then port5000_before=1; fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${apt_missing[@]}" >/dev/null
	cleanup_policy
	made_policy=0
	# policy-rc.d kept the docker-registry service from starting. Should it
	# have started all the same (it was not listening before we installed
	# it), stop it: it would hold :5000.
	if [[ " ${apt_missing[*]} " == *" docker-registry "* ]] && ! ((port5000_before)) && port5000_busy; then
		echo "install-tools: the docker-registry service started on :5000; stopping it" >&2
		"${SUDO[@]}" invoke-rc.d --force docker-registry stop >/dev/null 2>&1 || true
		if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
			"${SUDO[@]}" systemctl disable --now docker-registry >/dev/null 2>&1 || true
		fi
	fi
	for p in "${apt_missing[@]}"; do
		log "$p" "installed ($(dpkg-query -W -f='${Version}' "$p"))"
	done
fi

# ----------------------------------------------------------- Go tools ----
# Go tools are built once per machine into a cache keyed by name and version
# ($BERTH_TOOLS_CACHE, default ~/.cache/berth-tools/<name>-<version>/), then
# linked into $REPO/.tools/bin: a fresh clone on the same machine finds them
# at once. Missing ones are built in parallel, as many at a time as there
# are cores (helm, cosign and MinIO take minutes each when cold).
if ! command -v go >/dev/null 2>&1; then
	echo "install-tools: go not found in PATH" >&2
	exit 1
fi
CACHE="${BERTH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}"
mkdir -p "$TOOLS_BIN" "$CACHE"
# One install at a time per machine: a second one (another clone, a parallel
# CI job) waits here, then finds the tools built.
exec 9>"$CACHE/.lock"
flock 9
# Builds killed half-way leave their temporary directories behind.
rm -rf "$CACHE"/.[!.]*-v*.*/
#   (prometheus: promtool and the server the deploy/ rule and scrape tests run)
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# binary_version BIN MODULE: the version of MODULE that BIN was built from,
# read from the build information Go embeds (empty if BIN is missing or is
# not a Go binary built from MODULE).
binary_version() {
	[[ -x "$1" ]] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3; exit }'
}

# build_go NAME MODULE VERSION INSTALL-COMMAND...: builds into the cache
# (into a temporary directory first, renamed when complete, so a killed build
# leaves nothing that looks installed).
build_go() {
	local name=$1 mod=$2 want=$3
	shift 3
	local dir="$CACHE/$name-$want" tmp
	tmp="$(mktemp -d "$CACHE/.$name-$want.XXXXXX")"
	GOBIN="$tmp" "$@"
	local have
	have="$(binary_version "$tmp/$name" "$mod")"
	if [[ "$have" != "$want" ]]; then
		echo "install-tools: $name built as '${have}', want $want" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

jobs_max=$(nproc 2>/dev/null || echo 2)
declare -a pending_names=() pending_pids=() pending_logs=()
# ensure_go NAME MODULE VERSION INSTALL-COMMAND...
ensure_go() {
	local name=$1 mod=$2 want=$3
	local cached="$CACHE/$name-$want/$name"
	if [[ "$(binary_version "$cached" "$mod")" == "$want" ]]; then
		ln -sfn "$cached" "$TOOLS_BIN/$name"
		log "$name" "present ($want)"
		return
	fi
	while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
	echo "install-tools: building $name $want into $CACHE"
	local logf
	logf="$(mktemp)"
	build_go "$@" >"$logf" 2>&1 &
	pending_names+=("$name:$want")
	pending_pids+=($!)
	pending_logs+=("$logf")
}

ensure_go crane "$CRANE_MOD" "$CRANE_VERSION" go install "$CRANE_PKG@$CRANE_VERSION"
ensure_go regctl "$REGCTL_MOD" "$REGCTL_VERSION" go install "$REGCTL_PKG@$REGCTL_VERSION"
# `go install tool` in tools/oras installs the module's tool directives
# into GOBIN, at the versions its go.mod and go.sum pin.
ensure_go oras "$ORAS_MOD" "$ORAS_VERSION" \
	env -C "$ORAS_DIR" GONOSUMDB="$ORAS_MOD" GOWORK=off go install -mod=readonly tool
ensure_go helm "$HELM_MOD" "$HELM_VERSION" go install "$HELM_PKG@$HELM_VERSION"
ensure_go cosign "$COSIGN_MOD" "$COSIGN_VERSION" go install "$COSIGN_PKG@$COSIGN_VERSION"
ensure_go minio "$MINIO_MOD" "$MINIO_VERSION" go install "$MINIO_PKG@$MINIO_VERSION"
ensure_go fake-gcs-server "$FAKEGCS_MOD" "$FAKEGCS_VERSION" go install "$FAKEGCS_PKG@$FAKEGCS_VERSION"

# ---------------------------------------------------------- npm tools ----
# ensure_npm NAME PACKAGE VERSION BIN: installs PACKAGE@VERSION with
# `npm install --prefix` into a temporary directory of the cache, renamed when
# complete, and links its BIN into $REPO/.tools/bin as NAME.
ensure_npm() {
	local name=$1 pkg=$2 want=$3 bin=$4
	local dir="$CACHE/$name-v$want"
	if [[ "$(jq -r .version "$dir/node_modules/$pkg/package.json" 2>/dev/null)" == "$want" && -x "$dir/node_modules/.bin/$bin" ]]; then
		ln -sfn "$dir/node_modules/.bin/$bin" "$TOOLS_BIN/$name"
		log "$name" "present ($want)"
		return
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "install-tools: npm not found in PATH (needed for $name)" >&2
		failed=1
		return
	fi
	echo "install-tools: installing $name $want into $CACHE"
	local tmp
	tmp="$(mktemp -d "$CACHE/.$name-v$want.XXXXXX")"
	if ! npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "$pkg@$want" >&2; then
		rm -rf "$tmp"
		echo "install-tools: installing $name $want failed" >&2
		failed=1
		return
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
	ln -sfn "$dir/node_modules/.bin/$bin" "$TOOLS_BIN/$name"
	log "$name" "installed ($want)"
}

failed=0
ensure_npm azurite azurite "$AZURITE_VERSION" azurite-blob
for i in "${!pending_pids[@]}"; do
	name="${pending_names[$i]%%:*}" want="${pending_names[$i]#*:}"
	if wait "${pending_pids[$i]}"; then
		ln -sfn "$CACHE/$name-$want/$name" "$TOOLS_BIN/$name"
		log "$name" "installed ($want)"
	else
		cat "${pending_logs[$i]}" >&2
		echo "install-tools: building $name $want failed" >&2
		failed=1
	fi
	rm -f "${pending_logs[$i]}"
done
exit "$failed"
