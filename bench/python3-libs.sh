#!/usr/bin/env bash
# The change proposal's own package, re-measured: Fedora's python3-libs (the %files sections of
# python3.14.spec, bench/python3-libs/python3.14-libs.spec) built unsplit and split in three
# lines, installed with dnf from local repositories, and the proposal's table for this build
# (the installed size of the standard library: status quo, default, no cache, levels 0 and 1,
# all levels, beside its Python 3.9 figures), Python's start-up time with and without the
# level-0 package (as root and as a user), and the checks of the installed root.
#
#   bash bench/python3-libs.sh [SUITE]        (default: sid, whose Python 3.14 stands in)
#   PYTHON3_LIBS_REUSE=1 bash bench/python3-libs.sh    (the packages of the last run, not rebuilt)
#
# Needs the chroots .ci/run makes (CI_CHROOTS); run it on a quiet machine: the start-up times
# are wall-clock times of 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd -P)
suite=${1:-sid}
fedora=$(realpath -m "${FEDORA_RPM_CONFIG:-$checkout/../shared/fedora-rpm-config}")
work=$checkout/target/python3-libs-run
mkdir -p "$work"
rm -rf "$work/fedora-rpm-config"
cp -r "$fedora" "$work/fedora-rpm-config"
cargo build --release --quiet
# shellcheck source=bench/in-chroot.sh
. bench/in-chroot.sh
[ -d "$chroots/$suite" ] || { echo "python3-libs: no chroot $chroots/$suite (run .ci/run first)" >&2; exit 2; }
in_chroot "$suite" env PYTHON3_LIBS_REUSE="${PYTHON3_LIBS_REUSE:-}" bash bench/python3-libs-run.sh "$work"
