#!/usr/bin/env bash
# Build a realistic benchmark tree of ~35,000 Python bytecode caches.
#
# Usage: bench/build-tree.sh [--force] [DIR]
#
#   DIR      where to build the tree
#            (default: ${BRP_PYC_BENCH_DIR:-/tmp/brp-pyc-bench}/tree)
#   --force  rebuild even if DIR already exists
#
# The tree mimics what a distribution build root holds after byte-compiling:
# the interpreter's standard library plus a set of third-party pure-Python
# packages, each module compiled at the three optimization levels
# (NAME.cpython-XY.pyc, .opt-1.pyc, .opt-2.pyc) as separate files, i.e.
# exactly the input that brp-python-hardlink and brp-pyc are meant to shrink.
#
# Environment:
#   BRP_PYC_BENCH_DIR  bench working directory (wheel cache, logs, copies)
#   PYTHON             interpreter to take the stdlib from and to compile
#                      with (default: python3)
set -euo pipefail

BENCH_DIR=${BRP_PYC_BENCH_DIR:-/tmp/brp-pyc-bench}
PYTHON=${PYTHON:-python3}

force=0
tree=""
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "build-tree.sh: unknown option: $arg" >&2; exit 2 ;;
        *)
            if [[ -n $tree ]]; then
                echo "build-tree.sh: only one DIR may be given" >&2; exit 2
            fi
            tree=$arg ;;
    esac
done
tree=${tree:-$BENCH_DIR/tree}
tree=${tree%/}

count_caches() { find "$1" -name '*.pyc' | wc -l; }

# The tree only appears under its final name once it is complete (it is
# built under a temporary name and renamed), so its existence alone means
# "already built".
if [[ -d $tree && $force -eq 0 ]]; then
    echo "build-tree.sh: reusing existing tree $tree (use --force to rebuild)" >&2
    echo "caches: $(count_caches "$tree")"
    exit 0
fi

# Pinned so that the cache count and the duplicate ratio stay comparable
# between runs and machines.  All are pure-Python (py3-none-any) wheels,
# chosen for their large number of modules rather than their size on disk
# (botocore, for instance, is mostly JSON data and adds few modules).
# With CPython 3.11's stdlib this set yields roughly 35,000 caches.
PACKAGES=(
    Django==4.2.11
    sympy==1.12
    moto==5.0.5
    Twisted==24.3.0
    ansible-core==2.16.6
    kubernetes==29.0.0
    Faker==24.11.0
    networkx==3.2.1
    pip==24.0
    Pygments==2.17.2
    openai==1.23.6
    setuptools==69.5.1
    Sphinx==7.3.7
    pylint==3.1.0
    docutils==0.21.2
    hypothesis==6.100.1
    astroid==3.1.0
    botocore==1.34.90
    nltk==3.8.1
    bokeh==3.4.1
    ipython==8.23.0
    cfn-lint==0.87.0
    prompt_toolkit==3.0.43
)

wheels=$BENCH_DIR/wheels
logs=$BENCH_DIR/logs
mkdir -p "$wheels" "$logs"

# pip skips wheels that are already in the download directory, so re-runs
# cost nothing once the cache is filled.  --no-deps keeps the set exactly
# as pinned; --only-binary guarantees we never build an sdist.
echo "build-tree.sh: fetching wheels into $wheels" >&2
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
    -d "$wheels" "${PACKAGES[@]}"

stdlib=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
pyver=$(basename "$stdlib")            # e.g. python3.11

partial=$tree.partial
rm -rf "$partial"
if [[ $force -eq 1 ]]; then rm -rf "$tree"; fi
libdir=$partial/usr/lib/$pyver
mkdir -p "$libdir/site-packages"

# Start from sources only: existing caches of the interpreter would be
# compiled with different settings, and site-packages holds whatever
# happens to be installed on this machine, which is not reproducible.
echo "build-tree.sh: copying stdlib from $stdlib" >&2
tar -C "$stdlib" --exclude=./site-packages --exclude=__pycache__ -cf - . \
    | tar -C "$libdir" -xf -

echo "build-tree.sh: unpacking wheels" >&2
for pkg in "${PACKAGES[@]}"; do
    # Wheel file names normalise the project name ('-' -> '_', any case),
    # so match on the normalised name and the pinned version.
    name=${pkg%%==*}
    version=${pkg##*==}
    norm=$(echo "$name" | tr 'A-Z-' 'a-z_')
    whl=""
    for f in "$wheels"/*.whl; do
        base=$(basename "$f")
        bnorm=$(echo "${base%%-*}" | tr 'A-Z-' 'a-z_')
        rest=${base#*-}
        if [[ $bnorm == "$norm" && ${rest%%-*} == "$version" ]]; then
            whl=$f
            break
        fi
    done
    if [[ -z $whl ]]; then
        echo "build-tree.sh: no wheel found for $pkg in $wheels" >&2
        exit 1
    fi
    # A platform wheel would bring compiled extensions instead of modules
    # and make the tree depend on this machine's architecture.
    if [[ $whl != *-none-any.whl ]]; then
        echo "build-tree.sh: $whl is not a pure-Python wheel" >&2
        exit 1
    fi
    unzip -q -o "$whl" -d "$libdir/site-packages"
done

# No --hardlink-dupes: leaving the duplicates as separate files is the
# whole point of the benchmark.  Some stdlib test files (and a few in
# packages) are deliberately invalid Python; compileall reports them and
# exits 1, which is expected, so the status is not fatal.  The number of
# such failures is reported so an unexpected jump would be noticed.
# SOURCE_DATE_EPOCH would switch py_compile to hash-based caches; unset it
# so the tree does not depend on the caller's environment.
echo "build-tree.sh: compiling at optimization levels 0, 1 and 2" >&2
log=$logs/compileall.log
set +e
env -u SOURCE_DATE_EPOCH "$PYTHON" -m compileall -q -o 0 -o 1 -o 2 -j 0 \
    "$partial" >"$log" 2>&1
status=$?
set -e
failed=$(grep -c '^\*\*\* Error compiling' "$log" || true)
echo "build-tree.sh: compileall exit status $status, $failed file(s) failed to compile (see $log)" >&2

n=$(count_caches "$partial")
if [[ $n -eq 0 ]]; then
    echo "build-tree.sh: no caches were produced" >&2
    exit 1
fi

mv "$partial" "$tree"
echo "build-tree.sh: tree ready at $tree" >&2
echo "caches: $n"
