#!/bin/sh
# cli.sh CASE ZMM CONFIGURED VERSION: one test of the zmm CLI (the 'cli' suite).
#   ZMM         the in-tree script (scripts/zmm), what a checkout runs;
#   CONFIGURED  the copy the build made for install (build/scripts/zmm: configure_file(), then
#               scripts/options-help.c's list of environment variables);
#   VERSION     the project version.
# ZMM_LIB must name libzmm.so (meson's preload_env sets it). Exit 0 pass, 1 fail, 77 skip.

# shellcheck disable=SC2016 # the sh -c programs expand in the child, on purpose
set -u
[ $# -eq 4 ] || { echo "usage: cli.sh CASE ZMM CONFIGURED VERSION" >&2; exit 2; }
case=$1 zmm=$2 configured=$3 version=$4
here=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
# meson's env preloads the library into this script too; the cases set LD_PRELOAD themselves.
unset LD_PRELOAD ZMM_STATS ZMM_MEMORY_LIMIT ZMM_HUGE_PAGES ZMM_MEM_TYPE ZMM_COMPACT ZMM_ALLOC
unset ZMM_LEAKS ZMM_REPORT ZMM_REPORT_FORMAT ZMM_LEAK_EXITCODE ZMM_SUPPRESSIONS ZMM_STACK_DEPTH ZMM_ONLY
unset ZMM_REQUEST_SIGNAL ZMM_REQUEST_RECLAIM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-cli.XXXXXX") || exit 1
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

failed=0
fail() { echo "FAIL: $*"; failed=1; }
pass() { echo "ok: $*"; }
check() {  # check DESCRIPTION COMMAND...: pass when COMMAND succeeds
	what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; return 1; fi
}

# z ARGS...: run the script (with the NAME=VALUE words of $zenv added to its environment);
# $out, $err and $st hold what it did.
zenv=
z() {
	# shellcheck disable=SC2086
	env $zenv "$zmm" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	st=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
# expect WHAT: check one fact about the last run (status=N, out=TEXT, err-has=TEXT, out-has=TEXT,
# err-lacks=TEXT, err-empty).
expect() {
	case $1 in
	status=*)   [ "$st" = "${1#*=}" ] || { fail "exit status $st, expected ${1#*=}"; show; return; } ;;
	out=*)      [ "$out" = "${1#*=}" ] || { fail "stdout '$out', expected '${1#*=}'"; show; return; } ;;
	out-has=*)  case $out in *"${1#*=}"*) ;; *) fail "stdout lacks '${1#*=}'"; show; return ;; esac ;;
	err-has=*)  case $err in *"${1#*=}"*) ;; *) fail "stderr lacks '${1#*=}'"; show; return ;; esac ;;
	err-lacks=*) case $err in *"${1#*=}"*) fail "stderr has '${1#*=}'"; show; return ;; esac ;;
	err-empty)  [ -z "$err" ] || { fail "stderr not empty"; show; return; } ;;
	*)          echo "cli.sh: bad expectation $1" >&2; exit 2 ;;
	esac
	pass "$1"
}
show() {
	printf '    status: %s\n    stdout: %s\n    stderr: %s\n' "$st" "$(echo "$out" | head -n 5)" "$(echo "$err" | head -n 10)"
}

case $case in
syntax)
	shell=$(command -v dash || command -v sh)
	for f in "$zmm" "$configured"; do
		check "$shell -n $f" "$shell" -n "$f"
	done
	# the configured copy differs from the in-tree script in the three marked lines only: the two
	# values and the line the list of environment variables replaces
	n=$(diff "$zmm" "$configured" | grep -c '^<')
	check "the configured copy differs in the 3 marked lines (here $n)" [ "$n" = 3 ] || diff "$zmm" "$configured"
	;;
