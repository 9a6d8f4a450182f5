# Sourced by the benchmarks that install what they built with dnf (bench/corpus-build.sh,
# bench/python3-libs-run.sh), inside a chroot of .ci/run: a local repository of the packages
# and of a package standing in for the system, dnf into an empty root, sizes. Uses $work.

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

# The names the packages other than the bytecode subpackages require and none of the packages
# provides, each once, without its version: the names inside a rich dependency
# `(A >= 1 with A < 2)` too. What the bytecode subpackages require must come from the build.
outside_names() {
    local p
    for p in "$@"; do rpm -qp --qf '[%{PROVIDENAME}\n]' "$p"; done | sort -u >"$work/provided"
    for p in "$@"; do
        case $p in *-bytecode-opt-*) ;; *) rpm -qp --qf '[%{REQUIRENAME}\n]' "$p" ;; esac
    done | grep -v '^rpmlib(' | python3 -c '
import re, sys
names = set()
for line in map(str.strip, sys.stdin):
    if not line.startswith("("):
        names.add(line)
        continue
    version_next = False
    for token in re.findall(r"[^\s()]+\([^\s()]*\)|[^\s()]+", line):
        if version_next:
            version_next = False
        elif token in ("<", ">", "=", "<=", ">="):
            version_next = True
        elif token not in ("with", "without", "and", "or", "if", "else", "unless"):
            names.add(token)
print("\n".join(sorted(names)))' | sort -u | comm -23 - "$work/provided"
}

# A local repository REPO of the packages (paths) and of "system-stand-in", which provides every
# name they require from outside (rpm's database here knows no Fedora package); EXTRA is spec
# text added to the stand-in's (a %install and files of its own, say). Fails when it does not
# build.
local_repo() {
    local repo=$1 extra=$2 top
    shift 2
    top=$work/system-top
    rm -rf "$repo" "$top"
    mkdir -p "$repo"
    cp "$@" "$repo/"
    {
        # Its own files need nothing and provide nothing but what is listed.
        printf 'Name: system-stand-in\nVersion: 1\nRelease: 1\nSummary: what the packages need\nLicense: MIT\nAutoReqProv: no\n'
        [ -n "$extra" ] || printf 'BuildArch: noarch\n'
        outside_names "$@" | grep . | sed 's/^/Provides: /'
        printf '%%description\nStands for the system.\n'
        if [ -n "$extra" ]; then printf '%s\n' "$extra"; else printf '%%files\n'; fi
    } >"$work/system.spec"
    rpmbuild -bb --quiet --define "_topdir $top" --define "debug_package %{nil}" "$work/system.spec" \
        >"$work/system.log" 2>&1 || return 1
    cp "$top"/RPMS/*/*.rpm "$repo/"
    createrepo_c -q "$repo" >/dev/null
}

# dnf install NAMES... (and options: --setopt=install_weak_deps=False) from REPO alone into ROOT.
dnf_install() {
    local root=$1 repo=$2
    shift 2
    dnf -y -q --installroot="$root" --releasever=1 --setopt=reposdir=/dev/null --nogpgcheck --repo=local \
        --repofrompath=local,"$repo" install "$@"
}
