#!/bin/sh
# canary.sh STUB: the proofs of interposition that the server tests make (proof.py) must fail
# with STUB, a libzmm.so stand-in that exports zmm_version but no malloc (stub.c), and hold with
# $ZMM_LIB. ls -l / runs under each with LD_DEBUG=bindings and ZMM_STATS=1, as the servers do:
#   - with STUB: `proof.py bindings' exits 3 saying ls did not bind malloc and free to it and
#     naming libc; `proof.py stats' exits 3 (no statistics at exit);
#   - with $ZMM_LIB: both exit 0.
# Exit 0 pass, 1 fail.
set -u
[ $# -eq 1 ] || { echo "usage: canary.sh STUB" >&2; exit 2; }
stub=$1
case $stub in /*) ;; *) stub=$PWD/$stub ;; esac
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
proof=$(dirname -- "$0")/proof.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-canary.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=

run() {  # run NAME LIB: ls under LIB; its binding log in $tmp/NAME/bind, stderr in $tmp/NAME/err, pid in $tmp/NAME/pid
	mkdir -p "$tmp/$1/bind" || exit 1
	env -u LD_DEBUG -u LD_DEBUG_OUTPUT LD_PRELOAD="$2" ZMM_STATS=1 LD_DEBUG=bindings \
		LD_DEBUG_OUTPUT="$tmp/$1/bind/b" ls -l / >/dev/null 2>"$tmp/$1/err" &
	pid=$!
	wait "$pid" || { echo "FAIL: ls failed under $2"; fail=1; }
	echo "$pid" >"$tmp/$1/pid"
}

expect() {  # expect STATUS WHAT COMMAND...: COMMAND's output, indented, and its status must be STATUS
	want=$1 what=$2
	shift 2
	"$@" >"$tmp/out" 2>&1
	st=$?
	sed 's/^/    | /' "$tmp/out"
	if [ "$st" = "$want" ]; then
		echo "ok: $what (status $st)"
	else
		echo "FAIL: $what: status $st, expected $want"
		fail=1
	fi
}

run stub "$stub"
expect 3 "the stub: bindings not proven" "$python" "$proof" bindings "$stub" "$tmp/stub/bind" ls
grep -q "ls: 1 of 1 process(es) did not bind free and malloc to $stub" "$tmp/out" ||
	{ echo "FAIL: no 'did not bind' line"; fail=1; }
grep -q "bound .malloc' to .*libc\.so\.6, not to zmm" "$tmp/out" || { echo "FAIL: no 'bound to libc' line"; fail=1; }
expect 3 "the stub: statistics not proven" "$python" "$proof" stats "$tmp/stub/err" "$(cat "$tmp/stub/pid")"

run zmm "$lib"
expect 0 "libzmm.so: bindings proven" "$python" "$proof" bindings "$lib" "$tmp/zmm/bind" ls
expect 0 "libzmm.so: statistics proven" "$python" "$proof" stats "$tmp/zmm/err" "$(cat "$tmp/zmm/pid")"

[ -z "$fail" ] || exit 1
echo "ok: the proofs catch a library that does not interpose malloc"