variables)
	# zmm --help lists every variable of README.md's table, and names no other ZMM_* (but the
	# CLI's own ZMM_LIB); the in-tree script (which runs the build's scripts/options-help) and the
	# built one (which options-help wrote) list them alike.
	readme=$(dirname -- "$zmm")/../README.md
	[ -r "$readme" ] || { echo "SKIP: no README.md next to $zmm"; exit 77; }
	sed -n '/^## Environment variables/,/^## /p' "$readme" |
		sed -n 's/^| `\(ZMM_[A-Z_]*\)` |.*/\1/p' | sort >"$tmp/documented"
	check "README.md's variables table names some ZMM_* ($(wc -l <"$tmp/documented"))" [ -s "$tmp/documented" ]
	k=0
	for script in "$zmm" "$configured"; do
		k=$((k + 1))
		"$script" --help >"$tmp/help" 2>"$tmp/err" </dev/null
		st=$?
		check "$script --help: status 0 ($st)" [ "$st" = 0 ]
		check "$script --help: nothing on stderr" [ ! -s "$tmp/err" ] || head -n 3 "$tmp/err"
		sed -n '/^Environment variables/,$s/^  \(ZMM_[A-Z_]*\).*/\1/p' "$tmp/help" | sort >"$tmp/listed"
		grep -o 'ZMM_[A-Z_]*' "$tmp/help" | grep -vx ZMM_LIB | sort -u >"$tmp/named"
		missing=$(comm -23 "$tmp/documented" "$tmp/listed" | tr '\n' ' ')
		check "$script --help lists every variable of README.md's table${missing:+ (not: $missing)}" [ -z "$missing" ]
		extra=$(comm -13 "$tmp/documented" "$tmp/named" | tr '\n' ' ')
		check "$script --help names no variable README.md's table lacks${extra:+ (it names: $extra)}" [ -z "$extra" ]
		sed -n '/^Environment variables/,$p' "$tmp/help" >"$tmp/list.$k"
	done
	check "the in-tree and the built script list the same entries" cmp -s "$tmp/list.1" "$tmp/list.2" ||
		diff "$tmp/list.1" "$tmp/list.2"
	;;
help)
	z --help
	expect status=0
	expect out-has="usage: zmm"
	expect out-has="--limit=SIZE"
	expect err-empty
	for opt in --leaks --show-reachable --report=FILE --json --exitcode=N --suppressions=FILE \
		--stack-depth=N --only=NAME; do
		expect out-has="$opt"
	done
	z -h
	expect status=0
	expect out-has="usage: zmm"
	;;
no-program)
	z
	expect status=2
	expect err-has="usage: zmm"
	expect out=
	z --stats --
	expect status=2
	expect err-has="usage: zmm"
	;;
bad-option)
	z --bogus true
	expect status=2
	expect err-has="unknown option: --bogus"
	expect err-has="usage: zmm"
	expect out=
	z --limit true
	expect status=2
	expect err-has="--limit=VALUE"
	for opt in --report --exitcode --suppressions --stack-depth --only; do
		z "$opt" true
		expect status=2
		expect err-has="$opt=VALUE"
		expect out=
	done
	;;
lib)
	z --lib
	expect status=0
	expect out="$lib"
	check "--lib printed an existing file ($out)" [ -f "$out" ]
	;;
version)
	z --version
	expect status=0
	expect out="zmm $version"
	zmm=$configured
	z --version
	expect status=0
	expect out="zmm $version"
	;;
configured)
	# the install copy knows its libdir; from the build tree it uses the build's library
	check "libdir substituted in $configured" grep -q "^zmm_libdir='/" "$configured"
	zmm=$configured
	zenv=ZMM_LIB=
	z --lib
	zenv=
	expect status=0
	check "the build tree copy finds $out, that is $lib" [ "$(readlink -f "$out")" = "$(readlink -f "$lib")" ]
	;;
stats)
	z --stats -- /bin/true
	expect status=0
	expect err-has="zmm"
	expect err-has="in use"
	;;
flags)
	# each option sets its variable and nothing else
	z -- sh -c 'echo "[$ZMM_STATS$ZMM_MEMORY_LIMIT$ZMM_HUGE_PAGES$ZMM_MEM_TYPE$ZMM_COMPACT$ZMM_ALLOC]"'
	expect out="[]"
	z --limit=64M -- sh -c 'echo $ZMM_MEMORY_LIMIT'
	expect out=64M
	z --stats -- sh -c 'echo $ZMM_STATS'
	expect out=1
	z --huge-pages -- sh -c 'echo $ZMM_HUGE_PAGES'
	expect out=1
	z --mem-type=mmap_zero -- sh -c 'echo $ZMM_MEM_TYPE'
	expect out=mmap_zero
	z --compact=0 -- sh -c 'echo $ZMM_COMPACT'
	expect out=0
	z --system -- sh -c 'echo $ZMM_ALLOC'
	expect out=0
	z --limit=1G --mem-type=malloc --compact=128M sh -c 'echo $ZMM_MEMORY_LIMIT $ZMM_MEM_TYPE $ZMM_COMPACT'
	expect out="1G malloc 128M"
	;;
