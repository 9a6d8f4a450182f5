#!/usr/bin/env bash
# Compare `brp-pyc link` with the usual ways of hardlinking duplicate
# bytecode caches, on the tree made by bench/build-tree.sh.
#
# Usage: bench/link.sh [-n RUNS] [-t TOOLS] [--keep]
#
#   -n RUNS   timed runs per tool; the median is reported (default 5)
#   -t TOOLS  comma-separated subset of:
#             brp-python-hardlink,hardlink,jdupes,brp-pyc
#             (default: all of them)
#   --keep    keep the work directory (copies and logs) for inspection
#
# Environment:
#   BRP_PYC            brp-pyc binary (default: target/release/brp-pyc of
#                      this repository); if it is missing or fails a smoke
#                      test it is left out with a warning
#   BRP_PYC_BENCH_DIR  bench directory (default: /tmp/brp-pyc-bench)
#
# Every timed run gets its own fresh `cp -a` of the tree, because all the
# tools modify it in place.  Copying is not timed.  Page caches cannot be
# dropped here, so instead every copy is synced and read once before the
# timed run: all tools then start from the same warm cache.  Rounds are
# interleaved (tool A, B, C, D, then again) so that drift in machine load
# hits all tools alike instead of one tool's whole series.
set -euo pipefail
export LC_ALL=C   # decimal point in $EPOCHREALTIME and awk, byte-wise sort

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
BENCH_DIR=${BRP_PYC_BENCH_DIR:-/tmp/brp-pyc-bench}
BRP_PYC=${BRP_PYC:-$repo/target/release/brp-pyc}
BRP_PYTHON_HARDLINK=/usr/lib/rpm/brp-python-hardlink
GNU_TIME=/usr/bin/time

runs=5
tools_wanted=brp-python-hardlink,hardlink,jdupes,brp-pyc
keep=0
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) runs=$2; shift 2 ;;
        -t) tools_wanted=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "link.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
    echo "link.sh: -n needs a positive integer" >&2; exit 2
fi

log() { echo "link.sh: $*" >&2; }

# `time` as a shell keyword cannot report memory; GNU time can.
if [[ ! -x $GNU_TIME ]]; then
    log "GNU time is missing: apt-get install -y time"; exit 1
fi

tree=$BENCH_DIR/tree
if [[ ! -d $tree ]]; then
    log "no tree at $tree, building it"
    "$here/build-tree.sh" "$tree" >&2
fi

work=$BENCH_DIR/work
rm -rf "$work"
mkdir -p "$work"
cleanup() {
    if [[ $keep -eq 1 ]]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- tools

# set_cmd TOOL DIR: put the command line that runs TOOL on DIR into cmd[].
set_cmd() {
    local d=$2
    case $1 in
        brp-python-hardlink)
            # It takes no argument: the tree comes from the environment,
            # as under rpmbuild.
            cmd=(env "RPM_BUILD_ROOT=$d" "$BRP_PYTHON_HARDLINK") ;;
        hardlink)
            # util-linux 2.38: -t ignores mtimes, which differ between the
            # levels because compileall writes the files one after the other;
            # owner and mode are the same throughout the tree, so this is a
            # content-only comparison like the others (-c would be
            # equivalent here).  -i without -x restricts the candidates to
            # matching files; directories are still descended.
            cmd=(hardlink -t -i '\.pyc$' "$d") ;;
        jdupes)
            # jdupes 1.21 (Debian bookworm): -L is --link-hard, and the
            # extension filter is spelled -X onlyext:pyc (no dot, see
            # `jdupes -X help`).  -q only hides the progress indicator that
            # would otherwise be drawn on stderr.
            cmd=(jdupes -q -r -L -X onlyext:pyc "$d") ;;
        brp-pyc|brp-pyc-again)
            cmd=("$BRP_PYC" link "$d") ;;
        find)
            cmd=(find "$d") ;;
    esac
}

declare -A label=(
    [brp-python-hardlink]="brp-python-hardlink"
    [hardlink]="hardlink -t -i '\\.pyc\$'"
    [jdupes]="jdupes -q -r -L -X onlyext:pyc"
    [brp-pyc]="brp-pyc link"
)

# A quick check that the binary exists and does the job on a minimal
# __pycache__, so a half-written build is left out instead of ruining the
# run (or the table) with failures.
brp_pyc_works() {
    [[ -x $BRP_PYC ]] || { log "brp-pyc not found at $BRP_PYC"; return 1; }
    local d=$work/smoke/pkg/__pycache__
    mkdir -p "$d"
    printf 'same bytes' >"$d/m.cpython-311.pyc"
    printf 'same bytes' >"$d/m.cpython-311.opt-1.pyc"
    printf 'other bytes' >"$d/m.cpython-311.opt-2.pyc"
    if ! "$BRP_PYC" link "$work/smoke" >"$work/smoke.log" 2>&1; then
        log "brp-pyc smoke test failed:"; cat "$work/smoke.log" >&2
        return 1
    fi
    local a b
    a=$(stat -c %i "$d/m.cpython-311.pyc")
    b=$(stat -c %i "$d/m.cpython-311.opt-1.pyc")
    if [[ $a != "$b" ]]; then
        log "brp-pyc smoke test: identical caches were not linked"
        return 1
    fi
    rm -rf "$work/smoke" "$work/smoke.log"
}

