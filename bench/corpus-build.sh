#!/usr/bin/env bash
# Inside a chroot of .ci/run (run by bench/corpus.sh): builds each spec of WORK/specs.txt with
# Fedora's configuration and brp-pyc (make install into a scratch configuration), the
# distribution's switch off and on, and prints one row per spec (tab-separated):
#   spec, builds off, builds on, what the switch said, owner built, caches real once,
#   every real cache a %ghost of the owner, new warnings, bytes installed off (all packages),
#   bytes of the packages a default install brings (all but the bytecode subpackages no
#   package supplements), bytes without weak dependencies (no bytecode subpackage).
# Usage: bench/corpus-build.sh WORK
set -uo pipefail
cd "$(dirname "$0")/.."
work=$1
config=/tmp/brp-pyc-corpus-config
BINARY=$PWD/target/release/brp-pyc bash tests/fedora/setup-config.sh "$work/fedora-rpm-config" "$config" >/dev/null
# Build backends and what the builds import, from wheels downloaded on the host, into the
# configuration's venv (%__python3), not into the chroot's own Python.
/usr/bin/python3 -m pip --python "$config/venv/bin/python3" install -q --no-index --find-links "$work/wheels" \
    $(cat "$work/backends.txt") >/dev/null 2>&1 || echo "corpus: some backends did not install" >&2

# Sum of the sizes in bytes of the packages' real regular files, each stored copy once.
installed_bytes() {
    local total=0 package
    for package in "$@"; do
        # Tab-separated: the flags of a file without any are empty.
        total=$((total + $(rpm -qp --qf '[%{LONGFILESIZES}\t%{FILEFLAGS:fflags}\t%{FILEINODES}\t%{FILEMODES:perms}\n]' "$package" |
            awk -F'\t' '$4 ~ /^-/ && $2 !~ /g/ && !seen[$3]++ { s += $1 } END { print s + 0 }')))
    done
    echo "$total"
}

# rpm's own warnings of a build log, without the host name one of the chroots.
warnings() {
    grep -E '^warning: ' "$1" | grep -v 'canonicalize hostname' | sort -u
}

build() {
    local spec=$1 mode=$2
    local top=$work/top-$mode
    rm -rf "$top"
    mkdir -p "$top/SOURCES"
    cp "$work/sources/$3" "$top/SOURCES/"
    RPM_CONFIGDIR=$config/config PATH=/usr/bin:/bin rpmbuild -bb --nodeps --nocheck \
        --macros "$(cat "$config/macro-path")" --define "_topdir $top" --define "_buildshell /bin/bash" \
        --define "__python3 $config/venv/bin/python3" --define "debug_package %{nil}" \
        --define "_buildhost build.example.org" --define "_brp_pyc_split_pyproject $mode" \
        "$work/specs/$spec" >"$work/log-$spec-$mode" 2>&1
}

while read -r spec _ _ file; do
    build "$spec" 0 "$file"
    off=$?
    build "$spec" 1 "$file"
    on=$?
    said=$(grep -m1 -o "brp-pyc: .*(the distribution's switch).*" "$work/log-$spec-1" | cut -c1-90)
    owner_built=- once=- ghosts=- new=- bytes_off=- bytes_default=- bytes_bare=-
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
        ghost=$(for p in "${rest[@]}"; do rpm -qp --qf '[%{FILENAMES}\t%{FILEFLAGS:fflags}\n]' "$p"; done |
            awk -F'\t' '$1 ~ /\.pyc$/ && $2 ~ /g/ { print $1 }' | sort -u)
        [ -z "$(printf '%s\n' "$real" | uniq -d)" ] && once=yes || once=no
        if [ "${#subpackages[@]}" -gt 0 ]; then
            in_subpackages=$(for p in "${subpackages[@]}"; do rpm -qp --qf '[%{FILENAMES}\n]' "$p"; done | sort)
            missing=$(comm -23 <(printf '%s\n' "$in_subpackages") <(printf '%s\n' "$ghost") | wc -l)
            [ "$missing" = 0 ] && ghosts=yes || ghosts="no: $missing"
        fi
        new=$(comm -13 <(warnings "$work/log-$spec-0") <(warnings "$work/log-$spec-1") | wc -l)
        bytes_off=$(installed_bytes $(find "$work/top-0/RPMS" -name '*.rpm'))
        default=("${rest[@]}")
        for p in "${subpackages[@]}"; do
            rpm -qp --qf '[%{SUPPLEMENTS}\n]' "$p" | grep -q . && default+=("$p")
        done
        bytes_default=$(installed_bytes "${default[@]}")
        bytes_bare=$(installed_bytes "${rest[@]}")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$spec" "$off" "$on" "${said:-(no line)}" \
        "$owner_built" "$once" "$ghosts" "$new" "$bytes_off" "$bytes_default" "$bytes_bare"
done <"$work/specs.txt"
