#!/bin/sh
# compare.sh [--bind=PROG]... [--no-stderr] [--stdin FILE] NAME PROGRAM [ARGS]...
#
# Runs PROGRAM twice, each time in a fresh empty directory (the same path both times, also $HOME),
# with LC_ALL=C, TZ=UTC and FILE (default /dev/null) as standard input:
#   1. plain: LD_PRELOAD removed (meson's test env sets it; this run must not have it);
#   2. zmm:   LD_PRELOAD=$ZMM_LIB alone, and LD_DEBUG=bindings written to files (LD_DEBUG_OUTPUT).
# The two runs must give the same exit status, stdout and (unless --no-stderr) stderr, and the
# plain run must succeed. The zmm run's binding log must then prove interposition:
#   - each PROG named with --bind (default: PROGRAM itself; PROG matches the argv[0] of a process,
#     or its last path component) ran, and its process(es) bound `malloc' and `free' to $ZMM_LIB;
#   - no object in any process (children too) bound a member of the malloc family to anything but
#     $ZMM_LIB or a main program (a canonical PLT entry of a non-PIE executable), e.g. to libc:
#     that would be a second heap.
# So a test cannot pass by not interposing.
#
# Exit status: 0 same output and interposed; 1 the outputs differ or a run failed; 3 the outputs
# agree but interposition is not proven; 77 (meson's skip) PROGRAM is not installed.
# ZMM_LIB defaults to what `scripts/zmm --lib` prints. Other ZMM_* variables of the environment
# are passed on (ZMM_MEM_TYPE=malloc meson test --suite programs tests that configuration);
# ZMM_STATS=1 makes stderr differ, so it is dropped.

set -u

usage() {
	echo "usage: compare.sh [--bind=PROG]... [--no-stderr] [--stdin FILE] NAME PROGRAM [ARGS]..." >&2
	exit 2
}

here=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
binds=
compare_stderr=1
stdin=/dev/null
while [ $# -gt 0 ]; do
	case $1 in
	--bind=?*)   binds="$binds${1#*=}
" ;;
	--no-stderr) compare_stderr= ;;
	--stdin)     [ $# -ge 2 ] || usage; stdin=$2; shift ;;
	--)          shift; break ;;
	-*)          usage ;;
	*)           break ;;
	esac
	shift
done
[ $# -ge 2 ] || usage
case $stdin in /*) ;; *) stdin=$PWD/$stdin ;; esac
name=$1
shift
[ -n "$binds" ] || binds="$1
"

if ! command -v "$1" >/dev/null 2>&1; then
	echo "SKIP $name: $1 is not installed"
	exit 77
fi

lib=${ZMM_LIB:-}
if [ -z "$lib" ]; then
	lib=$(sh "$here/../../scripts/zmm" --lib) || { echo "FAIL $name: no libzmm.so (set ZMM_LIB)"; exit 1; }
fi
if [ ! -f "$lib" ]; then
	echo "FAIL $name: ZMM_LIB=$lib: no such file"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-compare.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
mkdir "$tmp/bind"

# run MODE PROGRAM [ARGS]...: output in $tmp/MODE.out and $tmp/MODE.err, status in $tmp/MODE.status.
run() {
	mode=$1
	shift
	rm -rf "$tmp/work"
	mkdir "$tmp/work"
	(
		cd "$tmp/work" || exit 125
		unset LD_PRELOAD LD_DEBUG LD_DEBUG_OUTPUT ZMM_STATS
		HOME=$tmp/work LC_ALL=C TZ=UTC
		export HOME LC_ALL TZ
		if [ "$mode" = zmm ]; then
			LD_PRELOAD=$lib LD_DEBUG=bindings LD_DEBUG_OUTPUT=$tmp/bind/b
			export LD_PRELOAD LD_DEBUG LD_DEBUG_OUTPUT
		fi
		exec "$@" >"$tmp/$mode.out" 2>"$tmp/$mode.err" <"$stdin"
	)
	echo $? >"$tmp/$mode.status"
}

describe() {  # describe STATUS
	if [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
		echo "$1 (killed by signal $(($1 - 128)), SIG$(kill -l $(($1 - 128)) 2>/dev/null))"
	else
		echo "$1"
	fi
}

show() {  # show TITLE FILE: at most 40 lines of FILE, indented
	echo "--- $1:"
	head -n 40 "$2" | sed 's/^/    /'
	[ "$(wc -l <"$2")" -le 40 ] || echo "    ... ($(wc -l <"$2") lines)"
}

run plain "$@"
run zmm "$@"
plain_status=$(cat "$tmp/plain.status")
zmm_status=$(cat "$tmp/zmm.status")

fail=
if [ "$plain_status" != 0 ]; then
	echo "FAIL $name: the plain run (without zmm) failed with status $(describe "$plain_status"): the test itself is broken"
	show "plain stderr" "$tmp/plain.err"
	exit 1
fi
if [ "$zmm_status" != "$plain_status" ]; then
	echo "FAIL $name: exit status $(describe "$zmm_status") under zmm, $plain_status without"
	fail=1
fi
if ! cmp -s "$tmp/plain.out" "$tmp/zmm.out"; then
	echo "FAIL $name: stdout differs under zmm (diff -u plain zmm):"
	diff -u "$tmp/plain.out" "$tmp/zmm.out" | head -n 60
	fail=1
fi
if [ -n "$compare_stderr" ] && ! cmp -s "$tmp/plain.err" "$tmp/zmm.err"; then
	echo "FAIL $name: stderr differs under zmm (diff -u plain zmm):"
	diff -u "$tmp/plain.err" "$tmp/zmm.err" | head -n 60
	fail=1
fi
if [ -n "$fail" ]; then
	[ -s "$tmp/zmm.err" ] && show "stderr under zmm" "$tmp/zmm.err"
	exit 1
fi

# ---- interposition, from the LD_DEBUG=bindings files (one per process: b.PID) ---------------------
set -- "$tmp"/bind/b.*
if [ ! -f "$1" ]; then
	echo "FAIL $name: LD_DEBUG wrote no binding log (is the program set-user-ID or static?)"
	exit 3
fi
awk -v lib="$lib" -v binds="$binds" -f "$here/bindings.awk" "$@"
bind_status=$?
if [ "$bind_status" != 0 ]; then
	echo "FAIL $name: same output, but interposition by $lib is not proven (see above)"
	exit 3
fi
echo "ok $name: same exit status ($plain_status), stdout ($(wc -c <"$tmp/plain.out") bytes)$([ -n "$compare_stderr" ] && echo " and stderr") with and without zmm"
exit 0