tools=()
IFS=, read -r -a requested <<<"$tools_wanted"
for t in "${requested[@]}"; do
    case $t in
        brp-python-hardlink)
            if [[ -x $BRP_PYTHON_HARDLINK ]]; then tools+=("$t")
            else log "leaving out $t: $BRP_PYTHON_HARDLINK missing (Debian package rpm)"; fi ;;
        hardlink|jdupes)
            if command -v "$t" >/dev/null; then tools+=("$t")
            else log "leaving out $t: not installed"; fi ;;
        brp-pyc)
            if brp_pyc_works; then
                # Run a private copy, so that a rebuild during the benchmark
                # cannot swap the binary between rounds.
                cp "$BRP_PYC" "$work/brp-pyc"
                BRP_PYC=$work/brp-pyc
                brp_pyc_id="$("$BRP_PYC" --version 2>/dev/null || echo brp-pyc), sha256 $(sha256sum "$BRP_PYC" | cut -c1-12)"
                tools+=("$t")
            else
                log "leaving out brp-pyc"
            fi ;;
        *) log "unknown tool: $t"; exit 2 ;;
    esac
done
if [[ ${#tools[@]} -eq 0 ]]; then
    log "no tool to run"; exit 1
fi
have_brp_pyc=0
for t in "${tools[@]}"; do
    if [[ $t == brp-pyc ]]; then have_brp_pyc=1; fi
done

# ------------------------------------------------------------- helpers

copy=$work/copy

fresh_copy() {
    rm -rf "$copy"
    cp -a "$tree" "$copy"
    # Write back now so that flushing the copy does not overlap the timed run,
    # then read everything once so that every tool starts from a warm cache.
    sync
    find "$copy" -type f -exec cat {} + >/dev/null
}

# timed NAME DIR: run tool NAME on DIR under GNU time; append the wall
# seconds to $work/NAME.secs and the peak RSS (KiB) to $work/NAME.rss.  The
# tools' output goes to a log (find's to /dev/null, as in `find DIR
# >/dev/null`); writing it is part of their cost.  Wall time comes from
# bash's microsecond clock because GNU time's %e only has 10 ms steps, too
# coarse for the fast cases; the extra cost of starting GNU time itself
# (about a millisecond) is the same for every tool.
timed() {
    local name=$1 dir=$2 out t0 t1 rc=0
    out=$work/$name.log
    [[ $name == find ]] && out=/dev/null
    set_cmd "$name" "$dir"
    t0=$EPOCHREALTIME
    "$GNU_TIME" -f '%M' -o "$work/$name.time" "${cmd[@]}" >>"$out" 2>>"$work/$name.log" || rc=$?
    t1=$EPOCHREALTIME
    if [[ $rc -ne 0 ]]; then
        log "$name exited with status $rc; last lines of its output:"
        tail -n 20 "$work/$name.log" >&2
        return 1
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$work/$name.secs"
    tail -n 1 "$work/$name.time" >>"$work/$name.rss"
}

median() {
    sort -g "$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
max_mib() { sort -g "$1" | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'; }

# Apparent size of the regular files, each inode counted once (what `du
# -sb` says, minus directories: hardlink and jdupes link through a temporary
# name, which can grow a directory by a block and blur the comparison).
bytes_of() {
    find "$1" -type f -printf '%i %s\n' | sort -u -k1,1 | awk '{ s += $2 } END { print s + 0 }'
}
pyc_inodes() { find "$1" -name '*.pyc' -printf '%i\n' | sort -u | wc -l; }
all_inodes() { find "$1" -type f -printf '%i\n' | sort -u | wc -l; }

# Number of .pyc inodes that are shared by caches of more than one module
# (or one module in different directories).  brp-python-hardlink and
# brp-pyc never create those; whole-tree deduplicators may.
cross_module_inodes() {
    find "$1" -name '*.pyc' -printf '%i %h/%f\n' | awk '
        { key = $2; sub(/(\.opt-[12])?\.pyc$/, "", key)
          if (!(($1, key) in seen)) { seen[$1, key] = 1; n[$1]++ } }
        END { c = 0; for (i in n) if (n[i] > 1) c++; print c }'
}

# Path and checksum of every file: linking must never change what any
# path reads as, whichever tool did it.
manifest() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 md5sum)
}

# --------------------------------------------------------------- setup

n_caches=$(find "$tree" -name '*.pyc' | wc -l)
bytes_before=$(bytes_of "$tree")
pyc_inodes_before=$(pyc_inodes "$tree")
log "tree: $tree ($n_caches caches, $bytes_before bytes in files)"
log "tools: ${tools[*]}; $runs run(s) each"
log "computing reference checksums"
manifest "$tree" >"$work/manifest.ref"

declare -A saved inodes cross allinodes failed
all_inodes_before=$(all_inodes "$tree")

# --------------------------------------------------------------- rounds

for ((r = 1; r <= runs; r++)); do
    for t in "${tools[@]}"; do
        [[ -n ${failed[$t]:-} ]] && continue
        log "round $r/$runs: $t"
        fresh_copy
        if ! timed "$t" "$copy"; then
            failed[$t]=1
            continue
        fi

        # Results are the same every round; check them once.
        if [[ $r -eq 1 ]]; then
            saved[$t]=$(( bytes_before - $(bytes_of "$copy") ))
            inodes[$t]=$(pyc_inodes "$copy")
            allinodes[$t]=$(all_inodes "$copy")
            cross[$t]=$(cross_module_inodes "$copy")
            if ! manifest "$copy" | cmp -s - "$work/manifest.ref"; then
                log "$t changed the contents or the set of files: marking it failed"
                failed[$t]=1
                continue
            fi
        fi

        # The copy brp-pyc has just linked is the input of the "already
        # linked" case: a second run should cost about a directory walk.
        if [[ $t == brp-pyc ]]; then
            before=$(find "$copy" -name '*.pyc' -printf '%i %p\n' | sort | md5sum)
            if ! timed brp-pyc-again "$copy"; then
                failed[brp-pyc-again]=1
            elif [[ $(find "$copy" -name '*.pyc' -printf '%i %p\n' | sort | md5sum) != "$before" ]]; then
                log "second brp-pyc run changed the links"
                failed[brp-pyc-again]=1
            fi
            timed find "$copy" || failed[find]=1
        fi
    done
done
rm -rf "$copy"

# --------------------------------------------------------------- report

fmt_bytes() { awk -v b="$1" 'BEGIN { printf "%d (%.1f MiB)", b, b / 1048576 }'; }

base=""
if [[ $have_brp_pyc -eq 1 && -z ${failed[brp-pyc]:-} ]]; then
    base=$(median "$work/brp-pyc.secs")
fi

echo
echo "Tree: $n_caches caches, $bytes_before bytes in regular files, $pyc_inodes_before distinct .pyc inodes before linking."
echo "Runs per tool: $runs (median wall time; peak RSS is the largest of the runs)."
if [[ $have_brp_pyc -eq 1 ]]; then echo "brp-pyc: $brp_pyc_id."; fi
echo
echo "| tool | median seconds | ratio to brp-pyc | peak RSS MiB | bytes saved | .pyc inodes after | inodes shared across modules |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${tools[@]}"; do
    if [[ -n ${failed[$t]:-} ]]; then
        echo "| \`${label[$t]}\` | failed | | | | | |"
        continue
    fi
    m=$(median "$work/$t.secs")
    if [[ -n $base ]]; then
        ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2fx", a / b }')
    else
        ratio="n/a"
    fi
    # shellcheck disable=SC2016 # backticks are Markdown here
    printf '| `%s` | %.3f | %s | %s | %s | %s | %s |\n' \
        "${label[$t]}" "$m" "$ratio" "$(max_mib "$work/$t.rss")" \
        "$(fmt_bytes "${saved[$t]}")" "${inodes[$t]}" "${cross[$t]}"
done
echo

if [[ $have_brp_pyc -eq 1 && -z ${failed[brp-pyc]:-} ]]; then
    if [[ -n ${failed[brp-pyc-again]:-}${failed[find]:-} ]]; then
        echo "Already linked: second \`brp-pyc link\` run or \`find\` FAILED (see above)."
    else
        a=$(median "$work/brp-pyc-again.secs")
        f=$(median "$work/find.secs")
        # shellcheck disable=SC2016 # backticks are Markdown here
        printf 'Already linked: second `brp-pyc link` run %.3f s (peak RSS %s MiB) vs bare `find` %.3f s (%.2fx).\n' \
            "$a" "$(max_mib "$work/brp-pyc-again.rss")" "$f" \
            "$(awk -v a="$a" -v b="$f" 'BEGIN { print a / b }')"
    fi
    echo
    # Whole-tree deduplicators also merge identical caches of different
    # modules, so they may end with fewer inodes than the per-module tools;
    # say so rather than let the bytes column suggest one tool is wrong.
    ref=${inodes[brp-pyc]}
    for t in "${tools[@]}"; do
        [[ $t == brp-pyc || -n ${failed[$t]:-} ]] && continue
        d=$(( inodes[$t] - ref ))
        if [[ $d -eq 0 ]]; then
            echo "- $t: same number of distinct .pyc inodes as brp-pyc ($ref)."
        else
            echo "- $t: $d distinct .pyc inodes relative to brp-pyc ($ref); ${cross[$t]} of its inodes are shared by caches of different modules."
        fi
    done
fi
for t in "${tools[@]}"; do
    [[ -n ${failed[$t]:-} ]] && continue
    if [[ ${allinodes[$t]} -ne $(( all_inodes_before - pyc_inodes_before + inodes[$t] )) ]]; then
        echo "- $t: also linked files other than .pyc caches."
    fi
done
echo "Every tool with results above left every path with its original contents (checksums compared after its first run)."
