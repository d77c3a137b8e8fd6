#!/bin/sh
# cpython_fds.sh: CPython's own tests of the descriptors a child sees (test_subprocess:
# test_pass_fds*, test_close_fds*, test_pass_fds_redirected, which lists every descriptor below
# the child's limit) under ZMM_LEAKS=1, which made them fail while zmm's own descriptors sat at
# 3, 4 and 5 (issue 13). Proof that every python3 process was tracked: each leaves an exit report
# (ZMM_REPORT_FORMAT=json writes one even when nothing leaked). No LD_DEBUG here: its log would
# be a descriptor of its own in every child. Skips (77) when CPython's test suite is missing.
set -u
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
python=/usr/bin/python3.11
if [ ! -x "$python" ] || [ ! -f /usr/lib/python3.11/test/test_subprocess.py ]; then
	echo "cpython_fds.sh: SKIP: CPython's test suite is not installed (libpython3.11-testsuite; scripts/install-deps)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-cpython-fds.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/reports" "$tmp/home" || exit 1
(cd "$tmp" && env -u LD_DEBUG HOME="$tmp/home" LD_PRELOAD="$lib" ZMM_LEAKS=1 ZMM_REPORT_FORMAT=json \
	ZMM_REPORT="$tmp/reports/%p.json" "$python" -m test -v test_subprocess \
	-m 'test_pass_fds*' -m 'test_close_fds*' -m test_pass_fds_redirected) >"$tmp/log" 2>&1
status=$?
ran=$(grep -c ' \.\.\. ok$' "$tmp/log")
reports=$(cat "$tmp/reports"/*.json 2>/dev/null | grep -c '"zmm_report": 1')
echo "test_subprocess under ZMM_LEAKS=1: status $status, $ran tests ok, $reports exit reports"
if [ "$status" != 0 ] || [ "$ran" -lt 5 ] ||
   ! grep -A1 '^test_pass_fds_redirected ' "$tmp/log" | grep -q ' \.\.\. ok$' ||
   [ "$reports" -lt 5 ]; then
	echo "FAIL: CPython's descriptor tests under tracking"
	tail -n 40 "$tmp/log"
	exit 1
fi
echo "ok"
