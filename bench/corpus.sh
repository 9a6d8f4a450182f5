#!/usr/bin/env bash
# The distribution's switch over a corpus of real Fedora specs (../shared/corpus, 40 specs):
# each built in the chroots of .ci/run (trixie: rpm 4.20, sid: rpm 6.1) with Fedora's rpm
# configuration and brp-pyc, %_brp_pyc_split_pyproject 0 and 1, one row per spec
# (bench/corpus-build.sh says what each column is) and the sums.
#
#   bash bench/corpus.sh [SUITE...]      (default: trixie sid)
#   CORPUS_ONLY=REGEX bash bench/corpus.sh trixie    (only the specs whose file name matches)
#
# On the host first: each spec's sdist (the URL its Source expands to) and what the builds
# take from PyPI, as wheels for each chroot's Python; the builds fetch nothing. Builds run
# with --nodeps --nocheck (Debian's rpm database knows no Fedora package; %check would need
# every runtime dependency). Needs the chroots .ci/run made (CI_CHROOTS).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd -P)
suites=${*:-trixie sid}
corpus=$(realpath -m "${BRP_PYC_CORPUS:-$checkout/../shared/corpus}")
fedora=$(realpath -m "${FEDORA_RPM_CONFIG:-$checkout/../shared/fedora-rpm-config}")
work=$checkout/target/corpus-run
mkdir -p "$work/sources" "$work/specs"
cp "$corpus"/specs/*.spec "$work/specs/"
rm -rf "$work/fedora-rpm-config"
cp -r "$fedora" "$work/fedora-rpm-config"
cargo build --release --quiet

# Each spec's source: the file its Source expands to (.../source/P/PROJECT/FILE), found in
# PyPI's simple index of PROJECT (the index pip reads; the /source/ address is not served
# here) and checked against the digest the index gives. Nothing is built: pip download would
# build thonny's uv_build from source to read its metadata.
fetch_sdist() {
    python3 - "$@" <<'PYTHON'
import hashlib, re, sys, urllib.request
url, target = sys.argv[1:]
project, file = url.split("/")[-2:]
page = urllib.request.urlopen(f"https://pypi.org/simple/{project}/").read().decode()
for link in re.findall(r'href="([^"]+)"', page):
    address, _, digest = link.partition("#sha256=")
    if address.endswith("/" + file):
        data = urllib.request.urlopen(address).read()
        if hashlib.sha256(data).hexdigest() != digest:
            sys.exit(f"{file}: digest differs from the index's")
        open(target, "wb").write(data)
        sys.exit(0)
sys.exit(f"{file}: not in the index of {project}")
PYTHON
}
host_config=$work/host-config
BINARY=$checkout/target/release/brp-pyc bash tests/fedora/setup-config.sh "$fedora" "$host_config" >/dev/null
: >"$work/specs.txt"
for spec in "$work"/specs/*.spec; do
    url=$(RPM_CONFIGDIR=$host_config/config rpmspec -P --macros "$(cat "$host_config/macro-path")" "$spec" 2>/dev/null |
        grep -iE '^Source0?:' | head -n 1 | awk '{ print $2 }')
    file=$(basename "$url")
    echo "$(basename "$spec") $file" >>"$work/specs.txt"
    [ -s "$work/sources/$file" ] || fetch_sdist "$url" "$work/sources/$file" ||
        echo "corpus: $(basename "$spec"): no source at $url" >&2
done
# What the builds need from PyPI, as wheels for each chroot's Python: the build backends the
# corpus uses, what setup.py files import (versioneer, jupyter_packaging), and Sphinx with the
# themes and the imports (django) the documentation builds ask for. poetry-core 2.5.0 writes a
# Requires-Dist no packaging parses (mailman3-fedmsg-plugin's `^6.2 || ^7.0.0` becomes
# `(>=6.2,<7.0 || >=7.0.0,<8.0.0)`; 2.1.3 to 2.4.0 write `(>=6.2,<8.0.0)`): the harness keeps
# the one before it.
echo "setuptools wheel hatchling hatch-vcs hatch-fancy-pypi-readme flit-core poetry-core<2.5 pdm-backend setuptools-scm" \
    "uv-build versioneer jupyter-packaging sphinx sphinx-rtd-theme furo django" >"$work/backends.txt"
# shellcheck source=bench/in-chroot.sh
. bench/in-chroot.sh

for suite in $suites; do
    [ -d "$chroots/$suite" ] || { echo "corpus: no chroot $chroots/$suite (run .ci/run first)" >&2; exit 2; }
    python=$(in_chroot "$suite" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    wheels=$work/wheels-$python
    mkdir -p "$wheels"
    # shellcheck disable=SC2046
    pip download -q -d "$wheels" --only-binary :all: --python-version "$python" --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
        $(cat "$work/backends.txt") >/dev/null
    # Debian's programs for what the specs run: unzip (zip sdists), pandoc (rebase-helper's man
    # page), desktop-file-utils (thonny); dnf and createrepo-c for the installs (.ci/run's).
    in_chroot "$suite" sh -c 'command -v unzip && command -v pandoc && command -v desktop-file-install ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends unzip pandoc desktop-file-utils' >/dev/null
    echo "== $suite: $(in_chroot "$suite" rpm --version)"
    printf 'spec\toff\ton\tthe build log\towner built\treal once\tghost beside source\tnew warnings\tbytes off\tbytes default\tbytes bare\tdnf\n'
    in_chroot "$suite" env CORPUS_ONLY="${CORPUS_ONLY:-.}" bash bench/corpus-build.sh "$work" "$wheels" | tee "$work/rows-$suite.tsv"
    awk -F'\t' '
        { n++ } $2 == 0 { off++ } $2 == 0 && $3 == 0 { both++ } $4 ~ /: split/ { split_++ }
        $5 != "yes" && $5 != "-" { bad_owner++ } $6 == "no" || $7 ~ /^no/ { bad_caches++ } $8 > 0 { warned++ } $12 == "yes" { dnf_ok++ } $12 ~ /^no/ { dnf_bad++ }
        $9 != "-" { off_kib += $9; default_kib += $10; bare_kib += $11 }
        END {
            printf "%d specs: %d build off, %d both ways, %d split; owner missing %d, caches wrong %d, new warnings %d; dnf: owner and opt-0 %d, wrong %d\n",
                n, off, both, split_, bad_owner, bad_caches, warned, dnf_ok, dnf_bad
            if (off_kib > 0)
                printf "installed, specs built both ways: %.0f KiB unsplit, default install %.0f KiB (%+.1f %%), without weak dependencies %.0f KiB (%+.1f %%)\n",
                    off_kib / 1024, default_kib / 1024, 100 * (default_kib - off_kib) / off_kib, bare_kib / 1024, 100 * (bare_kib - off_kib) / off_kib
        }' "$work/rows-$suite.tsv"
done
