# Berth: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
# Test tools (crane, regctl, oras) are installed here at pinned versions.
TOOLS_BIN := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: run build image test tools unit fuzz fuzz-smoke e2e browser bench bench-smoke bench-s3 bench-backup bench-azure bench-gcs soak soak-cluster lint

# The build names itself (berth version, the start-up log line,
# berth_build_info in /metrics): the version from git describe, the commit
# and its time from git, set with -X because Go records them only in a
# plain clone built with -buildvcs on. Outside git they stay empty and Go's
# own build information is used. VERSION=v1.2.0 make build for a release.
BUILDINFO := github.com/berth-registry/berth/internal/buildinfo
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(if $(filter %-dirty,$(VERSION)),-dirty)
COMMIT_TIME ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
LDFLAGS := -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT) -X $(BUILDINFO).CommitTime=$(COMMIT_TIME)

# The binary is built without cgo: static, no libc to install or map
# (1.8 MiB less resident memory at idle). Tests keep cgo for -race.
run:
	CGO_ENABLED=0 $(GO) run -ldflags "$(LDFLAGS)" ./cmd/berth serve --data ./data

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/berth ./cmd/berth

# The container image (FROM scratch, non-root, docs/deploy.md) built with
# the Docker daemon: make image [IMAGE=registry.example.com/berth:1.0]
IMAGE ?= berth:latest
image:
	bash deploy/image/build.sh $(IMAGE)

# test installs what it needs, then runs every test: vet, unit and HTTP tests
# with the race detector, short fuzz runs, end-to-end tests with real clients,
# the web UI in a real Chromium, and the benchmark harness in smoke mode. It prints how long each stage took
# at the end (scripts/stages.sh), failed or not.
test:
	@MAKE="$(MAKE)" bash scripts/stages.sh tools lint unit fuzz-smoke e2e browser bench-smoke

tools:
	bash scripts/install-tools.sh

# go.mod and go.sum must be what `go mod tidy -e` makes of them: -diff
# prints what it would change and fails, writing nothing.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@$(GO) mod tidy -e -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy -e"; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /test/browser -e /bench)

# fuzz-smoke (in test) runs every fuzz target for 5s; fuzz runs each for
# FUZZTIME (default 60s): run it whenever a parser or its fuzz target changed,
# and commit each input it finds under testdata/fuzz as a seed.
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz-smoke.sh

fuzz-smoke:
	FUZZTIME=5s bash scripts/fuzz-smoke.sh

e2e:
	$(GO) test -count=1 -timeout 30m ./test/e2e/...

# The web UI driven in Debian's Chromium (chromedp); screenshots go to
# BERTH_SCREENSHOTS (default: a temporary directory, printed).
browser:
	$(GO) test -count=1 -timeout 10m ./test/browser/...

bench:
	bash bench/run.sh

bench-smoke:
	bash bench/run.sh --smoke

# Long mixed load against one Berth (not in CI; bench/soak.sh):
# SOAK_DURATION=2m make soak for a short run. soak-cluster: two instances
# on MinIO + PostgreSQL (started by the harness) for 10 minutes.
soak:
	bash bench/soak.sh

soak-cluster:
	SOAK_DURATION=$${SOAK_DURATION:-10m} SOAK_BACKEND=s3 SOAK_INSTANCES=2 SOAK_SUFFIX=-cluster bash bench/soak.sh

# The scale-out configuration: both servers on one MinIO, Berth's metadata
# in PostgreSQL (both started by the harness).
# Backup and recovery time: 10,000 images, 20 GiB, on the disk under BACKUP_BENCH_DIR.
BACKUP_BENCH_DIR ?= /var/tmp/berth-backupbench
bench-backup:
	go run ./bench/cmd/backupbench -dir $(BACKUP_BENCH_DIR) -images 10000 -gib 20

bench-s3:
	BENCH_PEERS=dist2 bash bench/run.sh -- -backend s3 -only blobs,images,manifest,catalog,start -large 10000

# Berth on Azurite (the Azure Storage emulator) with PostgreSQL; Distribution
# 2.8 cannot use an emulator, so it stays on the filesystem (not like for like).
bench-azure:
	BENCH_PEERS=dist2 bash bench/run.sh -- -backend azure -only blobs,images,manifest,catalog,start -large 10000

# Berth on fake-gcs-server (the Google Cloud Storage emulator) with
# PostgreSQL; Distribution 2.8 cannot use an emulator, so it stays on the
# filesystem (not like for like).
bench-gcs:
	BENCH_PEERS=dist2 bash bench/run.sh -- -backend gcs -only blobs,images,manifest,catalog,start -large 10000
