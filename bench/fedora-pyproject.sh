#!/usr/bin/env bash
# Builds a real Python project as Fedora would (%pyproject_wheel, %pyproject_install,
# %pyproject_save_files on Fedora's own rpm configuration, brp-pyc installed by make install)
# with one bytecode subpackage per level, then prints the installed size of each package and
# of Fedora's default install (main package + opt-0) with `brp-pyc stats --together`.
#
# Usage: bench/fedora-pyproject.sh FEDORA_FILES [PACKAGE_DIR [VERSION]]
#   FEDORA_FILES: the fedora-rpm-config directory (redhat-rpm-config, python-rpm-macros,
#   pyproject-rpm-macros); PACKAGE_DIR: an importable package directory to build (default:
#   Debian's /usr/lib/python3/dist-packages/pygments); VERSION: its version (default 1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
fedora=$(realpath "$1")
package_dir=$(realpath "${2:-/usr/lib/python3/dist-packages/pygments}")
version=${3:-1.0}
name=$(basename "$package_dir")
work=$(mktemp -d "${TMPDIR:-/tmp}/brp-pyc-fedora.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cargo build --release --quiet
BINARY=$PWD/target/release/brp-pyc tests/fedora/setup-config.sh "$fedora" "$work/fedora"

# The project: the package's sources (no caches) and a minimal setuptools pyproject.toml.
src=$work/$name-$version
mkdir -p "$src" "$work/top/SOURCES"
cp -a "$package_dir" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "%s"\nversion = "%s"\n\n[tool.setuptools.packages.find]\ninclude = ["%s*"]\n' \
    "$name" "$version" "$name" > "$src/pyproject.toml"
tar czf "$work/top/SOURCES/$name-$version.tar.gz" -C "$work" "$name-$version"

sub() { printf '%%package -n python3-%s-bytecode-opt-%s\nSummary: Level %s caches\n%%description -n python3-%s-bytecode-opt-%s\nLevel %s.\n' "$name" "$1" "$1" "$name" "$1" "$1"; }
cat > "$work/$name.spec" <<SPEC
Name: python-$name
Version: $version
Release: 1
Summary: $name
License: MIT
BuildArch: noarch
Source0: $name-$version.tar.gz
%description
$name.
%package -n python3-$name
Summary: $name
%description -n python3-$name
$name.
$(sub 0)
$(sub 1)
$(sub 2)
%prep
%autosetup -n $name-$version
%build
%pyproject_wheel
%install
%pyproject_install
%pyproject_save_files -L $name
%py_bytecode_split -l 0,1,2
%files -n python3-$name -f %{pyproject_files} -f %{py_bytecode_ghost_files}
%files -n python3-$name-bytecode-opt-0 -f %py_bytecode_files 0
%files -n python3-$name-bytecode-opt-1 -f %py_bytecode_files 1
%files -n python3-$name-bytecode-opt-2 -f %py_bytecode_files 2
%changelog
* Tue Dec 01 2026 Packager <p@example.org> - $version-1
- Built.
SPEC

PATH=/usr/bin:/bin:/usr/sbin:/sbin RPM_CONFIGDIR=$work/fedora/config rpmbuild -bb --quiet \
    --macros "$(cat "$work/fedora/macro-path")" --define "_topdir $work/top" \
    --define "_buildshell /bin/bash" --define "__python3 $work/fedora/venv/bin/python3" \
    --define "debug_package %{nil}" "$work/$name.spec" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }

brp=target/release/brp-pyc
rpms=$work/top/RPMS/noarch
main=$rpms/python3-$name-$version-1.noarch.rpm
opt() { echo "$rpms/python3-$name-bytecode-opt-$1-$version-1.noarch.rpm"; }
shipped() { "$brp" stats --together --json "$@" | python3 -c 'import json, sys; print(json.load(sys.stdin)["layouts"]["shipped"])'; }
printf '%-28s %12s\n' INSTALL BYTES
printf '%-28s %12s\n' main "$(shipped "$main")"
for level in 0 1 2; do printf '%-28s %12s\n' "opt-$level" "$(shipped "$(opt $level)")"; done
printf '%-28s %12s\n' "main + opt-0 (default)" "$(shipped "$main" "$(opt 0)")"
printf '%-28s %12s\n' "all four" "$(shipped "$main" "$(opt 0)" "$(opt 1)" "$(opt 2)")"
echo
"$brp" stats --together "$main" "$(opt 0)" "$(opt 1)" "$(opt 2)"
