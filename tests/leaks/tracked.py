#!/usr/bin/env python3
"""tracked.py PROGRAM [ARGS]...: a preload suite program again with tracking on (ZMM_LEAKS from
the test's environment, 1), and proof that tracking ran on it. The program must pass its own
checks as without tracking (exit status 0), and leak one block of LEAK bytes on purpose
(ZT_LEAK, zt_deliberate_leak in tests/preload/zmm_test.h); its exit report (ZMM_REPORT_FORMAT
=json, ZMM_REPORT=DIR/zmm.%p) must be one object of that very process (its pid, trigger
"exit") whose summary is sane and whose leaks hold that block: a direct leak of LEAK bytes in
one object, allocated from zt_deliberate_leak. With tracking off or ignored there is no report,
or no such leak, and the test fails."""
import json
import os
import subprocess
import sys
import tempfile

LEAK = 4242
failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += not cond


with tempfile.TemporaryDirectory(prefix="zmm-tracked.") as tmp:
    env = dict(os.environ, ZMM_REPORT_FORMAT="json", ZMM_REPORT=os.path.join(tmp, "zmm.%p"), ZT_LEAK=str(LEAK))
    print("ZMM_LEAKS=%s LD_PRELOAD=%s %s" % (env.get("ZMM_LEAKS", "(unset)"), env.get("LD_PRELOAD", "(unset)"),
                                             " ".join(sys.argv[1:])))
    proc = subprocess.Popen(sys.argv[1:], env=env)
    rc = proc.wait(timeout=600)
    check(rc == 0, "the program passed its own checks (status %d)" % rc)
    path = os.path.join(tmp, "zmm.%d" % proc.pid)
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = None
    others = sorted(set(os.listdir(tmp)) - {os.path.basename(path)})
    if text is None:
        check(False, "no exit report of process %d (%s; other files: %s)" % (proc.pid, path, others or "none"))
        sys.exit(1)
    reports = []
    for line in text.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            check(False, "a report line is not JSON: %r" % line[:200])
    exits = [r for r in reports if r.get("trigger") == "exit"]
    check(len(exits) == 1, "one exit report in %s (%d report(s) in all)" % (path, len(reports)))
    if not exits:
        sys.exit(1)
    r = exits[-1]
    check(r.get("zmm_report") == 1 and r.get("pid") == proc.pid,
          "the report is zmm's, of process %d: zmm_report %r, pid %r" % (proc.pid, r.get("zmm_report"), r.get("pid")))
    prog = r.get("program") or ""
    check(os.path.realpath(prog) == os.path.realpath(sys.argv[1]),
          "the report names the program: %r" % prog)
    s = r.get("summary") or {}
    keys = ["direct_bytes", "direct_blocks", "indirect_bytes", "indirect_blocks",
            "reachable_bytes", "reachable_blocks"]
    sane = all(isinstance(s.get(k), int) and s[k] >= 0 for k in keys) and \
        all((s[k + "_bytes"] == 0) == (s[k + "_blocks"] == 0) for k in ("direct", "indirect", "reachable")
            if isinstance(s.get(k + "_bytes"), int) and isinstance(s.get(k + "_blocks"), int))
    check(sane, "a sane summary: %s" % {k: s.get(k) for k in keys})
    leaks = r.get("leaks") or []
    mine = [g for g in leaks if g.get("kind") == "direct" and g.get("bytes") == LEAK and g.get("blocks") == 1
            and any((fr or {}).get("function") == "zt_deliberate_leak" for fr in g.get("stack") or [])]
    check(len(mine) == 1, "the deliberate leak is reported: direct, %d bytes in 1 object, from zt_deliberate_leak "
          "(%d group(s): %s)" % (LEAK, len(leaks), [(g.get("kind"), g.get("bytes"), g.get("blocks"),
                                                     [(fr or {}).get("function") for fr in (g.get("stack") or [])[:2]])
                                                    for g in leaks[:5]]))
    check(isinstance(s.get("direct_bytes"), int) and s["direct_bytes"] >= LEAK and s.get("direct_blocks", 0) >= 1,
          "the summary counts it: %s byte(s) in %s direct block(s)" % (s.get("direct_bytes"), s.get("direct_blocks")))
sys.exit(1 if failures else 0)
