#!/usr/bin/env bash
# Builds the Berth container image with the Docker daemon (`make image`).
#
#   deploy/image/build.sh [IMAGE]        IMAGE defaults to berth:latest
#
# Environment: DOCKER (the client, default docker; DOCKER_HOST and
# DOCKER_CONFIG are honoured as usual), VERSION (default: git describe),
# CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt, Debian's
# ca-certificates), SOURCE_DATE_EPOCH (the build date; default now).
#
# The binary is built static (CGO_ENABLED=0) with -trimpath, the context
# (see the Dockerfile's comment) is assembled in a temporary directory, and
# the image is built from it with the classic builder: FROM scratch and
# COPY only, no RUN step, so no base image is pulled.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE="${1:-${IMAGE:-berth:latest}}"
DOCKER="${DOCKER:-docker}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# The user the server runs as (the "nonroot" UID of distroless images).
BERTH_UID=65532

if [[ ! -s "$CA_BUNDLE" ]]; then
	echo "image: no CA bundle at $CA_BUNDLE (apt-get install ca-certificates, or set CA_BUNDLE)" >&2
	exit 1
fi

cd "$REPO"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
REVISION="$(git rev-parse HEAD 2>/dev/null || true)"
if [[ -n "$REVISION" && -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
	REVISION="$REVISION-dirty"
fi
COMMIT_TIME="$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || true)"
BUILDINFO=github.com/berth-registry/berth/internal/buildinfo
CREATED="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$ctx/data"
chmod 1777 "$root/tmp"
chmod 755 "$ctx/data"

CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X $BUILDINFO.Version=$VERSION -X $BUILDINFO.Commit=$REVISION -X $BUILDINFO.CommitTime=$COMMIT_TIME" \
	-o "$root/berth" ./cmd/berth

printf 'root:x:0:0:root:/root:/sbin/nologin\nberth:x:%d:%d:Berth registry:/var/lib/registry:/sbin/nologin\n' \
	"$BERTH_UID" "$BERTH_UID" >"$root/etc/passwd"
printf 'root:x:0:\nberth:x:%d:\n' "$BERTH_UID" >"$root/etc/group"
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
chmod 644 "$root/etc/passwd" "$root/etc/group" "$root/etc/ssl/certs/ca-certificates.crt"
cp deploy/image/Dockerfile "$ctx/Dockerfile"

DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" "$DOCKER" build --quiet \
	--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
	-t "$IMAGE" "$ctx"
echo "image: built $IMAGE ($VERSION)"
