#!/usr/bin/env python3
"""canary.py RUN STUBDIR: run.py's checks can fail.

Runs run.py on a small perl program that allocates (PROGRAM below) with ZMM_LIB set to each stub
of stub.c (libmodes_stub_NAME.so in STUBDIR), each wrong in one way, and requires run.py to fail
(exit status 1) naming that very fault; and first with the real libzmm.so ($ZMM_LIB), which must
pass in every mode used, so that the failures come from the stubs and not from the program.
The program lives 3..4 s where the check needs boundaries seen before the exit (run.py trusts the
exit report's request number only when the first signal came 2 s before the exit), else a moment.
Exit status 0 pass, 1 fail, 77 skip (no perl).
"""
import os
import shutil
import subprocess
import sys

if os.environ.get("LD_PRELOAD"):
    os.execve(sys.executable, [sys.executable] + sys.argv,
              {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})

PROGRAM = ["perl", "-e", 'my %h; $h{$_} = [$_] for 1..5000; my $t = time + $ARGV[0]; '
           'select(undef, undef, undef, 0.1) while time < $t; print scalar(keys %h), "\\n"']
CASES = [
    # (stub, mode, seconds the program lasts, what run.py must say)
    ("nomalloc", "plain", 0, "interposition by"),
    ("nomalloc", "leaks", 0, "exited without an exit report"),
    ("corrupt", "debug", 0, "stdout differs"),
    ("badreport", "leaks", 0, "is not JSON"),
    ("deaf", "requests", 4, "handler never showed"),
    ("numb", "requests", 4, "the exit report says request 1 after"),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("perl"):
        print("SKIP: perl is not installed")
        return 77
    run, stubdir = sys.argv[1], sys.argv[2]
    real = os.environ["ZMM_LIB"]
    failures = 0

    def run_py(lib, mode, seconds):
        env = dict(os.environ, ZMM_LIB=lib)
        p = subprocess.run([sys.executable, run, "--mode=" + mode, "canary", "--"] + PROGRAM + [str(seconds)],
                           env=env, capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout + p.stderr

    for mode, seconds in sorted({(m, s) for _, m, s, _ in CASES}):
        rc, out = run_py(real, mode, seconds)
        if rc != 0:
            print("FAIL: with the real library, %s mode (%d s) does not pass (status %d):\n%s" % (mode, seconds, rc, out))
            failures += 1
        else:
            print("ok: the real library passes in %s mode (%d s)" % (mode, seconds))
    for stub, mode, seconds, want in CASES:
        lib = os.path.join(stubdir, "libmodes_stub_%s.so" % stub)
        rc, out = run_py(lib, mode, seconds)
        shown = "\n".join("    | " + l for l in out.splitlines()[:30])
        if rc == 1 and want in out:
            print("ok: stub %s in %s mode: run.py fails, saying %r" % (stub, mode, want))
        else:
            print("FAIL: stub %s in %s mode: run.py exited %d and %s %r:\n%s" % (
                stub, mode, rc, "said" if want in out else "did not say", want, shown))
            failures += 1
    print("%d of %d canary checks failed" % (failures, len(CASES) + len({(m, s) for _, m, s, _ in CASES})))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
