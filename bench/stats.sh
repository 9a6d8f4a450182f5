#!/bin/sh
# Times `brp-pyc stats` over a directory of generated packages (headers only) against
# `rpm -qp --qf` asking for the same header data, once with all files in one call and once
# with one call per file. Prints packages per second for each.
#
# Usage: bench/stats.sh [PACKAGES]   (default 500; files go to /dev/shm when it exists)
set -eu
cd "$(dirname "$0")/.."
count=${1:-500}
base=/dev/shm
[ -d "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/brp-pyc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cargo build --release --quiet
BRP_PYC_BENCH_DIR=$work/repo BRP_PYC_BENCH_PACKAGES=$count \
    cargo test --release --quiet --test stats generate_bench_packages -- --ignored >/dev/null
echo "$(ls "$work/repo" | wc -l) packages, $(du -sh "$work/repo" | cut -f1)"

# Seconds (with fractions) that a command takes, its output discarded.
seconds() {
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
rate() { awk -v n="$count" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }

qf='[%{FILENAMES} %{FILESIZES} %{FILEDIGESTS} %{FILEINODES}\n]'
# Warm the page cache so that every contender reads from memory.
cat "$work"/repo/*.rpm >/dev/null

t=$(seconds ./target/release/brp-pyc stats --json "$work/repo")
echo "brp-pyc stats DIR:               ${t}s  $(rate "$t") packages/s"
t=$(seconds rpm -qp --nosignature --nodigest --qf "$qf" "$work"/repo/*.rpm)
echo "rpm -qp --qf, one call:          ${t}s  $(rate "$t") packages/s"
t=$(seconds sh -c 'for f in "$1"/*.rpm; do rpm -qp --nosignature --nodigest --qf "$2" "$f"; done' sh "$work/repo" "$qf")
echo "rpm -qp --qf, one call per file: ${t}s  $(rate "$t") packages/s"
