#!/bin/sh
# both.sh PROGRAM [ARGS]...: runs PROGRAM without zmm, then with LD_PRELOAD=$ZMM_LIB (and
# SWARM_EXPECT_ZMM=1, which the program checks); both must succeed and print the same stdout.
set -u
[ $# -ge 1 ] || { echo "usage: both.sh PROGRAM [ARGS]..." >&2; exit 2; }
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-both.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
env -u LD_PRELOAD "$@" >"$tmp/plain" || { echo "both.sh: failed without zmm (status $?)" >&2; exit 1; }
mid=$(date +%s)
env LD_PRELOAD="$lib" SWARM_EXPECT_ZMM=1 "$@" >"$tmp/zmm" || { echo "both.sh: failed under zmm (status $?)" >&2; exit 1; }
end=$(date +%s)
echo "without zmm ($((mid - start)) s):"; cat "$tmp/plain"
echo "with zmm ($((end - mid)) s):"; cat "$tmp/zmm"
cmp -s "$tmp/plain" "$tmp/zmm" || { echo "both.sh: the outputs differ" >&2; exit 1; }
