#!/bin/sh
# `brp-pyc stats` at a distribution's scale: generates 20,000 packages shaped like Debian 12's
# Python packages (modules per package, cache and source sizes, other files: the spread is
# stated with `DebianShape` in tests/stats.rs; levels 1 and 2 identical as often as in
# CPython's standard library; half the packages linked), then times over the first 2,000 and
# over all of them:
#   brp-pyc stats --json-lines DIR    (one row per package as it goes, then the summary)
#   brp-pyc stats --json DIR          (one object: rows are kept until the end)
#   brp-pyc stats --together --json DIR
#                                     (all packages as one installation: a first pass finds
#                                     the packages that share a module)
#   brp-pyc check --json DIR          (reads the payloads too; exits 1: every generated cache
#                                     records source mtime 0, so each is stale, and the
#                                     unlinked packages' identical levels are not-linked:
#                                     3.5 million findings, 0.9 GiB of JSON over 20,000)
#   rpm -qp --qf '[%{FILENAMES} %{FILESIZES} %{FILEDIGESTS} %{FILEINODES}\n]' DIR/*.rpm
#                                     (rpm's own header query of the same data, one call)
# and prints packages/s (median of RUNS runs, page cache warm) and peak memory (the largest
# maximum resident set size of the runs, /usr/bin/time -v).
#
# Usage: bench/stats-scale.sh [PACKAGES [RUNS]]   (default 20000 and 3; files go to /dev/shm
# when it exists: about 1 GiB for 20,000 packages)
set -eu
cd "$(dirname "$0")/.."
count=${1:-20000}
runs=${2:-3}
small=$((count / 10))
base=/dev/shm
[ -d "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/brp-pyc-scale.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cargo build --release --quiet
start=$(date +%s)
BRP_PYC_BENCH_DIR=$work/all BRP_PYC_BENCH_PACKAGES=$count BRP_PYC_BENCH_SHAPE=debian \
    cargo test --release --quiet --test stats generate_bench_packages -- --ignored >/dev/null
mkdir "$work/first"
ls "$work/all" | sort | head -n "$small" | while read -r f; do ln "$work/all/$f" "$work/first/$f"; done
echo "generated $count packages in $(($(date +%s) - start)) s ($(du -sh "$work/all" | cut -f1)); rayon threads: ${RAYON_NUM_THREADS:-all cores ($(nproc))}"

qf='[%{FILENAMES} %{FILESIZES} %{FILEDIGESTS} %{FILEINODES}\n]'
# One run of "$@" (output discarded; exit 1, problems found, is a run like 0): "SECONDS MAX_RSS_KIB".
measure() {
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null || [ $? -eq 1 ]
    tail -n 1 "$work/time"
}
# Median seconds and largest peak RSS of RUNS runs: "SECONDS MAX_RSS_KIB".
summary() {
    i=0
    : >"$work/runs"
    while [ "$i" -lt "$runs" ]; do
        measure "$@" >>"$work/runs"
        i=$((i + 1))
    done
    sort -n "$work/runs" | awk '{ t[NR] = $1; if ($2 > m) m = $2 } END { printf "%s %s", t[int((NR + 1) / 2)], m }'
}
row() { # NAME PACKAGES SECONDS RSS RPM_SECONDS
    awk -v name="$1" -v n="$2" -v t="$3" -v m="$4" -v r="$5" \
        'BEGIN { printf "| %-31s | %8d | %7.3f | %10.0f | %6.2fx | %8.1f |\n", name, n, t, n / t, r / t, m / 1024 }'
}

brp=./target/release/brp-pyc
echo
echo "| command                         | packages | seconds | packages/s | speed vs rpm | peak MiB |"
echo "|---|---:|---:|---:|---:|---:|"
for dir in first all; do
    n=$(ls "$work/$dir" | wc -l)
    cat "$work/$dir"/*.rpm >/dev/null # warm the page cache
    set -- $(summary sh -c 'exec rpm -qp --nosignature --nodigest --qf "$1" "$2"/*.rpm' sh "$qf" "$work/$dir")
    rpm_t=$1 rpm_m=$2
    set -- $(summary "$brp" stats --json-lines "$work/$dir")
    row "brp-pyc stats --json-lines" "$n" "$1" "$2" "$rpm_t"
    set -- $(summary "$brp" stats --json "$work/$dir")
    row "brp-pyc stats --json" "$n" "$1" "$2" "$rpm_t"
    set -- $(summary "$brp" stats --together --json "$work/$dir")
    row "brp-pyc stats --together --json" "$n" "$1" "$2" "$rpm_t"
    set -- $(summary "$brp" check --json "$work/$dir")
    row "brp-pyc check --json" "$n" "$1" "$2" "$rpm_t"
    row "rpm -qp --qf, one call" "$n" "$rpm_t" "$rpm_m" "$rpm_t"
done
