#!/usr/bin/env bash
# board/image-test.sh [BOARD...]: the image tests. For each board (default
# pc-x86_64): two builds must be byte-identical (reproducibility), then the
# qemu boot test (tools/image/boot_test.go, build tag boottest) boots it five
# times on one disk: serving through the host forward; the data partition
# created exactly once and its files surviving a reboot; link-local on a NIC
# without DHCP; a lost superblock repaired by fsck with the data kept; a
# destroyed and a missing data partition recreated loudly (the last boot on a
# machine without a watchdog device); clean poweroff by
# the power button and clean reboot by Ctrl-Alt-Del. Each boot also checks the
# boot report in /api/v1/status (board, slot, hostname, boot number, data
# problems, watchdog, NTP failing with where the servers came from, link
# modes), a static network file written into the data partition (boot 3), and
# the persisted logs through /api/v1/logs with a token written into the data
# partition's config (boots 2 and 3: the previous boot's init lines are there).
# `make image-test` calls this. Every qemu boot is bounded (4 min).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
export OUTPOST_CACHE=${OUTPOST_CACHE:-/var/cache/outpost-image}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1764000000}
boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(${BOARD:-pc-x86_64})
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for b in "${boards[@]}"; do
  echo "== $b: reproducible build"
  # The second build runs under another umask and in another directory.
  CGO_ENABLED=0 go run ./tools/cmd/mkimage -board "$b" -out "$work/1/outpost-$b.img" -version image-test >/dev/null
  (umask 077; CGO_ENABLED=0 go run ./tools/cmd/mkimage -board "$b" -out "$work/2/outpost-$b.img" -version image-test >/dev/null)
  for f in "outpost-$b.img" "outpost-$b.img.sha256" "outpost-$b.img.bmap"; do
    cmp "$work/1/$f" "$work/2/$f" || { echo "FAIL: $f differs between two builds" >&2; exit 1; }
  done
  echo "   identical: $(cut -d' ' -f1 "$work/1/outpost-$b.img.sha256")"
  if command -v bmaptool >/dev/null; then
    # bmaptool checks every range's checksum while it copies.
    bmaptool -q copy "$work/1/outpost-$b.img" "$work/bmap-copy.img"
    cmp "$work/1/outpost-$b.img" "$work/bmap-copy.img" || { echo "FAIL: bmaptool copy differs" >&2; exit 1; }
    rm -f "$work/bmap-copy.img" "$work/2/outpost-$b.img"
    echo "   bmaptool copy verified"
  fi
  echo "== $b: boot test"
  rc=0
  OUTPOST_BOARD=$b OUTPOST_IMAGE="$work/1/outpost-$b.img" \
    go test -tags boottest -count=1 -timeout 40m -run TestBoot -v ./tools/image/ >"$work/boottest-$b.log" 2>&1 || rc=$?
  grep -E '^\s*(=== RUN|--- |PASS|FAIL|ok )|FIGURES|boot_test.go' "$work/boottest-$b.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 80 "$work/boottest-$b.log" >&2
    exit "$rc"
  fi
done
