#!/usr/bin/env bash
# board/image.sh BOARD: build out/outpost-BOARD.img (+ .sha256, .bmap) with
# tools/cmd/mkimage. `make image BOARD=...` calls this.
# SOURCE_DATE_EPOCH defaults to the last commit's time, VERSION to git describe;
# packages are cached in $OUTPOST_CACHE (default /var/cache/outpost-image).
set -euo pipefail
cd "$(dirname "$0")/.."
BOARD=${1:-${BOARD:-pc-x86_64}}
export PATH=/usr/local/go/bin:$PATH
export OUTPOST_CACHE=${OUTPOST_CACHE:-/var/cache/outpost-image}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1764000000)}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
OUT=${OUT:-out/outpost-$BOARD.img}
CGO_ENABLED=0 go run ./tools/cmd/mkimage -board "$BOARD" -out "$OUT" -version "$VERSION"
