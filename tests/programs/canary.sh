#!/bin/sh
# canary.sh COMPARE SORT_SH: compare.sh must refuse a run that was not interposed. A shared object
# without malloc stands in for libzmm.so: the outputs agree, so only the binding check can catch it,
# and compare.sh must exit 3 naming malloc and free. Exit 0 pass, 1 fail, 77 skip.
set -u
[ $# -eq 2 ] || { echo "usage: canary.sh COMPARE SORT_SH" >&2; exit 2; }
compare=$1 sort_sh=$2
unset LD_PRELOAD
cc=$(command -v cc || command -v gcc) || { echo "SKIP: no C compiler"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-canary.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
echo 'int zmm_canary(void) { return 42; }' >"$tmp/canary.c"
"$cc" -shared -fPIC -o "$tmp/libcanary.so" "$tmp/canary.c" || exit 1

ZMM_LIB=$tmp/libcanary.so sh "$compare" --bind=sort canary sh "$sort_sh" numbers >"$tmp/out" 2>&1
st=$?
sed "s/^/    | /" "$tmp/out"  # its FAIL lines are expected here
echo "compare.sh exit status: $st"
[ "$st" = 3 ] || { echo "FAIL: expected exit status 3 (not interposed)"; exit 1; }
grep -q "malloc and free not bound to $tmp/libcanary.so" "$tmp/out" || { echo "FAIL: no 'not bound' line"; exit 1; }
grep -q "bound .malloc' to .*libc.so.6, not to zmm" "$tmp/out" || { echo "FAIL: no 'bound to libc' line"; exit 1; }
echo "ok: compare.sh catches a run that zmm did not interpose"
