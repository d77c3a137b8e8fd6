#!/bin/sh
# limit.sh PROGRAM MODE: run `PROGRAM MODE` (limit.c) and check its stderr.
#   exhaust: exit 0; stderr holds, at least once, exactly the line
#            "zmm: Allowed memory size of 67108864 bytes exhausted (tried to allocate M bytes)"
#            with M >= 1048576, and nothing else.
#   bad:     exit 0; stderr is one line that names ZMM_MEMORY_LIMIT.
# The program gets LD_PRELOAD and ZMM_MEMORY_LIMIT from this script's environment; the tools
# used to check its output run without them.
set -u

prog=${1:?usage: limit.sh PROGRAM MODE}
mode=${2:?usage: limit.sh PROGRAM MODE}
preload=${LD_PRELOAD:-}
limit=${ZMM_MEMORY_LIMIT:-}
unset LD_PRELOAD ZMM_MEMORY_LIMIT
[ -n "$preload" ] || { echo "limit.sh: LD_PRELOAD is not set" >&2; exit 1; }
[ -n "$limit" ] || { echo "limit.sh: ZMM_MEMORY_LIMIT is not set" >&2; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr

LD_PRELOAD=$preload ZMM_MEMORY_LIMIT=$limit "$prog" "$mode" >"$out" 2>"$err"
status=$?

fail() {
    echo "FAIL [$mode, ZMM_MEMORY_LIMIT=$limit]: $*" >&2
    echo "--- exit status: $status" >&2
    echo "--- stdout:" >&2
    cat "$out" >&2
    echo "--- stderr:" >&2
    cat "$err" >&2
    echo "---" >&2
    exit 1
}

[ "$status" -eq 0 ] || fail "expected exit status 0"
grep -q '^all [0-9]* checks passed$' "$out" || fail "the program did not report its checks"
lines=$(wc -l <"$err")

case $mode in
exhaust)
    re='^zmm: Allowed memory size of 67108864 bytes exhausted \(tried to allocate [0-9]+ bytes\)$'
    matching=$(grep -Ec "$re" "$err")
    [ "$matching" -ge 1 ] || fail "no line matches /$re/"
    [ "$matching" -eq "$lines" ] || fail "stderr has lines other than the limit message"
    for m in $(sed -n 's/^zmm: Allowed memory size of 67108864 bytes exhausted (tried to allocate \([0-9]*\) bytes)$/\1/p' "$err"); do
        [ "$m" -ge 1048576 ] || fail "tried to allocate $m bytes, less than the 1 MiB asked for"
    done
    ;;
bad)
    [ "$lines" -eq 1 ] || fail "expected exactly one line on stderr, got $lines"
    grep -q 'ZMM_MEMORY_LIMIT' "$err" || fail "the warning does not name ZMM_MEMORY_LIMIT"
    ;;
*)
    fail "unknown mode"
    ;;
esac
echo "PASS [$mode]"
sed 's/^/stderr: /' "$err"
exit 0
