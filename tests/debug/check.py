#!/usr/bin/env python3
"""check.py: ZMM_DEBUG (poison_alloc, poison_free, padding, check_on_exit) under
LD_PRELOAD=$ZMM_LIB, case by case; each fault must stop the program with SIGABRT and exactly
one "zmm:" line naming the block the program printed.
usage: check.py DEBUG_PROGRAM SOURCE CASE"""
import os
import re
import signal
import subprocess
import sys

PROG, SOURCE, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
LIB = os.environ["ZMM_LIB"]
failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += not cond


def line_of(marker):
    with open(SOURCE) as f:
        for n, text in enumerate(f, 1):
            if "/* @%s */" % marker in text:
                return n
    raise SystemExit("no marker @" + marker)


def run(args, debug, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMM_") and k != "LD_PRELOAD"}
    env.update(LD_PRELOAD=LIB, ZMM_DEBUG=debug, **extra)
    p = subprocess.run([PROG] + args, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def zmm_lines(err):
    return [l for l in err.splitlines() if l.startswith("zmm:")]


def ptr(out):
    m = re.search(r"ptr=(0x[0-9a-f]+)", out)
    return m.group(1) if m else "?"


def fault(args, debug, pattern, what, **extra):
    rc, out, err = run(args, debug, **extra)
    lines = zmm_lines(err)
    want = pattern.replace("PTR", ptr(out))
    check(rc == -signal.SIGABRT and len(lines) == 1 and re.fullmatch(want, lines[0]) and "not stopped" not in out,
          "%s: status %s, %s" % (what, rc, lines or err[-300:]))


if CASE == "overflow":
    for past in (1, 8, 40):
        fault(["overflow", str(past)], "padding=64",
              r"zmm: heap buffer overflow: 24-byte block PTR written %d byte\(s\) past its end \(free\)" % past,
              "padding=64, %d byte(s) past" % past)
    fault(["overflow", "1"], "padding=16",
          r"zmm: heap buffer overflow: 24-byte block PTR written 1 byte\(s\) past its end \(free\), "
          r"allocated at make debug\.c:%d" % line_of("make"), "with ZMM_LEAKS: where it was allocated", ZMM_LEAKS="1")
    fault(["overflow-realloc"], "padding",
          r"zmm: heap buffer overflow: 100-byte block PTR written 1 byte\(s\) past its end \(realloc\)", "realloc checks too")
    rc, out, err = run(["overflow", "1"], "")
    check(rc == 0 and "not stopped" in out and not zmm_lines(err), "without ZMM_DEBUG nothing is checked: %s" % rc)
elif CASE == "uaf":
    fault(["uaf"], "poison_free=0xCD",
          r"zmm: use after free: 64-byte block PTR written at offset 40 after it was freed \(seen by malloc\)",
          "a write after free, seen when the block comes back")
elif CASE == "poison":
    rc, out, err = run(["poison"], "poison_alloc=0xAB,poison_free=0xCD,padding=16")
    check(rc == 0 and out.strip() == "malloc 0xab calloc 0 usable 10" and not zmm_lines(err),
          "poison_alloc fills malloc, not calloc; malloc_usable_size is the size asked: %r %r" % (out, err[-200:]))
    rc, out, err = run(["poison"], "poison_alloc=7")
    check(rc == 0 and out.startswith("malloc 0x7 calloc 0"), "decimal byte: %r" % out)
elif CASE == "realloc":
    for debug in ("padding=16,poison_free,poison_alloc", "padding=24"):
        rc, out, err = run(["realloc"], debug, ZMM_LEAKS="1")
        check(rc == 0 and out.strip() == "realloc contents kept" and not zmm_lines(err),
              "%s: realloc through every size kind keeps contents: %r %r" % (debug, out, err[-300:]))
elif CASE == "check-on-exit":
    rc, out, err = run(["clean"], "check_on_exit,padding=16,poison_free")
    check(rc == 0 and not zmm_lines(err) and err == "", "a clean heap passes in silence: %s %r" % (rc, err[-300:]))
    rc, out, err = run(["clean"], "check_on_exit,padding=16,poison_free", ZMM_STATS="1")
    lines = zmm_lines(err)
    check(rc == 0 and len(lines) == 1 and re.fullmatch(
        r"zmm: ZMM_DEBUG: heap check at exit: \d+ heap\(s\), [1-9]\d* chunk\(s\), \d+ free block\(s\), \d+ freed by other threads: no fault",
        lines[0]), "with ZMM_STATS the check says it passed: %s" % lines)
    rc, out, err = run(["corrupt"], "check_on_exit")
    lines = zmm_lines(err)
    check(rc == -signal.SIGABRT and out.strip() == "corrupted" and len(lines) == 1 and
          lines[0].startswith("zmm: corrupted free list (bin "), "a corrupted link stops at exit: %s %s" % (rc, lines))
elif CASE == "every-size":
    # Every size 1..9000 live at once, then sizes to 3 MiB, under each mode that keeps a tail
    # (the run that crashed in debug_wipe), with tracking too, and the heap check at exit.
    for debug in ("padding=16", "poison_free", "poison_alloc,poison_free,padding=16,check_on_exit", "poison_alloc"):
        for extra in ({}, {"ZMM_LEAKS": "1"}):
            rc, out, err = run(["every-size"], debug, **extra)
            check(rc == 0 and out == "every-size ok\n" and not zmm_lines(err),
                  "%s%s: every size served, filled and freed: status %s %r %r" %
                  (debug, " ZMM_LEAKS=1" if extra else "", rc, out, err[-300:]))
elif CASE == "bad-option":
    for bad in ("padding=99999", "poison_alloc=0x100", "frobnicate", "check_on_exit=1"):
        rc, out, err = run(["overflow", "1"], bad)
        lines = zmm_lines(err)
        check(rc == 0 and "not stopped" in out and
              lines == ["zmm: ZMM_DEBUG=%s is not valid; using the default (none)" % bad],
              "%s: one warning, nothing enabled: %s" % (bad, lines))
elif CASE == "inject":
    # Every mapping zmm asks for fails in turn (N), or from the Nth on (N+), in plain, debug and
    # tracked mode: each failure is NULL or ENOMEM, no crash, the heap check passes at exit.
    # And the faults must really be injected. The program ends by holding HOLD huge blocks at
    # once, each on a mapping of its own, so it asks for more than 40 mappings whatever came
    # before:
    # - N+ (N <= 40): at most N - 1 mappings succeed, and a held block only lives on one of
    #   them, so at least HOLD - (N - 1) held blocks must fail (with ENOMEM);
    # - N: one mapping fails, so at most one held block does; mappings 1..40 are all asked
    #   for, and most are a block's own (a held block asks for its mapping, at most a registry
    #   leaf and a record table besides, and start-up and the rounds before it for about 20),
    #   so at least a quarter of the 40 single specs must make a call fail.
    modes = {"plain": {}, "debug": {"ZMM_DEBUG": "padding=16,poison_free"},
             "tracked": {"ZMM_LEAKS": "1", "ZMM_REPORT_FORMAT": "json"}}
    singles = [str(n) for n in range(1, 41)]
    for mode, extra in modes.items():
        injected = survived = single_failing = 0
        for spec in singles + ["%d+" % n for n in (1, 2, 3, 5, 8, 13, 21, 34)]:
            debug = "check_on_exit," + extra.get("ZMM_DEBUG", "")
            env = {k: v for k, v in extra.items() if k != "ZMM_DEBUG"}
            rc, out, err = run(["inject"], debug.rstrip(","), ZMM_FAIL_MAP=spec, ZMM_STATS="1", **env)
            m = re.fullmatch(r"inject: (\d+) failed, bad (\d+), held (\d+) failed of (\d+)\n", out)
            lines = [l for l in zmm_lines(err) if not l.startswith("zmm: ZMM_DEBUG: heap check at exit: ")
                     and "not enough memory to scan the heap" not in l and "cannot start" not in l]
            checked = any(l.startswith("zmm: ZMM_DEBUG: heap check at exit: ") and l.endswith("no fault")
                          for l in zmm_lines(err))
            ok = rc == 0 and m and m.group(2) == "0" and not lines and (checked or spec.endswith("+"))
            injected += 1
            survived += bool(ok)
            if not ok:
                check(False, "%s, ZMM_FAIL_MAP=%s: status %s, %r, %s" % (mode, spec, rc, out, lines or err[-300:]))
                continue
            failed, held_failed, hold = int(m.group(1)), int(m.group(3)), int(m.group(4))
            if spec.endswith("+"):
                n = int(spec[:-1])
                check(held_failed >= hold - (n - 1),
                      "%s, ZMM_FAIL_MAP=%s: mappings %d and later fail: %d of %d held blocks failed "
                      "(at least %d must); %d calls failed in all" % (mode, spec, n, held_failed, hold, hold - (n - 1), failed))
            else:
                single_failing += failed > 0
                if held_failed > 1:
                    check(False, "%s, ZMM_FAIL_MAP=%s: one mapping failed, but %d held blocks did" % (mode, spec, held_failed))
        check(survived == injected, "%s: %d of %d injected faults survived" % (mode, survived, injected))
        check(single_failing >= len(singles) // 4,
              "%s: %d of the %d single specs made a call fail (at least %d must)" %
              (mode, single_failing, len(singles), len(singles) // 4))
    rc, out, err = run(["inject"], "", ZMM_FAIL_MAP="x7")
    check(rc == 0 and out == "inject: 0 failed, bad 0, held 0 failed of 48\n" and
          "zmm: ZMM_FAIL_MAP=x7 is not valid; using the default (none)" in zmm_lines(err),
          "a bad ZMM_FAIL_MAP warns and fails nothing: %r %s" % (out, zmm_lines(err)))
elif CASE == "programs":
    # Real programs under every check at once: the same output as without zmm, and at exit one
    # line, the heap check's.
    script = "import json; d = {str(i): [i] * 3 for i in range(50000)}; print(len(json.dumps(d)), sorted(d)[:3])"
    programs = [["python3", "-c", script],
                ["perl", "-e", 'my %h; $h{$_} = [($_) x 3] for 1..50000; print scalar(keys %h), "\\n";'],
                ["sqlite3", ":memory:", "create table t(a); insert into t values (1),(2),(3); select sum(a), group_concat(a) from t;"],
                ["bash", "-c", "a=(); for i in $(seq 1 2000); do a+=(x$i); done; echo ${#a[@]} ${a[1999]}"],
                ["git", "--version"]]
    for args in programs:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZMM_") and k != "LD_PRELOAD"}
        plain = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        env.update(LD_PRELOAD=LIB, ZMM_DEBUG="poison_alloc,poison_free,padding=16,check_on_exit", ZMM_STATS="1")
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        lines = zmm_lines(p.stderr)
        check(p.returncode == plain.returncode == 0 and p.stdout == plain.stdout and len(lines) >= 1 and
              all(l.startswith("zmm: ZMM_DEBUG: heap check at exit: ") and l.endswith("no fault") for l in lines),
              "%s: same output, heap check passed: %s %s" % (args[0], p.returncode, lines[:3] or p.stderr[-300:]))
else:
    raise SystemExit("unknown case " + CASE)
sys.exit(1 if failures else 0)
