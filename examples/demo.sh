#!/usr/bin/env bash
# The whole job of brp-pyc, on this machine, in about a minute after the cargo build:
#   1. `make install` into a scratch prefix; rpmbuild builds a spec with those macros: caches of
#      each optimization level in an optional subpackage. With rpm 4.19 and later it is
#      examples/python-example-one-line.spec (one macro line; the brp step declares the
#      subpackages in a spec part), with rpm 4.18, which reads no spec parts,
#      examples/python-example-split.spec (the subpackages declared by hand); it says which;
#   2. the packages and what each ships;
#   3. the main package and opt-0 installed into a scratch root with `rpm --root`, and python3
#      loading the installed caches (python3 -O finds no opt-1 cache: opt-1 is not installed);
#   4. what each layout costs (`brp-pyc stats --together` over the four packages);
#   5. `brp-pyc link` on caches of part of the standard library, compiled at three levels.
# Every scratch directory is removed at the end, also on failure or Ctrl-C. It needs the Rust
# toolchain; a missing rpm, python3, make or C compiler is installed with apt-get or dnf when it
# runs as root (one line per package), else it prints the command that installs them, exit 2.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the demo runs: TOOL:DEBIAN-PACKAGES:FEDORA-PACKAGES (comma-separated). cargo builds
# brp-pyc with cc (gcc, and on Debian the C library's headers and start files).
needs=(make:make:make rpm:rpm:rpm rpmbuild:rpm:rpm-build python3:python3:python3 cc:gcc,libc6-dev:gcc)
if ! command -v cargo >/dev/null; then
    echo "demo: not found: cargo; install the Rust toolchain first (1.88 or later: https://rustup.rs)" >&2
    exit 2
fi
if command -v apt-get >/dev/null || { ! command -v dnf >/dev/null && [ -e /etc/debian_version ]; }; then manager=apt-get column=2; else manager=dnf column=3; fi
packages=()
for need in "${needs[@]}"; do
    tool=${need%%:*}
    command -v "$tool" >/dev/null && continue
    for package in $(echo "$need" | cut -d: -f"$column" | tr , ' '); do
        case " ${packages[*]} " in *" $package "*) ;; *) packages+=("$package") ;; esac
    done
    echo "demo: not found: $tool" >&2
done
if [ "${#packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v "$manager" >/dev/null; then
        echo "demo: install them first, then run the demo again:" >&2
        echo "    sudo $manager install -y ${packages[*]}" >&2
        exit 2
    fi
    for package in "${packages[@]}"; do echo "demo: installing $package with $manager"; done
    # The package manager's chatter is shown only if it fails.
    install_log=$(mktemp)
    if [ "$manager" = apt-get ]; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$install_log" 2>&1
    else
        dnf install -y -q "${packages[@]}" >"$install_log" 2>&1
    fi || { cat "$install_log" >&2; rm -f "$install_log"; echo "demo: $manager install ${packages[*]} failed" >&2; exit 1; }
    rm -f "$install_log"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A failing step prints its own output and stops the demo; on success it stays quiet.
quietly() {
    "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log" >&2; echo "demo: failed: $*" >&2; exit 1; }
}

python=$(python3 -c 'import sys; print(sys.executable)')
prefix=$work/prefix
echo "== make install PREFIX=$prefix (cargo builds first: minutes the first time, then seconds)"
quietly make install PREFIX="$prefix" RPMLINTDIR="$prefix/etc/xdg/rpmlint"
brp=$prefix/bin/brp-pyc
macro_files=$(find "$prefix" -path '*/macros.d/macros.*' | sort | paste -sd: -)
# rpm 4.20 reads its configuration again for a noarch spec and forgets files given with
# --load; a macro path given with --macros (before any --define) survives. So: rpm's own
# macro path, then the installed files.
rpm_macro_path=$(rpm --showrc | sed -n 's/^Macro path: //p')
# A configuration whose %__os_install_post runs no Python brp step (Debian's) gets the policy
# file, as `make install-policy` installs it; it comes last, after the platform macros.
if ! rpm --define '__brp_python_hardlink brp-pyc-demo-mark' --eval '%{__os_install_post}' | grep -q brp-pyc-demo-mark; then
    quietly make install-policy RPMPOLICYDIR="$prefix/etc/rpm"
    macro_files=$macro_files:$prefix/etc/rpm/macros.brp-pyc-policy
