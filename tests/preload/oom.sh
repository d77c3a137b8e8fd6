#!/bin/sh
# oom.sh PROGRAM: tracking without memory for its records (oom.c untracked). For each of the
# first 24 mappings in turn (ZMM_FAIL_MAP=N), the program leaks 8 huge blocks (3 MiB each)
# under ZMM_LEAKS=reachable: it must exit 0, and its exit report must account for every block
# it was served: those listed (as leaks, or as reachable: the scan is conservative, and a stale
# word may still point into a block) and those it could not see, counted on the line "zmm: K
# block(s) were served without a record". At least one N must hit a record table (K > 0).
set -u
prog=${1:?usage: oom.sh PROGRAM}
preload=${LD_PRELOAD:?LD_PRELOAD is not set}
unset LD_PRELOAD
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0 blind=0
for n in $(seq 1 24); do
    LD_PRELOAD=$preload ZMM_LEAKS=reachable ZMM_FAIL_MAP=$n "$prog" untracked >"$tmp/out" 2>"$tmp/err"
    status=$?
    served=$(sed -n 's/^oom untracked: \([0-9]*\) served$/\1/p' "$tmp/out")
    # the groups of 3 MiB blocks, leaked or reachable
    leaked=$(sed -n 's/^\(Direct leak\|Reachable memory\) of \([0-9]*\) byte(s) in \([0-9]*\) object(s) allocated from:$/\2 \3/p' "$tmp/err" |
             awk '$1 == $2 * 3145728 { n += $2 } END { print n + 0 }')
    unseen=$(sed -n 's/^zmm: \([0-9]*\) block(s) were served without a record (out of memory).*/\1/p' "$tmp/err")
    # (an unseen block may be one of the program's others: stdio's buffer, the runtime's)
    if [ "$status" != 0 ] || [ -z "$served" ] || [ "$leaked" -gt "$served" ] ||
       [ $(( leaked + ${unseen:-0} )) -lt "$served" ]; then
        echo "FAIL [ZMM_FAIL_MAP=$n]: status $status, served ${served:-?}, listed $leaked, unseen ${unseen:-none}"
        tail -5 "$tmp/err"
        fail=1
    fi
    [ -n "$unseen" ] && blind=$((blind + 1))
done
[ "$blind" -gt 0 ] || { echo "FAIL: no ZMM_FAIL_MAP setting left a block without a record"; fail=1; }
[ "$fail" = 0 ] && echo "oom untracked: ok ($blind of 24 settings left blocks unseen, all counted)"
exit "$fail"
