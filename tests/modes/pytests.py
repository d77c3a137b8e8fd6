"""pytests.py [--skip TEST_ID]... TEST...: CPython's own tests (Debian's libpython3.11-testsuite) with unittest, for the
mode matrix. Prints one line per test module with its counts, and the id of every test that
failed or erred with the last line of its traceback, sorted: nothing that depends on timing, so two runs of the same tests print the
same (tracebacks go to stderr, which run.py does not compare for this cell).

As regrtest does by default, no optional resource is enabled (network, cpu, largefile...: the
tests that need one are skipped), and each module runs in a temporary current directory.
--skip leaves out a test method (its id without the module prefix "test.", e.g.
test_subprocess.POSIXProcessTestCase.test_pass_fds_redirected), in every run alike.
Exit status 0 when every test passed (or was skipped), 1 otherwise.
"""
import io
import os
import sys
import tempfile
import unittest

from test import support

support.use_resources = []          # regrtest's default: no -u option
support.verbose = 0

args = sys.argv[1:]
skips = set()
while args and args[0] == "--skip":
    skips.add("test." + args[1])
    args = args[2:]


def without_skips(suite):
    """SUITE less the tests named by --skip."""
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.addTest(without_skips(t))
        elif t.id() not in skips:
            out.addTest(t)
    return out


failed_any = False
for name in args:
    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)
        try:
            suite = without_skips(unittest.defaultTestLoader.loadTestsFromName("test." + name))
            stream = io.StringIO()
            result = unittest.TextTestRunner(stream=stream, verbosity=0).run(suite)
        finally:
            os.chdir(cwd)
    why = {t.id(): (tb.strip().splitlines() or ["?"])[-1][:200] for t, tb in result.failures + result.errors}
    bad = sorted(t.id() + ": " + why[t.id()] for t, _ in result.failures + result.errors)
    bad += sorted(t.id() + " (unexpected success)" for t in result.unexpectedSuccesses)
    print("%s: %d run, %d skipped, %d expected failures, %d failed" % (
        name, result.testsRun, len(result.skipped), len(result.expectedFailures), len(bad)))
    for t in bad:
        print("    FAILED " + t)
    if bad:
        failed_any = True
        sys.stderr.write(stream.getvalue())
    sys.stdout.flush()
sys.exit(1 if failed_any else 0)
