#!/usr/bin/env bash
# Shows brp-pyc doing its real job on real caches: part of this machine's Python standard
# library is copied to a scratch directory, compiled at the three optimization levels by the
# interpreter itself, then linked by brp-pyc; sizes and one __pycache__ are shown before/after.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
brp=target/release/brp-pyc
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/lib"
for pkg in json email http logging collections importlib concurrent urllib xml asyncio unittest; do
    cp -r "$stdlib/$pkg" "$work/lib/"
done
find "$work/lib" -name __pycache__ -prune -exec rm -rf {} +
python3 -m compileall -q -j 0 -o 0 -o 1 -o 2 "$work/lib" >/dev/null
echo "== $(find "$work/lib" -name '*.pyc' | wc -l) caches written by $(python3 -V), $(du -sh "$work/lib" | cut -f1) in all"
echo "== brp-pyc link --dry-run (first lines):"
"$brp" link --dry-run "$work/lib" | sed -n "1,5s|$work/||p"
echo "== brp-pyc link --json:"
"$brp" link --json "$work/lib"
echo "== after: $(du -sh "$work/lib" | cut -f1); json/__pycache__ by inode:"
ls -1i "$work/lib/json/__pycache__" | sort -n | head -n 9
echo "== a second run finds everything linked:"
"$brp" link --json "$work/lib"
