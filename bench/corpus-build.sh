#!/usr/bin/env bash
# Inside a chroot of .ci/run (run by bench/corpus.sh): builds each spec of WORK/specs.txt with
# Fedora's configuration and brp-pyc (make install into a scratch configuration), the
# distribution's switch off and on, and prints one row per spec (tab-separated):
#   spec, builds off, builds on, what the switch said, owner built, caches real once,
#   every cache of a bytecode subpackage a %ghost of the one package that ships its source,
#   new warnings, bytes installed off (all packages),
#   bytes of the packages a default install brings (all but the bytecode subpackages no
#   package supplements), bytes without weak dependencies (no bytecode subpackage), and what
#   dnf did with the switch's packages in a local repository: every package installable
#   (all of them at once into an empty root), and `dnf install OWNER` bringing its opt-0
#   package and no other level ("yes", or what is wrong).
# Usage: bench/corpus-build.sh WORK WHEELS
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/dnf-repo.sh
. bench/dnf-repo.sh
work=$1
wheels=$2
config=/tmp/brp-pyc-corpus-config
BINARY=$PWD/target/release/brp-pyc bash tests/fedora/setup-config.sh "$work/fedora-rpm-config" "$config" >/dev/null
# Build backends and what the builds import, from wheels downloaded on the host, into the
# configuration's venv (%__python3), not into the chroot's own Python.
# shellcheck disable=SC2046
/usr/bin/python3 -m pip --python "$config/venv/bin/python3" install -q --no-index --find-links "$wheels" \
    $(cat "$work/backends.txt") >/dev/null 2>&1 || echo "corpus: some backends did not install" >&2
# Programs Fedora installs in /usr/bin and builds run from PATH: sphinx-build-3 (python3-sphinx),
# uv-build (python3-uv-build; its backend finds it with shutil.which), pybabel (python3-babel).
mkdir -p "$config/bin"
ln -sf "$config/venv/bin/sphinx-build" "$config/bin/sphinx-build-3"
ln -sf "$config/venv/bin/uv-build" "$config/bin/uv-build"
ln -sf "$config/venv/bin/pybabel" "$config/bin/pybabel"

# rpm's own warnings of a build log, without the host name one of the chroots.
warnings() {
    grep -E '^warning: ' "$1" | grep -v 'canonicalize hostname' | sort -u
}

# Whether each cache a bytecode subpackage ships is a %ghost of exactly one other package, and
# that package ships the cache's source (DIR/__pycache__/MOD.TAG[.opt-N].pyc -> DIR/MOD.py):
# "yes", or how many are not and the first of them.
ghost_beside_source() {
    local p
    for p in "$@"; do
        rpm -qp --qf "[$(basename "$p")\t%{FILENAMES}\t%{FILEFLAGS:fflags}\t%{FILEMODES:perms}\n]" "$p"
    done | python3 -c '
import sys
ghosts, shipped, caches = {}, {}, []
for line in sys.stdin:
    package, path, flags, mode = line.rstrip("\n").split("\t")
    if "-bytecode-opt-" in package:
        if path.endswith(".pyc"):
            caches.append(path)
    elif "g" in flags:
        ghosts.setdefault(path, []).append(package)
    elif not mode.startswith("d"):
        shipped.setdefault(package, set()).add(path)
wrong = []
for cache in caches:
    pycache, name = cache.rsplit("/", 1)
    source = pycache.rsplit("/", 1)[0] + "/" + name.split(".", 1)[0] + ".py"
    owners = ghosts.get(cache, [])
    if len(owners) != 1:
        wrong.append(f"{cache}: a %ghost of {len(owners)} packages")
    elif source not in shipped.get(owners[0], ()):
        wrong.append(f"{cache}: {owners[0]} ships no {source}")
print(f"no: {len(wrong)}: {wrong[0]}" if wrong else "yes")'
}

