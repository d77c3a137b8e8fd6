#!/bin/sh
# fault.sh PROGRAM SCENARIO: run `PROGRAM SCENARIO` (fault.c) and check how it ended.
#   fault scenarios: killed by SIGABRT (status 134), stderr is exactly one line, it starts with
#     "zmm:", has the expected form for the scenario and names the very address the program
#     printed as ptr= (and, for an interior pointer, the block it printed as base=).
#   ok-* scenarios: exit status 0 and no "zmm:" line at all.
# The program runs with the environment given to this script (LD_PRELOAD=libzmm.so); the tools
# used to check its output run without it.
set -u

prog=${1:?usage: fault.sh PROGRAM SCENARIO}
scenario=${2:?usage: fault.sh PROGRAM SCENARIO}
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
if [ -z "$preload" ]; then
    echo "fault.sh: LD_PRELOAD is not set: the test must run with preload_env" >&2
    exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr

ulimit -c 0 2>/dev/null
# The inner sh points its own fd 2 at the file and becomes the program: the "Aborted" that this
# shell prints for a job killed by a signal then goes to the test log, not into $err.
LD_PRELOAD=$preload sh -c 'exec 2>"$1"; shift; exec "$@"' sh "$err" "$prog" "$scenario" >"$out"
status=$?

fail() {
    echo "FAIL [$scenario]: $*" >&2
    echo "--- exit status: $status" >&2
    echo "--- stdout:" >&2
    cat "$out" >&2
    echo "--- stderr:" >&2
    cat "$err" >&2
    echo "---" >&2
    exit 1
}

zmm_lines=$(grep -c '^zmm:' "$err")

case $scenario in
ok-*)
    [ "$status" -eq 0 ] || fail "expected exit status 0"
    [ "$zmm_lines" -eq 0 ] || fail "expected no zmm: line on stderr"
    grep -q '^all [0-9]* checks passed$' "$out" || fail "the program did not report its checks"
    echo "PASS [$scenario]"
    exit 0
    ;;
esac

ptr=$(sed -n 's/^ptr=//p' "$out")
base=$(sed -n 's/^base=//p' "$out")
case $ptr in
0x*) ;;
*) fail "the program printed no ptr=0x... line" ;;
esac

case $scenario in
double-small)     want="^zmm: double free of $ptr \(64-byte block\)\$" ;;
double-*)         want="^zmm: double free of $ptr \([0-9]+-byte block\)\$" ;;
interior-small)   want="^zmm: invalid free of $ptr \(interior pointer into 64-byte block $base\)\$" ;;
interior-*)       want="^zmm: invalid free of $ptr \(interior pointer into [0-9]+-byte block $base\)\$" ;;
foreign-*)        want="^zmm: invalid free of $ptr \(not a heap block\)\$" ;;
corrupt-freelist) want="^zmm: corrupted free list \(bin [0-9]+, 64-byte blocks\) at $ptr\$" ;;
*)                fail "unknown scenario" ;;
esac
case $scenario in
interior-*)
    case $base in
    0x*) ;;
    *) fail "the program printed no base=0x... line" ;;
    esac
    ;;
esac

[ "$status" -eq 134 ] || fail "expected termination by SIGABRT (status 134)"
grep -q '^survived$' "$out" && fail "the program went on after the misuse"
[ "$zmm_lines" -eq 1 ] || fail "expected exactly one line starting with zmm: on stderr, got $zmm_lines"
lines=$(wc -l <"$err")
[ "$lines" -eq 1 ] || fail "expected stderr to be that one line, got $lines lines"
line=$(grep '^zmm:' "$err")
printf '%s\n' "$line" | grep -Eq "$want" ||
    fail "the zmm: line does not match /$want/"
printf '%s\n' "$line" | grep -Fq "$ptr" || fail "the zmm: line does not name $ptr"
echo "PASS [$scenario]: $line"
exit 0
