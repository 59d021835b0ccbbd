#!/usr/bin/env bash
# Build the wheelhouse the images install from (pip install --no-index): for the given
# workspace packages, wheels of them and of every workspace package they need, built from the
# work tree, plus every runtime dependency at exactly the version uv.lock pins, as binary
# wheels for CPython 3.11 on manylinux x86_64 (what both Debian bookworm's Python and
# python:3.11-slim run). Written to a temporary folder first, so an interrupted run never
# leaves a half wheelhouse behind.
#
# usage: mk/wheelhouse.sh OUT UV PIP PACKAGE...
set -euo pipefail
out=$1 uv=$2 pip=$3
shift 3
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
started=$SECONDS

packages=()
for p in "$@"; do packages+=(--package "$p"); done
export_args=(--frozen --no-dev "${packages[@]}" --no-hashes --no-header --no-annotate
    --format requirements.txt)
# The closure's workspace members come out as "-e ./path" lines: build each one's wheel.
"$uv" export "${export_args[@]}" 2>/dev/null | sed -n 's|^-e \./||p' >"$tmp/members.txt"
[[ -s $tmp/members.txt ]] || { echo "wheelhouse: no workspace package found for: $*" >&2; exit 1; }
while read -r member; do
    "$uv" build --wheel --quiet -o "$tmp" "$member" 2>&1 | grep -v '^Successfully built' || true
done <"$tmp/members.txt"
rm "$tmp/members.txt"
ls "$tmp"/*.whl >/dev/null  # fails the build when uv built nothing
# Environment markers are dropped: pip would judge them against the host's Python (3.11.7),
# not the images' (Debian's 3.11.2 needs e.g. async-timeout, marked python < 3.11.3). A wheel
# an image does not need is simply never installed.
"$uv" export "${export_args[@]}" --no-emit-workspace 2>/dev/null | sed 's/ *;.*$//' \
    >"$tmp/requirements.txt"

# --no-deps: the export already is the whole closure. PIP_FIND_LINKS is cleared so only the
# index (through the host's certificates) is used; pip's own cache makes re-runs fast.
PIP_FIND_LINKS="" "$pip" download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -r "$tmp/requirements.txt" -d "$tmp"

rm -rf "$out"
mv "$tmp" "$out"
echo "wheelhouse $out: $(ls "$out"/*.whl | wc -l) wheels, $(du -sh "$out" | cut -f1), built in $((SECONDS - started)) s"