leak-flags)
	# each leak option sets its variable and nothing else
	z -- sh -c 'echo "[$ZMM_LEAKS$ZMM_REPORT$ZMM_REPORT_FORMAT$ZMM_LEAK_EXITCODE$ZMM_SUPPRESSIONS$ZMM_STACK_DEPTH$ZMM_ONLY]"'
	expect out="[]"
	z --leaks -- sh -c 'echo "$ZMM_LEAKS [$ZMM_REPORT$ZMM_REPORT_FORMAT$ZMM_LEAK_EXITCODE$ZMM_STACK_DEPTH]"'
	expect out="1 []"
	z --show-reachable -- sh -c 'echo $ZMM_LEAKS'
	expect out=reachable
	z --leaks --show-reachable -- sh -c 'echo $ZMM_LEAKS'
	expect out=reachable
	z --show-reachable --leaks -- sh -c 'echo $ZMM_LEAKS'
	expect out=reachable
	z --report=/var/tmp/zmm/r.%p -- sh -c 'echo $ZMM_REPORT'
	expect out=/var/tmp/zmm/r.%p
	z --report=stderr -- sh -c 'echo $ZMM_REPORT'
	expect out=stderr
	z --json -- sh -c 'echo $ZMM_REPORT_FORMAT'
	expect out=json
	z --reclaim -- sh -c 'echo $ZMM_REQUEST_RECLAIM'
	expect out=1
	z --request-signal=USR2 -- sh -c 'echo $ZMM_REQUEST_SIGNAL'
	expect out=USR2
	z --debug=padding=16,check_on_exit -- sh -c 'echo $ZMM_DEBUG'
	expect out=padding=16,check_on_exit
	z --retained -- sh -c 'echo $ZMM_REQUEST_RETAINED'
	expect out=1
	z --request-limit=16M -- sh -c 'echo $ZMM_REQUEST_LIMIT'
	expect out=16M
	z --exitcode=23 -- sh -c 'echo $ZMM_LEAK_EXITCODE'
	expect out=23
	z --suppressions=/etc/zmm.supp -- sh -c 'echo $ZMM_SUPPRESSIONS'
	expect out=/etc/zmm.supp
	z --stack-depth=4 -- sh -c 'echo $ZMM_STACK_DEPTH'
	expect out=4
	z --only=sort,cat -- sh -c 'echo $ZMM_ONLY'
	expect out=sort,cat
	z --leaks --json --exitcode=9 --stack-depth=32 --only=sh sh -c 'echo $ZMM_LEAKS $ZMM_REPORT_FORMAT $ZMM_LEAK_EXITCODE $ZMM_STACK_DEPTH $ZMM_ONLY'
	expect out="1 json 9 32 sh"
	# relative files are made absolute: the program and its children may change directory
	mkdir "$tmp/cwd"
	cd "$tmp/cwd" || exit 1
	z --report=logs/r.%p --suppressions=my.supp -- sh -c 'cd / && echo $ZMM_REPORT $ZMM_SUPPRESSIONS'
	expect out="$tmp/cwd/logs/r.%p $tmp/cwd/my.supp"
	# values are passed on unchecked (the library checks them)
	z --stack-depth=zero --exitcode=x -- sh -c 'echo $ZMM_STACK_DEPTH $ZMM_LEAK_EXITCODE'
	expect out="zero x"
	;;
request)
	# zmm request PID sends the signal the process's ZMM_REQUEST_SIGNAL names; the process (under
	# zmm) reports the request's leak: a block malloc'd through ctypes, its address dropped
	py='import ctypes, time; m = ctypes.CDLL(None).malloc; m.restype = None; m(54321); time.sleep(3)'
	"$zmm" --leaks --request-signal=USR2 -- /usr/bin/python3 -c "$py" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	sleep 1
	z request "$pid"
	expect status=0
	wait "$pid"
	check "the program exits normally after the signal" [ $? = 0 ]
	err=$(cat "$tmp/err")
	expect err-has="zmm: detected memory leaks (request 1)"
	expect err-has="Direct leak of 54321 byte(s) in 1 object(s) allocated from:"
	/bin/sleep 3 &
	z request $!
	expect status=1
	expect err-has="has no ZMM_REQUEST_SIGNAL"
	z request 12x
	expect status=2
	z request
	expect status=2
	;;
leaks)
	# end to end: sort -n FILE leaks one block of 24 bytes (valgrind agrees)
	awk 'BEGIN { for (i = 0; i < 100; i++) print (i * 7919) % 1000 }' >"$tmp/numbers"
	sorted=$(sort -n "$tmp/numbers")
	z --leaks --exitcode=23 -- sort -n "$tmp/numbers"
	expect status=23
	expect out="$sorted"
	expect err-has="zmm: detected memory leaks (at exit)"
	expect err-has="Direct leak of 24 byte(s) in 1 object(s) allocated from:"
	expect err-has="SUMMARY: zmm: 24 byte(s) leaked in 1 allocation(s)."
	z --leaks -- sort -n "$tmp/numbers"
	expect status=0
	expect err-has="SUMMARY: zmm: 24 byte(s) leaked in 1 allocation(s)."
	z --leaks --exitcode=23 --only=other -- sort -n "$tmp/numbers"
	expect status=0
	expect err-empty
	mkdir "$tmp/reports"
	z --leaks --json --report="$tmp/reports/r.%p" -- sort -n "$tmp/numbers"
	expect status=0
	expect err-empty
	set -- "$tmp"/reports/r.*
	check "one report file ($*)" [ $# = 1 ]
	check "$1 is a file" [ -f "$1" ]
	check "a JSON report with 24 direct bytes in $1" grep -q '"direct_bytes": *24,' "$1"
	z --leaks --exitcode=23 -- /bin/true
	expect status=0
	expect err-empty
	;;
bad-value)
	# a bad value is passed on; the library names the variable on stderr and the program runs
	z --limit=abc -- sh -c 'echo $ZMM_MEMORY_LIMIT'
	expect status=0
	expect out=abc
	expect err-has=ZMM_MEMORY_LIMIT
	;;
