#!/usr/bin/env bash
# Inside a chroot of .ci/run with Python 3.14 (run by bench/python3-libs.sh): builds the
# python3-libs stand-in unsplit and split on Fedora's configuration with brp-pyc, installs
# them with dnf into scratch roots and prints the proposal's tables. Usage: WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/dnf-repo.sh
. bench/dnf-repo.sh
work=$1
config=/tmp/brp-pyc-python3-libs-config
BINARY=$PWD/target/release/brp-pyc bash tests/fedora/setup-config.sh "$work/fedora-rpm-config" "$config" >/dev/null
spec=bench/python3-libs/python3.14-libs.spec
# The maintainer's three lines (bench/python3-libs/README.md; tests/python3_libs.rs applies the
# same), each of which must match one line.
sed -e 's|^%files -n %{pkgname}-libs$|%files -n %{pkgname}-libs -f %{py_bytecode_owner_files}|' \
    -e 's|^%pure_python_modules %{pylibdir}$|%py_bytecode_owns pure_python_modules %{pylibdir}|' \
    -e 's|^%global __brp_python_hardlink %{nil}$|%py_bytecode_split|' "$spec" >"$work/split.spec"
[ "$(diff "$spec" "$work/split.spec" | grep -c '^>')" = 3 ] || { echo "python3-libs: the three lines did not apply" >&2; exit 1; }
cp "$spec" "$work/unsplit.spec"

build() {
    local top=$work/top-$1
    rm -rf "$top"
    RPM_CONFIGDIR=$config/config rpmbuild -bb --macros "$(cat "$config/macro-path")" --define "_topdir $top" \
        --define "_buildshell /bin/bash" --define "__python3 $config/venv/bin/python3" --define "debug_package %{nil}" \
        --define "_buildhost build.example.org" "$work/$1.spec" >"$work/log-$1" 2>&1 ||
        { tail -n 30 "$work/log-$1" >&2; echo "python3-libs: the $1 build failed ($work/log-$1)" >&2; return 1; }
}
start=$SECONDS
if [ -n "${PYTHON3_LIBS_REUSE:-}" ] && [ -d "$work/top-split/RPMS" ] && [ -d "$work/top-unsplit/RPMS" ]; then
    echo "the packages of the last run, reused (PYTHON3_LIBS_REUSE)"
else
    build unsplit &
    unsplit=$!
    build split
    wait "$unsplit"
fi
echo "built unsplit and split in $((SECONDS - start)) s; split: $(find "$work/top-split/RPMS" -name '*.rpm' -printf '%f ')"
# rpm's warnings but the one about the configuration of the test data (tests/common/fedora.rs).
grep -E '^warning: ' "$work/log-split" | grep -v -e 'canonicalize hostname' -e '%clamp_mtime_to_source_date_epoch' &&
    { echo "python3-libs: rpm warned" >&2; exit 1; }

