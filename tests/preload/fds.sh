#!/bin/sh
# fds.sh PROGRAM CASE: zmm's descriptors are never the program's (fds.c, issue 13).
#   daemon: under ZMM_LEAKS=1 the program closes every descriptor above 2 and puts its data
#           file under every other number, between two request reports: the file holds exactly
#           the program's two lines, and every report (requests 1 and 2, and at exit with both
#           leaks) reaches stderr.
#   count:  under ZMM_LEAKS=1, after stacks were captured and a report written, no descriptor
#           of zmm's is below 256 (CPython's tests look there).
#   zero:   under ZMM_MEM_TYPE=mmap_zero the program puts a file full of 'x' under every number:
#           new memory still reads as zeros (zmm maps /dev/zero, never the program's file).
set -u
prog=${1:?usage: fds.sh PROGRAM CASE}
case=${2:?usage: fds.sh PROGRAM CASE}
preload=${LD_PRELOAD:?LD_PRELOAD is not set}
unset LD_PRELOAD
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL [$case]: $*"; fail=1; }
show() { echo "--- stdout:"; cat "$tmp/out"; echo "--- stderr:"; tail -40 "$tmp/err"; }

case $case in
daemon)
    LD_PRELOAD=$preload ZMM_LEAKS=1 "$prog" daemon "$tmp/data" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" = 0 ] || bad "exit status $status"
    printf 'data 1\ndata 2\n' >"$tmp/want"
    cmp -s "$tmp/data" "$tmp/want" || { bad "the program's file was written to by zmm:"; od -c "$tmp/data" | head -20; }
    for when in "request 1" "request 2" "at exit"; do
        grep -q "^==[0-9]*==zmm: detected memory leaks ($when)" "$tmp/err" || bad "no report ($when) on stderr"
    done
    grep -q "^Direct leak of 2424 byte(s) in 1 object(s)" "$tmp/err" || bad "the leak made after the descriptors changed is not reported"
    tail -1 "$tmp/err" | grep -q "^=== Total 2 memory leaks detected ===$" || bad "the exit report does not end with both leaks"
    ;;
count)
    LD_PRELOAD=$preload ZMM_LEAKS=1 "$prog" count >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" = 0 ] || bad "exit status $status"
    grep -qx "zmm fds below 256: none" "$tmp/out" || bad "$(grep 'fds below' "$tmp/out")"
    ;;
zero)
    head -c 16777216 /dev/zero | tr '\0' x >"$tmp/data"
    LD_PRELOAD=$preload ZMM_MEM_TYPE=mmap_zero "$prog" zero "$tmp/data" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" = 0 ] || bad "exit status $status"
    ;;
*)
    echo "fds.sh: unknown case $case" >&2
    exit 2
    ;;
esac
[ "$fail" = 0 ] && { echo "fds $case: ok"; exit 0; }
show
exit 1