ld-preload)
	z -- sh -c 'echo "$LD_PRELOAD"'
	expect out="$lib"
	zenv=LD_PRELOAD=/nonexistent/x.so
	z -- sh -c 'echo "$LD_PRELOAD"'
	zenv=
	expect out="$lib /nonexistent/x.so"
	;;
args)
	z -- sh -c 'printf "%s|" "$@"' x a 'b c' --stats
	expect out="a|b c|--stats|"
	z echo --stats --bogus
	expect out="--stats --bogus"
	z sh -c 'exit 7'
	expect status=7
	z /nonexistent/program
	expect status=127
	expect err-has="/nonexistent/program"
	z no-such-program-zmm-test
	expect status=127
	expect err-has="command not found"
	;;
interposes)
	# the program run by the CLI binds malloc and free to the library
	printf 'b\na\n' >"$tmp/in"
	zenv="LD_DEBUG=bindings LD_DEBUG_OUTPUT=$tmp/bind"
	z sort "$tmp/in"
	zenv=
	expect status=0
	expect out="a
b"
	for sym in malloc free; do
		if grep -q "binding file sort \[0\] to $lib \[0\]: normal symbol \`$sym'" "$tmp"/bind.*; then
			pass "sort binds $sym to $lib"
		else
			fail "sort does not bind $sym to $lib"
			grep -h "symbol \`$sym'" "$tmp"/bind.* | head -n 5
		fi
	done
	;;
setuid)
	# ld.so drops LD_PRELOAD when exec changes the effective user or group: the CLI warns
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (chown)"
		exit 77
	fi
	cp /bin/true "$tmp/true-suid" && chown 65534 "$tmp/true-suid" && chmod 4755 "$tmp/true-suid" || exit 1
	z -- "$tmp/true-suid"
	expect status=0
	expect err-has="is set-user-ID: ld.so ignores LD_PRELOAD"
	cp /bin/true "$tmp/true-sgid" && chgrp 65534 "$tmp/true-sgid" && chmod 2755 "$tmp/true-sgid" || exit 1
	z -- "$tmp/true-sgid"
	expect status=0
	expect err-has="is set-group-ID: ld.so ignores LD_PRELOAD"
	# set-user-ID but our own file: exec changes nothing, LD_PRELOAD works, no warning
	cp /bin/true "$tmp/true-own" && chmod 4755 "$tmp/true-own" || exit 1
	z -- "$tmp/true-own"
	expect status=0
	expect err-lacks="warning"
	;;
static|static-od)
	# a static executable cannot be interposed: the CLI warns (static-od: without readelf, from od)
	cc=$(command -v cc || command -v gcc) || { echo "SKIP: no C compiler"; exit 77; }
	if ! "$cc" -static -o "$tmp/hello-static" "$here/hello.c" 2>"$tmp/cc.err"; then
		cat "$tmp/cc.err"
		echo "SKIP: cannot link a static executable (libc6-dev's libc.a missing?)"
		exit 77
	fi
	"$cc" -o "$tmp/hello-dynamic" "$here/hello.c" || exit 1
	if [ "$case" = static-od ]; then
		# a PATH with what the script needs, but no readelf
		mkdir "$tmp/bin"
		for tool in sh dirname readlink od ls id cat sed head; do
			p=$(command -v "$tool") && ln -s "$p" "$tmp/bin/$tool"
		done
		zenv=PATH=$tmp/bin
		if env PATH="$tmp/bin" /bin/sh -c 'command -v readelf'; then
			echo "readelf still on PATH"
			exit 1
		fi
	fi
	z -- "$tmp/hello-static"
	expect status=0
	expect out-has="hello from gcc"
	expect err-has="is a static executable: zmm cannot interpose"
	z -- "$tmp/hello-dynamic"
	expect status=0
	expect out-has="hello from gcc"
	expect err-lacks="warning"
	z -- /bin/true
	expect err-lacks="warning"
	;;
*)
	echo "cli.sh: unknown case $case" >&2
	exit 2
	;;
esac
exit $failed
