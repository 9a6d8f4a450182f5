#!/usr/bin/env bash
# Time `brp-pyc compile` against compileall with --hardlink-dupes on the standard library.
#
# Usage: bench/compile.sh [-n RUNS] [--python PYTHON]
#
#   -n RUNS          timed runs per tool; the median is reported (default 3)
#   --python PYTHON  the interpreter (default: python3)
#
# Environment:
#   BRP_PYC            brp-pyc binary (default: target/release/brp-pyc of this repository)
#   BRP_PYC_BENCH_DIR  where the copies go (default: a new directory in /dev/shm, which is
#                      tmpfs: on a disk filesystem creating ~10,000 files per copy dominates)
#
# Each timed run compiles a fresh copy of the library's sources (no caches, test suites
# and site-packages left out, as a distribution package would hold them). Copying is not
# timed. Both tools write levels 0, 1 and 2 and link identical levels; rounds alternate
# between the tools so that drift in machine load hits both alike. Neither is inside a build
# root, so both record the copy's path and use compileall's default invalidation mode.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
BRP_PYC=${BRP_PYC:-$repo/target/release/brp-pyc}
runs=3
python=python3
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) runs=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        *) echo "usage: $0 [-n RUNS] [--python PYTHON]" >&2; exit 2 ;;
    esac
done
if [[ ! -x $BRP_PYC ]]; then
    echo "$BRP_PYC is missing: cargo build --release" >&2
    exit 2
fi
# The importer's own setting must not matter here; compileall ignores it anyway.
unset PYTHONDONTWRITEBYTECODE SOURCE_DATE_EPOCH RPM_BUILD_ROOT

stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
if [[ -n ${BRP_PYC_BENCH_DIR:-} ]]; then
    work=$BRP_PYC_BENCH_DIR; mkdir -p "$work"
else
    work=$(mktemp -d "$( [[ -d /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/brp-pyc-compile.XXXXXX")
fi
trap 'rm -rf "$work"' EXIT

# A binary that cannot compile would "win" in no time: check it first.
smoke=$work/smoke
mkdir -p "$smoke" && echo 'x = 1' > "$smoke/m.py"
if ! "$BRP_PYC" compile --python "$python" "$smoke" || [[ -z $(find "$smoke" -name 'm.*.opt-1.pyc') ]]; then
    echo "$BRP_PYC compile does not work; build it first: cargo build --release" >&2
    exit 2
fi

# One pristine copy of the sources; each run starts from a copy of it.
pristine=$work/pristine
mkdir -p "$pristine"
(cd "$stdlib" && find . \( -name __pycache__ -o -name site-packages -o -name test -o -name tests \
    -o -name idle_test -o -name lib2to3 \) -prune -o -name '*.py' -print0 |
    cpio -0 -pdm --quiet "$pristine")
sources=$(find "$pristine" -name '*.py' | wc -l)
echo "$python ($("$python" -c 'import sys; print(sys.implementation.cache_tag)')): $sources sources from $stdlib, copies in $work"

# Seconds taken by "$@" run on a fresh copy (appended as its last argument).
time_one() {
    local copy=$work/copy
    rm -rf "$copy"; cp -a "$pristine" "$copy"; sync
    local start end
    start=$EPOCHREALTIME
    "$@" "$copy" >/dev/null || { echo "failed: $*" >&2; return 1; }
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

brp=() compileall=()
for ((i = 1; i <= runs; i++)); do
    brp+=("$(time_one "$BRP_PYC" compile --python "$python" -o 0 -o 1 -o 2)")
    compileall+=("$(time_one "$python" -m compileall -q -o 0 -o 1 -o 2 --hardlink-dupes -j 0)")
done
brp_median=$(printf '%s\n' "${brp[@]}" | median)
compileall_median=$(printf '%s\n' "${compileall[@]}" | median)
printf 'brp-pyc compile:                        %ss (runs: %s)\n' "$brp_median" "${brp[*]}"
printf 'compileall --hardlink-dupes -j 0:       %ss (runs: %s)\n' "$compileall_median" "${compileall[*]}"
awk -v a="$brp_median" -v b="$compileall_median" 'BEGIN { printf "ratio brp-pyc / compileall: %.3f\n", a / b }'
