#!/bin/sh
# both.sh PROGRAM [ARGS]...: runs PROGRAM without zmm, then with LD_PRELOAD=$ZMM_LIB (and
# SWARM_EXPECT_ZMM=1, which the program checks); both must succeed and print the same stdout.
# Under zmm, proof that zmm was that process's allocator (proof.py): LD_DEBUG=bindings shows the
# program binding malloc and free to $ZMM_LIB and nothing binding the malloc family elsewhere;
# ZMM_STATS=1 makes it write zmm's statistics at exit, whose bin table must count at least half
# the allocations the program reports on stdout ("N allocations"; at most 1 in 2048 of swarm's
# are huge blocks, which the table leaves out), or at least one if it reports none. A libzmm.so
# without malloc fails both.
set -u
[ $# -ge 1 ] || { echo "usage: both.sh PROGRAM [ARGS]..." >&2; exit 2; }
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
proof=$(dirname -- "$0")/proof.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-both.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bind" || exit 1
start=$(date +%s)
env -u LD_PRELOAD -u LD_DEBUG -u LD_DEBUG_OUTPUT -u ZMM_STATS "$@" >"$tmp/plain" ||
	{ echo "both.sh: failed without zmm (status $?)" >&2; exit 1; }
mid=$(date +%s)
env LD_PRELOAD="$lib" SWARM_EXPECT_ZMM=1 ZMM_STATS=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/bind/b" \
	"$@" >"$tmp/zmm" 2>"$tmp/zmm.err" &
pid=$!
wait "$pid"
status=$?
end=$(date +%s)
grep -v -e '^==[0-9]*==zmm: heap statistics' -e '^  ' "$tmp/zmm.err" >&2
[ "$status" = 0 ] || { echo "both.sh: failed under zmm (status $status)" >&2; exit 1; }
echo "without zmm ($((mid - start)) s):"; cat "$tmp/plain"
echo "with zmm ($((end - mid)) s):"; cat "$tmp/zmm"
cmp -s "$tmp/plain" "$tmp/zmm" || { echo "both.sh: the outputs differ" >&2; exit 1; }
allocs=$(sed -n 's/.* \([0-9][0-9]*\) allocations.*/\1/p' "$tmp/zmm" | head -n 1)
least=$(( ${allocs:-2} / 2 ))
proven=1
"$python" "$proof" bindings "$lib" "$tmp/bind" "$(basename -- "$1")" || proven=
"$python" "$proof" stats "$tmp/zmm.err" "$pid" "$least" || proven=
[ -n "$proven" ] || { echo "both.sh: not proven that zmm was $(basename -- "$1")'s allocator" >&2; exit 1; }