# dnf over one build's packages: a local repository of them and of a package standing in for
# the system (it provides every name the other packages require from outside), every package installed at
# once into an empty root, then each owner alone into another: its opt-0 package comes with it
# (a weak dependency), no other level does. Prints "yes" or what went wrong.
dnf_check() {
    local repo=$work/repo root=$work/root p owner opt0 installed names
    rm -rf "$root"
    local_repo "$repo" "" "$@" || { echo "no: the stand-in did not build"; return; }
    dnf_into() { dnf_install "$1" "$repo" "${@:2}" >"$work/dnf.log" 2>&1; }
    dnf_said() { grep -m1 -E 'nothing provides|conflicts? with|No match' "$work/dnf.log" || tail -n 1 "$work/dnf.log"; }
    mapfile -t names < <(for p in "$@"; do rpm -qp --qf '%{NAME}\n' "$p"; done)
    dnf_into "$root" "${names[@]}" || { echo "no: not installable: $(dnf_said)"; return; }
    # Each owner a bytecode subpackage requires, and its opt-0 package by the name the split gives.
    for owner in $(for p in "$@"; do
        case $p in *-bytecode-opt-*) rpm -qp --qf '[%{REQUIRENAME}\n]' "$p" | grep -v -e '^rpmlib(' -e '^python(abi)' ;; esac
    done | sort -u); do
        opt0=$owner-bytecode-opt-0
        rm -rf "$root"
        dnf_into "$root" "$owner" || { echo "no: dnf install $owner: $(dnf_said)"; return; }
        installed=$(rpm --root "$root" -qa --qf '%{NAME}\n' | sort)
        printf '%s\n' "$installed" | grep -qx -- "$opt0" || { echo "no: dnf install $owner brings no $opt0"; return; }
        if printf '%s\n' "$installed" | grep -q -- '-bytecode-opt-[12]$'; then
            echo "no: dnf install $owner brings $(printf '%s\n' "$installed" | grep -- '-bytecode-opt-[12]$' | head -n 1)"
            return
        fi
    done
    echo yes
}

build() {
    local spec=$1 mode=$2
    local top=$work/top-$mode
    rm -rf "$top"
    mkdir -p "$top/SOURCES"
    cp "$work/sources/$3" "$top/SOURCES/"
    RPM_CONFIGDIR=$config/config PATH=$config/bin:/usr/bin:/bin rpmbuild -bb --nodeps --nocheck \
        --macros "$(cat "$config/macro-path")" --define "_topdir $top" --define "_buildshell /bin/bash" \
        --define "__python3 $config/venv/bin/python3" --define "debug_package %{nil}" \
        --define "_buildhost build.example.org" --define "_brp_pyc_split_pyproject $mode" \
        "$work/specs/$spec" >"$work/log-$spec-$mode" 2>&1
}

while read -r spec file; do
    [[ $spec =~ ${CORPUS_ONLY:-.} ]] || continue
    build "$spec" 0 "$file"
    off=$?
    build "$spec" 1 "$file"
    on=$?
    said=$(grep -m1 -o "brp-pyc: .*(the distribution's switch).*" "$work/log-$spec-1" | cut -c1-90)
    owner_built=- once=- ghosts=- new=- bytes_off=- bytes_default=- bytes_bare=- dnf=-
    if [ "$off" = 0 ] && [ "$on" = 0 ]; then
        mapfile -t packages < <(find "$work/top-1/RPMS" -name '*.rpm' | sort)
        mapfile -t subpackages < <(printf '%s\n' "${packages[@]}" | grep -- '-bytecode-opt-' || true)
        mapfile -t rest < <(printf '%s\n' "${packages[@]}" | grep -v -- '-bytecode-opt-' || true)
        names=$(for p in "${packages[@]}"; do rpm -qp --qf '%{NAME}\n' "$p"; done | sort)
        owner_built=yes
        for p in "${subpackages[@]}"; do
            for r in $(rpm -qp --qf '[%{REQUIRENAME}\n]' "$p" | grep -v '^rpmlib(' | grep -v '^python(abi)'); do
                printf '%s\n' "$names" | grep -qx "$r" || owner_built="no: $r"
            done
        done
        real=$(for p in "${packages[@]}"; do rpm -qp --qf '[%{FILENAMES}\t%{FILEFLAGS:fflags}\n]' "$p"; done |
            awk -F'\t' '$1 ~ /\.pyc$/ && $2 !~ /g/ { print $1 }' | sort)
        [ -z "$(printf '%s\n' "$real" | uniq -d)" ] && once=yes || once=no
        [ "${#subpackages[@]}" -gt 0 ] && ghosts=$(ghost_beside_source "${packages[@]}")
        new=$(comm -13 <(warnings "$work/log-$spec-0") <(warnings "$work/log-$spec-1") | wc -l)
        bytes_off=$(installed_bytes $(find "$work/top-0/RPMS" -name '*.rpm'))
        default=("${rest[@]}")
        for p in "${subpackages[@]}"; do
            rpm -qp --qf '[%{SUPPLEMENTS}\n]' "$p" | grep -q . && default+=("$p")
        done
        bytes_default=$(installed_bytes "${default[@]}")
        bytes_bare=$(installed_bytes "${rest[@]}")
        [ "${#subpackages[@]}" -gt 0 ] && dnf=$(dnf_check "${packages[@]}")
    elif [ "$off" != 0 ]; then
        # Why it does not build even without the switch: the first error of its log.
        said="does not build: $(grep -m1 -E '^error: (File|Bad)|[Ee]rror:|not found|No module' "$work/log-$spec-0" | cut -c1-120)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$spec" "$off" "$on" "${said:-(no line)}" \
        "$owner_built" "$once" "$ghosts" "$new" "$bytes_off" "$bytes_default" "$bytes_bare" "$dnf"
done <"$work/specs.txt"
