#!/usr/bin/env bash
# Compare two brp-pyc binaries at `link`, alternating runs, on a tree small enough for a shared
# 2-core machine: K copies of this machine's standard library compiled at levels 0, 1 and 2.
#
# Usage: bench/link-ab.sh OLD_BINARY NEW_BINARY [-n RUNS] [-k COPIES]
#
#   -n RUNS    timed runs per binary, alternating OLD, NEW, OLD, ... (default 9)
#   -k COPIES  copies of the standard library in the tree (default 8)
#
# Environment: BRP_PYC_BENCH_DIR (default /tmp/brp-pyc-bench-ab), PYTHON (default python3).
# Every run gets a fresh `cp -a` of the tree, synced and read once (warm page cache, as in
# bench/link.sh); copying is not timed. Prints each time, then the medians and NEW/OLD.
set -euo pipefail
export LC_ALL=C

[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
old=$1 new=$2
shift 2
runs=9 copies=8
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) runs=$2; shift 2 ;;
        -k) copies=$2; shift 2 ;;
        *) echo "link-ab.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
dir=${BRP_PYC_BENCH_DIR:-/tmp/brp-pyc-bench-ab}
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
tree=$dir/tree-$copies

if [[ ! -d $tree ]]; then
    echo "link-ab.sh: building $tree from $stdlib" >&2
    rm -rf "$dir/one" "$tree.partial"
    mkdir -p "$dir/one" "$tree.partial"
    cp -a "$stdlib" "$dir/one/lib"
    find "$dir/one" -name __pycache__ -prune -exec rm -rf {} +
    "$python" -m compileall -q -j 0 -o 0 -o 1 -o 2 "$dir/one/lib" >/dev/null 2>&1 || true
    for i in $(seq "$copies"); do cp -a "$dir/one/lib" "$tree.partial/lib$i"; done
    rm -rf "$dir/one"
    mv "$tree.partial" "$tree"
fi
echo "link-ab.sh: $(find "$tree" -name '*.pyc' | wc -l) caches in $tree" >&2

work=$dir/work
trap 'rm -rf "$work"' EXIT
declare -A times
for i in $(seq "$runs"); do
    for which in old new; do
        binary=${!which}
        rm -rf "$work"
        cp -a "$tree" "$work"
        sync
        find "$work" -type f -exec cat {} + >/dev/null
        start=$EPOCHREALTIME
        "$binary" link "$work"
        end=$EPOCHREALTIME
        t=$(echo "$end - $start" | bc)
        echo "$which $t"
        times[$which]+="$t "
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
m_old=$(echo "${times[old]}" | median)
m_new=$(echo "${times[new]}" | median)
echo "median old $m_old s, new $m_new s, new/old $(echo "scale=3; $m_new / $m_old" | bc)"
