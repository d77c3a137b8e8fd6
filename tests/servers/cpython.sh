#!/bin/sh
# cpython.sh: a part of CPython's own test suite (Debian's libpython3.11-testsuite, for Debian's
# /usr/bin/python3) run without zmm and then under LD_PRELOAD=$ZMM_LIB; both must pass the same
# way. PYTHONMALLOC=malloc in both runs sends every Python object through malloc (not only
# the big ones pymalloc passes on), so under zmm the whole interpreter lives in zmm's heap.
# Proof that it did (proof.py): the zmm run has LD_DEBUG=bindings, and every python3.11 process
# of it (regrtest's own and its workers, one per test file) must bind malloc and free to
# $ZMM_LIB, and no object any member of the malloc family elsewhere. (ZMM_STATS would write to
# the stderr that many of these tests read from their child processes.) A libzmm.so without
# malloc fails it. Skips (77) when the test suite or python3.11 is missing.
set -u
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
python=/usr/bin/python3.11
tests="test_dict test_list test_set test_json test_unicode test_threading test_bytes test_re
       test_collections test_sort test_deque test_heapq test_ordered_dict test_array test_struct"
if [ ! -x "$python" ] || [ ! -f /usr/lib/python3.11/test/test_dict.py ] ||
   [ ! -f /usr/lib/python3.11/test/regrtest.py ]; then
	echo "cpython.sh: SKIP: CPython's test suite is not installed (Debian package libpython3.11-testsuite; scripts/install-deps)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-cpython.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

proof=$(dirname -- "$0")/proof.py
mkdir "$tmp/bind" || exit 1

run() {  # run NAME [ENV]...: the tests, in a directory of their own
	name=$1
	shift
	mkdir -p "$tmp/$name/home" || exit 1
	t0=$(date +%s)
	# shellcheck disable=SC2086
	(cd "$tmp/$name" && env -u LD_PRELOAD -u LD_DEBUG -u LD_DEBUG_OUTPUT HOME="$tmp/$name/home" PYTHONMALLOC=malloc "$@" \
		"$python" -m test -j2 --timeout=300 $tests) >"$tmp/$name.log" 2>&1
	status=$?
	echo "$name: status $status in $(($(date +%s) - t0)) s: $(grep -E '^(All [0-9]+ tests OK|Tests result:)' "$tmp/$name.log" | tr '\n' ' ')"
	if [ "$status" != 0 ]; then
		tail -n 60 "$tmp/$name.log"
		return 1
	fi
}
run plain || { echo "cpython.sh: the tests fail without zmm: nothing to compare" >&2; exit 1; }
run zmm LD_PRELOAD="$lib" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/bind/b" ||
	{ echo "cpython.sh: the tests fail under zmm" >&2; exit 1; }
a=$(grep -E '^(All [0-9]+ tests OK|Tests result:)' "$tmp/plain.log")
b=$(grep -E '^(All [0-9]+ tests OK|Tests result:)' "$tmp/zmm.log")
[ "$a" = "$b" ] || { echo "cpython.sh: the summaries differ" >&2; exit 1; }
"$python" "$proof" bindings "$lib" "$tmp/bind" "$python" ||
	{ echo "cpython.sh: not proven that zmm was the allocator of every python3.11 process" >&2; exit 1; }