fi
# rpm 4.19 and later read spec parts, where the brp step declares the subpackages.
rpm_version=$(rpm --version | awk '{ print $NF }')
rpm_minor=${rpm_version#*.}
if [ "${rpm_version%%.*}" -gt 4 ] || { [ "${rpm_version%%.*}" = 4 ] && [ "${rpm_minor%%.*}" -ge 19 ]; }; then
    spec=examples/python-example-one-line.spec
    echo "== rpm $rpm_version reads spec parts: the one-line split, $spec"
    echo "   (%py_bytecode_split; the brp step after %install declares the subpackages itself)"
else
    spec=examples/python-example-split.spec
    echo "== rpm $rpm_version reads no spec parts (4.19 and later do): the hand-declared split, $spec"
    echo "   (%py_bytecode_split, and a %package and %files line per subpackage)"
fi
echo "== rpmbuild -bb $spec, with the installed macros"
quietly rpmbuild -bb --macros "$rpm_macro_path:$macro_files" \
    --define "_topdir $work/rpmbuild" --define "__python3 $python" "$spec"
packages=("$work"/rpmbuild/RPMS/noarch/*.rpm)

echo
echo "== the packages: what each installs (%ghost: owned, not shipped)"
printf '%-40s %6s %7s %10s\n' PACKAGE FILES GHOSTS INSTALLED
# LONGFILESIZES: rpm 6's v6 packages carry no FILESIZES; rpm 4.18 and 4.20 give it for v4 ones too.
for package in "${packages[@]}"; do
    rpm -qp --qf '[%{FILEFLAGS:fflags}\t%{FILEMODES:perms}\t%{LONGFILESIZES}\n]' "$package" |
        awk -F'\t' -v name="$(rpm -qp --qf '%{NAME}' "$package")" '
            $2 ~ /^d/ { next }
            $1 ~ /g/ { ghosts++; next }
            { files++; bytes += $3 }
            END { printf "%-40s %6d %7d %8d B\n", name, files, ghosts, bytes }'
done

root=$work/root
main=$(ls "${packages[@]}" | grep -v -- '-bytecode-opt-')
opt0=$(ls "${packages[@]}" | grep -- '-bytecode-opt-0-')
echo
echo "== rpm --root: the main package and bytecode-opt-0 installed into a scratch root"
quietly rpm --root "$root" --dbpath /var/lib/rpm --initdb
quietly rpm --root "$root" --dbpath /var/lib/rpm --nodeps --noscripts -i "$main" "$opt0"
rpm --root "$root" --dbpath /var/lib/rpm -qa | sort | sed 's/^/   /'
sitelib=$(rpm -qp --qf '[%{FILENAMES}\n]' "$main" | sed -n 's|/example/__init__.py$||p')
pycache=$sitelib/example/__pycache__
echo "   in $pycache: $(cd "$root$pycache" && ls | paste -sd' ' -)"

echo
echo "== python3 -v -c 'import example.both', the scratch root's $sitelib on sys.path:"
PYTHONPATH=$root$sitelib PYTHONDONTWRITEBYTECODE=1 "$python" -v -c 'import example.both' 2>&1 |
    grep -E "^# .*example/(__pycache__/)?both\." | sed "s|$root||g; s|^|   |"
echo "== python3 -O (opt-1 not installed: compiled from source in memory):"
PYTHONPATH=$root$sitelib PYTHONDONTWRITEBYTECODE=1 "$python" -O -v -c 'import example.both' 2>&1 |
    grep -E "^# .*example/(__pycache__/)?both\." | sed "s|$root||g; s|^|   |"

echo
echo "== brp-pyc stats --together (the four packages as one installation): each layout's size"
"$brp" stats --together "${packages[@]}" | sed -n '/^LAYOUT/,$p'

# Part two: `link` alone, on real caches of part of this machine's standard library.
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir "$work/lib"
for pkg in json email http logging collections importlib concurrent urllib xml asyncio unittest; do
    cp -r "$stdlib/$pkg" "$work/lib/"
done
find "$work/lib" -name __pycache__ -prune -exec rm -rf {} +
"$python" -m compileall -q -j 0 -o 0 -o 1 -o 2 "$work/lib" >/dev/null
echo
echo "== brp-pyc link on $(find "$work/lib" -name '*.pyc' | wc -l) caches of the standard library written by $("$python" -V), $(du -sh "$work/lib" | cut -f1) in all:"
"$brp" link --dry-run "$work/lib" | sed -n "1,3s|$work/||gp"
"$brp" link --json "$work/lib"
echo "== after: $(du -sh "$work/lib" | cut -f1); json/__pycache__ by inode:"
ls -1i "$work/lib/json/__pycache__" | sort -n | head -n 6
