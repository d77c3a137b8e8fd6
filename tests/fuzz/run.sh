#!/bin/sh
# run.sh HARNESS CORPUS-DIR [OPTION]...: one fuzz test. Replays the seed corpus, then runs the
# inputs the options ask for (-runs=N -seed=S ...), with libFuzzer or with driver.c alike.
# libFuzzer adds the inputs it finds to the first corpus directory it is given: that is a
# temporary one here, so the checked-in corpus stays as it is. A crash leaves its input in
# $FUZZ_ARTIFACTS (default: the temporary directory, then copied to the test's directory)
# and the test fails, naming it.
set -u
[ $# -ge 2 ] || { echo "usage: run.sh HARNESS CORPUS-DIR [OPTION]..." >&2; exit 2; }
harness=$1 corpus=$2
shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$tmp}
mkdir -p "$tmp/new" "$artifacts" || exit 1
export TMPDIR="$tmp"

if "$harness" -help=1 2>&1 | grep -q libFuzzer; then
	# -close_fd_mask is not used: the heap harness's zmm: fault lines must be seen.
	"$harness" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$tmp/new" "$corpus"
else
	"$harness" -artifact_prefix="$artifacts/" "$@" "$corpus"
fi
status=$?
if [ "$status" != 0 ]; then
	for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
		[ -f "$f" ] || continue
		keep=./$(basename "$f")
		[ "$artifacts" = "$tmp" ] && cp "$f" "$keep" && f=$keep
		echo "run.sh: reproducer: $f (replay: $harness $f)" >&2
		od -A d -t x1 "$f" | head -20 >&2
	done
	echo "run.sh: $(basename "$harness") failed with status $status" >&2
fi
exit "$status"
