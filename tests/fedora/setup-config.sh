#!/usr/bin/env bash
# Lays out Fedora's rpm configuration (redhat-rpm-config, python-rpm-macros,
# pyproject-rpm-macros, as Fedora installs them) in a scratch copy of this machine's rpm
# configuration directory, with brp-pyc installed into it by `make install`.
#
#   tests/fedora/setup-config.sh FEDORA_FILES DIR
#
# FEDORA_FILES: the unmodified files (three directories, one per package). DIR: created.
# $BINARY: a brp-pyc already built, installed instead of a release build.
# $BRP_PYC_RPM: the brp-pyc package (`make rpm`), installed with `rpm -i` into DIR/root, whose
#   usr/lib/rpm is then the configuration directory, instead of `make install` (nothing from
#   the checkout is installed); `rpm --root DIR/root --dbpath /var/lib/rpm -e brp-pyc` removes it.
# $BRP_PYC_INSTALL=none: brp-pyc is not installed at all (Fedora's own tools).
# Prints nothing; afterwards DIR/config is the rpm configuration directory (RPM_CONFIGDIR),
# DIR/macro-path the value for rpmbuild --macros, DIR/venv/bin/python3 the %__python3 whose
# site-packages is Fedora's /usr/lib/pythonX.Y/site-packages, DIR/prefix/bin/brp-pyc the binary.
set -euo pipefail
fedora=$(realpath "$1")
dir=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
dir=$(realpath "$dir")
config=$dir/config
rm -rf "$config" "$dir/root" "$dir/prefix"
if [ -n "${BRP_PYC_RPM:-}" ]; then
    # The configuration directory is the scratch root's, where rpm -i puts the package's files.
    mkdir -p "$dir/root/usr/lib"
    cp -a /usr/lib/rpm "$dir/root/usr/lib/rpm"
    ln -s root/usr/lib/rpm "$config"
    ln -s root/usr "$dir/prefix"
else
    cp -a /usr/lib/rpm "$config"
fi
install -d "$config/redhat" "$config/macros.d" "$config/fileattrs" "$config/lua/fedora/srpm" "$config/lua/fedora/rpm"

rh=$fedora/redhat-rpm-config
install -m 0644 "$rh/macros" "$rh/rpmrc" "$config/redhat/" 2>/dev/null || install -m 0644 "$rh/macros" "$config/redhat/"
for f in "$rh"/brp-* "$rh"/find-* "$rh"/dist.sh; do [ -e "$f" ] && install -m 0755 "$f" "$config/redhat/"; done
for f in "$rh"/macros.*; do install -m 0644 "$f" "$config/macros.d/"; done
for f in "$rh"/*.attr; do [ -e "$f" ] && install -m 0644 "$f" "$config/fileattrs/"; done
[ -e "$rh/common.lua" ] && install -m 0644 "$rh/common.lua" "$config/lua/fedora/"

py=$fedora/python-rpm-macros
for f in "$py"/macros.*; do install -m 0644 "$f" "$config/macros.d/"; done
install -m 0644 "$py/python.lua" "$config/lua/fedora/srpm/"
for f in "$py"/brp-* "$py"/*.py; do install -m 0755 "$f" "$config/redhat/"; done

pp=$fedora/pyproject-rpm-macros
install -m 0644 "$pp/macros.pyproject" "$pp/macros.aaa-pyproject-srpm" "$config/macros.d/"
install -m 0644 "$pp/pyproject_getopt.lua" "$config/lua/fedora/rpm/"
for f in "$pp"/pyproject_*.py; do install -m 0755 "$f" "$config/redhat/"; done

if [ -n "${BRP_PYC_RPM:-}" ]; then
    # rpm 6 checks signatures by default; the package is a local build, unsigned.
    rpm --root "$dir/root" --dbpath /var/lib/rpm --initdb
    rpm --root "$dir/root" --dbpath /var/lib/rpm --nodeps --nosignature -i "$BRP_PYC_RPM"
fi
# The copied files name /usr/lib/rpm; here that is the scratch directory. brp-pyc's files
# from the package name /usr/bin/brp-pyc: the scratch root's, which is DIR/prefix/bin/brp-pyc
# as with make install.
grep -rlZ /usr/lib/rpm "$config/redhat" "$config/macros.d/" | xargs -0 -r sed -i "s|/usr/lib/rpm|$config|g"
if [ -n "${BRP_PYC_RPM:-}" ]; then
    sed -i "s|/usr/bin/brp-pyc|$dir/prefix/bin/brp-pyc|g" "$config"/macros.d/macros.zz-brp-pyc* "$config/brp-pyc/brp-python-hardlink"
fi
# Debian's platform macros define the Python bytecompile macros that upstream rpm (Fedora's)
# does not; read after macros.d, they would override python-srpm-macros.
for platform in "$config"/platform/*/macros; do
    sed -i -e '/^%__brp_python_bytecompile/d' -e '/^%_python_bytecompile_extra/d' \
        -e '/^%_python_bytecompile_errors_terminate_build/d' "$platform"
done

# brp-pyc as a distribution would install it, into the scratch configuration (everything,
# rpmlint's filters too, below $dir: a test writes nothing outside its scratch directory).
# $BINARY (a brp-pyc already built) spares the release build.
[ -n "${BRP_PYC_RPM:-}" ] || [ "${BRP_PYC_INSTALL:-}" = none ] ||
    make -s -C "$repo" install DESTDIR= PREFIX="$dir/prefix" RPMCONFIGDIR="$config" RPMMACRODIR="$config/macros.d" \
    RPMLINTDIR="$dir/prefix/etc/xdg/rpmlint" \
    ${BINARY:+BINARY="$BINARY" CARGO=:} >/dev/null

# rpm's macro path with vendor redhat (lib/rpmrc.c), rooted at the scratch directory.
echo "$config/macros:$config/macros.d/macros.*:$config/platform/%{_target}/macros:$config/fileattrs/*.attr:$config/redhat/macros" > "$dir/macro-path"

# Fedora's sitelib is /usr/lib/pythonX.Y/site-packages: a venv of the system Python gives it.
# Made anew each time: a venv left by another system's Python would point at the wrong one.
rm -rf "$dir/venv"
/usr/bin/python3 -m venv --without-pip --system-site-packages "$dir/venv"
