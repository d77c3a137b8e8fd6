#!/bin/sh
# sanitize.sh SOURCE-DIR BUILD-DIR UBSAN-SUPPRESSIONS: configures BUILD-DIR (once) with
# -Db_sanitize=address,undefined, builds it, and runs its 'unit' and 'fuzz' suites. Any
# AddressSanitizer report, leak, or UndefinedBehaviorSanitizer report (halt_on_error) fails
# the inner test and so this one. Prints the inner results and their count.
set -u
[ $# -eq 3 ] || { echo "usage: sanitize.sh SOURCE-DIR BUILD-DIR UBSAN-SUPPRESSIONS" >&2; exit 2; }
src=$1 build=$2 supp=$3
if [ ! -f "$build/meson-private/coredata.dat" ]; then
	meson setup "$build" "$src" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
		-Db_lundef=false >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; echo "sanitize.sh: meson setup failed"; exit 1; }
fi
meson compile -C "$build" >"$build.compile.log" 2>&1 ||
	{ tail -n 60 "$build.compile.log"; echo "sanitize.sh: the build failed"; exit 1; }
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp} \
	meson test -C "$build" --no-rebuild --print-errorlogs --suite unit --suite fuzz
status=$?
[ "$status" = 0 ] || echo "sanitize.sh: a test failed under the sanitizers (status $status)"
exit "$status"
