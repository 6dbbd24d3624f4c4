# Outpost — build, run, test. `make run` starts the box (tools/run/outpostd.yaml: the
# embedded default plus TLS and the peer broker) against the built-in demo origin;
# `make test` runs every test.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s
RUN_DIR ?= .run

.PHONY: all build run setup test test-unit test-race test-browser browser-deps image image-test fuzz bench bench-go bench-edge lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./appliance/cmd/... ./tools/cmd/...

# setup installs what the demo needs (ffmpeg encodes the demo stream once).
setup:
	@command -v ffmpeg >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg; \
	  else echo "ffmpeg is missing: sudo apt-get install ffmpeg" >&2; exit 1; fi; }

# run: the demo origin on 127.0.0.1:8081 (background), outpostd on 127.0.0.1:8080 and
# https/wss on 127.0.0.1:8443 with the tracker and the WebRTC super-peer (foreground,
# Ctrl-C stops both), config tools/run/outpostd.yaml. A self-signed certificate is made
# once in $(RUN_DIR)/ (outpostctl cert tls). Data lives in $(RUN_DIR)/.
run: setup build
	@mkdir -p $(RUN_DIR)
	@[ -f $(RUN_DIR)/tls.crt ] || $(BIN)/outpostctl cert tls -cert $(RUN_DIR)/tls.crt -key $(RUN_DIR)/tls.key -hosts localhost,127.0.0.1,::1
	@$(BIN)/demo-origin -listen 127.0.0.1:8081 -media-dir $(RUN_DIR)/demo-media & demo=$$!; \
	trap 'kill $$demo 2>/dev/null; wait $$demo 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 300); do curl -fsS -o /dev/null http://127.0.0.1:8081/live/master.m3u8 2>/dev/null && break; \
	  kill -0 $$demo 2>/dev/null || exit 1; sleep 0.2; done; \
	cd $(RUN_DIR) && ../$(BIN)/outpostd -config ../tools/run/outpostd.yaml

test: lint test-unit test-race image-test

test-unit:
	$(GO) test -count=1 -timeout 20m ./...

# The concurrent core again under the race detector.
test-race:
	$(GO) test -count=1 -race -timeout 20m ./appliance/cache/ ./appliance/origin/ ./appliance/edge/ ./appliance/prefetch/ \
	  ./appliance/identity/ ./appliance/discovery/ ./appliance/sibling/

# Bootable disk images (board/README.md): `make image BOARD=arm64-efi`.
BOARD ?= pc-x86_64
IMAGE_BOARDS ?= pc-x86_64 arm64-efi
image:
	./board/image.sh $(BOARD)

# Builds each board twice (byte-identical), then boots it in qemu (TCG) five times:
# first boot, persistence, repaired, wiped and missing data partition.
image-test:
	./board/image-test.sh $(IMAGE_BOARDS)

# The headless Chromium + p2p-media-loader test alone (it also runs in test-unit).
test-browser: browser-deps
	$(GO) test -count=1 -v -run '^TestP2PBrowser$$' ./appliance/cmd/outpostd/

browser-deps:
	cd tools/browsertest && npm ci --ignore-scripts --no-audit --no-fund

# fuzz runs every fuzz target for FUZZTIME each (seed corpora also run in test-unit).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; done; done

bench: bench-go bench-edge

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2x -count 1 ./appliance/... ./tools/...

# bench-edge: outpostd vs nginx on the same demo origin (see docs/BENCH.md).
bench-edge: build
	$(GO) run ./tools/cmd/bench-edge $(BENCH_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) $(RUN_DIR)