# The system: every name the packages require from outside, and Debian's python3.14 (a static
# interpreter) with the libraries it loads, as /usr/bin/python3.14; it finds Fedora's layout
# (/usr/lib64/python3.14) when told its platlibdir, PYTHONPLATLIBDIR=lib64.
libs=$(ldd /usr/bin/python3.14 | awk '$2 == "=>" { print $3 }')
system="%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib/x86_64-linux-gnu %{buildroot}/lib64
cp -p /usr/bin/python3.14 %{buildroot}/usr/bin/
ln -s python3.14 %{buildroot}/usr/bin/python3
for lib in $(echo $libs); do cp -pL \$lib %{buildroot}/usr/lib/x86_64-linux-gnu/; done
cp -pL /lib64/ld-linux-x86-64.so.2 %{buildroot}/lib64/
%files
/usr/bin/python3*
/usr/lib/x86_64-linux-gnu/*
/lib64/ld-linux-x86-64.so.2"
for kind in unsplit split; do
    mapfile -t packages < <(find "$work/top-$kind/RPMS" -name '*.rpm' | sort)
    local_repo "$work/repo-$kind" "$system" "${packages[@]}" ||
        { cat "$work/system.log" >&2; echo "python3-libs: the system stand-in did not build" >&2; exit 1; }
done

# Installs into a fresh root $work/root-NAME from repository KIND: dnf install ARGS...
install_root() {
    local name=$1 kind=$2 root=$work/root-$1
    shift 2
    rm -rf "$root"
    dnf_install "$root" "$work/repo-$kind" "$@" >"$work/dnf-$name.log" 2>&1 ||
        { tail -n 20 "$work/dnf-$name.log" >&2; echo "python3-libs: dnf install $* failed" >&2; exit 1; }
}
# The bytes of python3-libs and its bytecode packages installed in root NAME, from the packages
# dnf installed (each stored copy once: installed_bytes).
libs_bytes() {
    local root=$work/root-$1 kind=$2 name paths=()
    for name in $(rpm --root "$root" -qa --qf '%{NAME}\n' | grep '^python3-libs'); do
        paths+=("$(find "$work/top-$kind/RPMS" -name "$name-[0-9]*.rpm")")
    done
    installed_bytes "${paths[@]}"
}
install_root status-quo unsplit python3-libs
install_root default split python3-libs
install_root no-cache split --setopt=install_weak_deps=False python3-libs
install_root levels-0-1 split python3-libs python3-libs-bytecode-opt-1
install_root all split python3-libs python3-libs-bytecode-opt-1 python3-libs-bytecode-opt-2
echo
echo "installed: $(rpm --root "$work/root-default" -qa --qf '%{NAME} ' | tr ' ' '\n' | grep '^python3' | sort | tr '\n' ' ')"
echo
echo "| python3-libs installed | this build (Python 3.14 stand-in) | change | the proposal (Python 3.9) |"
echo "|---|---:|---:|---|"
base=$(libs_bytes status-quo unsplit)
row() {
    local label=$1 name=$2 theirs=$3 bytes
    bytes=$(libs_bytes "$name" "$4")
    awk -v l="$label" -v b="$bytes" -v s="$base" -v t="$theirs" 'BEGIN {
        change = (b == s) ? "" : sprintf("%+.2f MiB (%+.1f %%)", (b - s) / 1048576, 100 * (b - s) / s)
        printf "| %s | %.2f MiB | %s | %s |\n", l, b / 1048576, change, t }'
}
row "status quo (unsplit)" status-quo "31.84 MiB" unsplit
row "default (level 0)" default "-8.89 MiB (-27.9 %)" split
row "no cache" no-cache "-17.12 MiB (-53.8 %)" split
row "levels 0 and 1" levels-0-1 "-2.13 MiB" split
row "all levels" all "+4.50 MiB" split

# Python in an installed root: Debian's interpreter, Fedora's layout; as root or as nobody.
python_in() {
    local root=$work/root-$1 user=$2
    shift 2
    env -i PATH=/usr/bin:/bin PYTHONPLATLIBDIR=lib64 LANG=C.UTF-8 /usr/sbin/chroot --userspec="$user" "$root" /usr/bin/python3 "$@"
}
# Start-up times of `python3 -c CODE`: the first run and the median of the N after it, in ms.
# The driver runs in the root too (its own start is not timed).
# The driver runs with -B: it writes no cache itself.
startup() {
    python_in "$1" "$2" -B -c '
import statistics, subprocess, sys, time
code, n = sys.argv[1], 20
times = []
for _ in range(n + 1):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    times.append(1000 * (time.perf_counter() - start))
print(f"{times[0]:.1f}\t{statistics.median(times[1:]):.1f}")' "$3"
}
echo
echo "| start-up (ms: first run / median of the next 20) | with opt-0, user | with opt-0, root | without opt-0, user | without opt-0, root |"
echo "|---|---:|---:|---:|---:|"
# Users first: root's Python writes the missing caches into /usr (python3-libs owns them as
# %ghost), which the root without opt-0 then has.
for code in pass "import json, email, asyncio"; do
    cells=()
    for root_user in default:65534:65534 default:0:0 no-cache:65534:65534 no-cache:0:0; do
        IFS=: read -r name uid gid <<<"$root_user"
        cells+=("$(startup "$name" "$uid:$gid" "$code" | awk -F'\t' '{ printf "%s / %s", $1, $2 }')")
    done
    printf '| `python3 -c '"'"'%s'"'"'` | %s | %s | %s | %s |\n' "$code" "${cells[@]}"
done

# The installed roots, checked.
echo
pylib=/usr/lib64/python3.14
check() { if eval "$2"; then echo "yes: $1"; else echo "NO: $1"; failed=1; fi; }
failed=0
# Whether `python3 [OPTIONS] -v -c 'import json'` in root NAME, as a user, loads json's CACHE.
loads() {
    local out
    out=$(python_in "$1" 65534:65534 "${@:3}" -v -c 'import json' 2>&1)
    grep -qF "code object from '$pylib/json/__pycache__/$2'" <<<"$out"
}
check "python3 -v loads the level-0 caches (default install)" "loads default __init__.cpython-314.pyc"
install_root opt-1 split python3-libs python3-libs-bytecode-opt-1
check "python3 -O loads the level-1 caches once opt-1 is installed" "loads opt-1 __init__.cpython-314.opt-1.pyc -O"
check "python3 -OO loads the level-2 caches of the all-levels install" "loads all __init__.cpython-314.opt-2.pyc -OO"
for name in default levels-0-1 all no-cache status-quo; do
    check "rpm -V is clean for every package ($name)" "[ -z \"\$(rpm --root $work/root-$name -Va 2>&1)\" ]"
done
install_root remove split python3-libs
dnf -y -q --installroot="$work/root-remove" --setopt=reposdir=/dev/null remove python3-libs-bytecode-opt-0 >"$work/dnf-remove.log" 2>&1
check "dnf remove python3-libs-bytecode-opt-0 removes it and no other package" \
    "[ \"\$(rpm --root $work/root-remove -qa --qf '%{NAME}\n' | grep '^python3-libs' | sort | tr '\n' ' ')\" = 'python3-libs ' ]"
check "no level-0 cache of python3-libs is left" "[ -z \"\$(find $work/root-remove$pylib -name '*.cpython-314.pyc' ! -path '*/test/*' ! -path '*/idlelib/*' ! -path '*/tkinter/*')\" ]"
check "Python still works, as a user" "python_in remove 65534:65534 -c 'import json, email, asyncio; print(json.dumps([1]))' | grep -qx '\[1\]'"
python_in remove 0:0 -c 'import json' >/dev/null
check "as root it writes json's cache again, a %ghost of python3-libs" \
    "rpm --root $work/root-remove -qf $pylib/json/__pycache__/__init__.cpython-314.pyc | grep -q '^python3-libs-3'"
exit $failed
