#!/usr/bin/env bash
# The distribution's switch over a corpus of real Fedora specs (../shared/corpus, 40 specs):
# each built in the chroots of .ci/run (trixie: rpm 4.20, sid: rpm 6.1) with Fedora's rpm
# configuration and brp-pyc, %_brp_pyc_split_pyproject 0 and 1, one row per spec
# (bench/corpus-build.sh says what each column is) and the sums.
#
#   bash bench/corpus.sh [SUITE...]      (default: trixie sid)
#
# On the host first: each spec's sdist (`pip download --no-deps --no-binary :all:`, the
# Source its %{pypi_source} names) and the build backends as wheels; the chroots get no
# network. Builds run with --nodeps --nocheck (Debian's rpm database knows no Fedora package;
# %check would need every runtime dependency). Needs the chroots .ci/run made (CI_CHROOTS).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd -P)
suites=${*:-trixie sid}
corpus=$(realpath -m "${BRP_PYC_CORPUS:-$checkout/../shared/corpus}")
fedora=$(realpath -m "${FEDORA_RPM_CONFIG:-$checkout/../shared/fedora-rpm-config}")
chroots=${CI_CHROOTS:-/var/tmp/brp-pyc-ci}
work=$checkout/target/corpus-run
mkdir -p "$work/sources" "$work/wheels" "$work/specs"
cp "$corpus"/specs/*.spec "$work/specs/"
rm -rf "$work/fedora-rpm-config"
cp -r "$fedora" "$work/fedora-rpm-config"
cargo build --release --quiet

# Each spec's source: NAME and VERSION from the file name its Source expands to.
host_config=$work/host-config
BINARY=$checkout/target/release/brp-pyc bash tests/fedora/setup-config.sh "$fedora" "$host_config" >/dev/null
: >"$work/specs.txt"
for spec in "$work"/specs/*.spec; do
    url=$(RPM_CONFIGDIR=$host_config/config rpmspec -P --macros "$(cat "$host_config/macro-path")" "$spec" 2>/dev/null |
        grep -iE '^Source0?:' | head -n 1 | awk '{ print $2 }')
    file=$(basename "$url")
    stem=${file%.tar.gz}
    stem=${stem%.zip}
    echo "$(basename "$spec") ${stem%-*} ${stem##*-} $file" >>"$work/specs.txt"
    [ -s "$work/sources/$file" ] || pip download -q --no-deps --no-binary :all: "${stem%-*}==${stem##*-}" \
        -d "$work/sources" >/dev/null 2>&1 || echo "corpus: $(basename "$spec"): no source from PyPI" >&2
done
# The build backends the corpus uses, and what they import.
echo "setuptools wheel hatchling hatch-vcs hatch-fancy-pypi-readme flit-core poetry-core pdm-backend setuptools-scm" \
    >"$work/backends.txt"
pip download -q -d "$work/wheels" $(cat "$work/backends.txt") >/dev/null

# As .ci/run's in_chroot: the checkout bound at the same path in a private mount namespace.
in_chroot() {
    local dir=$chroots/$1
    shift
    mkdir -p "$dir$checkout"
    unshare --mount --propagation private -- sh -c '
        dir=$1 checkout=$2; shift 2
        mount -t proc proc "$dir/proc" && mount --rbind /dev "$dir/dev" && mount --bind "$checkout" "$dir$checkout" || exit 1
        exec chroot "$dir" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LANG=C.UTF-8 TMPDIR=/tmp sh -c "cd \"\$0\" && exec \"\$@\"" "$checkout" "$@"
    ' sh "$dir" "$checkout" "$@"
}

for suite in $suites; do
    [ -d "$chroots/$suite" ] || { echo "corpus: no chroot $chroots/$suite (run .ci/run first)" >&2; exit 2; }
    echo "== $suite: $(in_chroot "$suite" rpm --version)"
    printf 'spec\toff\ton\tthe build log\towner built\treal once\tghost in owner\tnew warnings\tbytes off\tbytes default\tbytes bare\n'
    in_chroot "$suite" bash bench/corpus-build.sh "$work" | tee "$work/rows-$suite.tsv"
    awk -F'\t' '
        { n++ } $2 == 0 { off++ } $2 == 0 && $3 == 0 { both++ } $4 ~ /: split/ { split_++ }
        $5 != "yes" && $5 != "-" { bad_owner++ } $6 == "no" || $7 ~ /^no/ { bad_caches++ } $8 > 0 { warned++ }
        $9 != "-" { off_kib += $9; default_kib += $10; bare_kib += $11 }
        END {
            printf "%d specs: %d build off, %d both ways, %d split; owner missing %d, caches wrong %d, new warnings %d\n",
                n, off, both, split_, bad_owner, bad_caches, warned
            if (off_kib > 0)
                printf "installed, specs built both ways: %.0f KiB unsplit, default install %.0f KiB (%+.1f %%), without weak dependencies %.0f KiB (%+.1f %%)\n",
                    off_kib / 1024, default_kib / 1024, 100 * (default_kib - off_kib) / off_kib, bare_kib / 1024, 100 * (bare_kib - off_kib) / off_kib
        }' "$work/rows-$suite.tsv"
done
