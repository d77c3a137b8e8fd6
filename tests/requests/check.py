#!/usr/bin/env python3
"""check.py: request boundaries (zmm_request_end) under LD_PRELOAD=$ZMM_LIB with ZMM_LEAKS=1.

cases:
  reports   6 requests of loop: requests 2, 4 and 6 each report 2 MiB leaked from handle at the
            @leak line, called from main at @end; 1, 3 and 5 print nothing; at exit all three.
  reclaim   150 requests leaking 2 MiB every other one: with ZMM_REQUEST_RECLAIM=1 RSS stays
            under 40 MiB and the cache is intact; without it RSS passes 140 MiB.
  signal    the same 6 requests, each ended by SIGUSR2 (ZMM_REQUEST_SIGNAL=USR2): the same
            reports, written by zmm's request thread; reclaim by signal without ZMM_LEAKS
            (nothing printed, RSS flat); and the signal alone, which only counts requests.
  handler   the program installs its own SIGUSR2 handler after start-up and keeps it: zmm
            says so once.
  retained  the 6 requests with ZMM_REQUEST_RETAINED=1: every request's report also lists the
            cache string it kept (18 bytes from handle at @cache) as retained; 1, 3 and 5 (no
            leak) say "memory retained"; JSON says "retained".
  limit     ZMM_REQUEST_LIMIT=8M, no ZMM_LEAKS: loop grow takes 1 MiB blocks until malloc
            fails (ENOMEM, PHP's message naming the request): 8 per request, 4 more after freeing
            4, and again 8 in the next request while the older blocks stay live.
  threads   30 rounds of 8 threads, each returning a block it allocated, a request ended (with
            ZMM_REQUEST_RECLAIM=1) between their exit and their join: the blocks the thread
            descriptors hold are reachable, not reclaimed; and the descriptors' DTVs with them
            (the next round's threads reuse the cached stacks).
  ctypes    python3 calls zmm_request_end through ctypes: the returned numbers count up and a
            leak made in between (malloc called through ctypes, its result dropped) is reported
            in its request.
usage: check.py LOOP SOURCE CASE
"""
import os
import re
import subprocess
import sys

LOOP, SOURCE, CASE = sys.argv[1], sys.argv[2], sys.argv[3]


def line_of(marker):
    with open(SOURCE) as f:
        for n, text in enumerate(f, 1):
            if "/* @%s */" % marker in text:
                return n
    raise SystemExit("no marker @%s in %s" % (marker, SOURCE))


def run(args, **env):
    e = dict(os.environ, **dict({"ZMM_LEAKS": "1"}, **env))
    p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL: %s exited %d\n%s" % (args, p.returncode, p.stderr[-2000:]))
    return p.stdout, p.stderr


def reports(err):
    """[(when, [(kind, bytes, objects, [frames])])] from the text reports in ERR."""
    out = []
    for block in re.split(r"(?m)^==\d+==zmm: (?:detected memory leaks|memory retained) ", err)[1:]:
        when = re.match(r"\(([^)]*)\)", block).group(1)
        groups = []
        for g in re.finditer(r"(?m)^(Direct|Indirect|Retained) (?:leak|memory) of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:\n((?:    #.*\n)+)", block):
            frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S+:\d+)", g.group(4))
            groups.append((g.group(1), int(g.group(2)), int(g.group(3)), frames))
        out.append((when, groups))
    return out


failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += not cond


def check_reports(out, err):
    leak = ("handle", "loop.c:%d" % line_of("leak"))
    got = reports(err)
    whens = [w for w, _ in got]
    check(whens == ["request 2", "request 4", "request 6", "at exit"], "reports in order: %s" % whens)
    for when, groups in got[:3]:
        check(len(groups) == 1 and groups[0][:3] == ("Direct", 2 << 20, 1), "%s: one 2 MiB direct leak: %s" % (when, [g[:3] for g in groups]))
        check(groups and groups[0][3][:1] == [leak], "%s: leaked at %s: %s" % (when, leak, groups[0][3][:2] if groups else None))
    exit_groups = got[-1][1] if got else []
    check([g[:3] for g in exit_groups] == [("Direct", 6 << 20, 3)], "at exit: the three together: %s" % [g[:3] for g in exit_groups])
    check("requests 6, cache 6/6 intact" in out, "program output: %s" % out.strip())


if CASE == "reports":
    check_reports(*run([LOOP, "6"]))
elif CASE == "signal":
    check_reports(*run([LOOP, "6", "signal"], ZMM_REQUEST_SIGNAL="USR2"))
    out, err = run([LOOP, "150", "signal"], ZMM_LEAKS="0", ZMM_REQUEST_SIGNAL="SIGUSR2", ZMM_REQUEST_RECLAIM="1")
    m = re.search(r"requests (\d+), cache (\d+)/(\d+) intact, rss (\d+) MiB", out)
    check(m and m.group(2) == m.group(3) == "16" and int(m.group(4)) < 40, "reclaim by signal, no ZMM_LEAKS: %s" % out.strip())
    check(err == "", "reclaim by signal, no ZMM_LEAKS: nothing printed: %r" % err[:300])
    # The signal alone (nothing tracked, nothing reclaimed): every signal is a boundary that
    # only counts; the process must not die of it (issue 13).
    out, err = run([LOOP, "6", "signal"], ZMM_LEAKS="0", ZMM_REQUEST_SIGNAL="USR2")
    check("zmm ended request 7" in out and err == "",
          "ZMM_REQUEST_SIGNAL alone: 6 signals counted, then the API ends request 7: %r %r" % (out.strip(), err[:300]))
elif CASE == "handler":
    script = ("import os, signal, time\n"
              "signal.signal(signal.SIGUSR2, lambda *a: None)\n"
              "time.sleep(3.5)\n")
    out, err = run([sys.executable, "-c", script], ZMM_REQUEST_SIGNAL="USR2")
    lines = [l for l in err.splitlines() if "ZMM_REQUEST_SIGNAL" in l]
    check(len(lines) == 1 and "installed its own handler for signal 12" in lines[0] and
          "go on only if that handler calls the one it replaced" in lines[0], "one warning: %s" % lines)
elif CASE == "reclaim":
    out, _ = run([LOOP, "150"], ZMM_REQUEST_RECLAIM="1")
    m = re.search(r"requests (\d+), cache (\d+)/(\d+) intact, rss (\d+) MiB", out)
    check(m and m.group(1) == "150" and m.group(2) == m.group(3) == "16", "reclaim: %s" % out.strip())
    check(m and int(m.group(4)) < 40, "reclaim: RSS stays flat: %s MiB" % (m and m.group(4)))
    out, _ = run([LOOP, "150"])
    m = re.search(r"rss (\d+) MiB", out)
    check(m and int(m.group(1)) > 140, "no reclaim: RSS grows 2 MiB a leaky request: %s MiB" % (m and m.group(1)))
elif CASE == "retained":
    out, err = run([LOOP, "6"], ZMM_REQUEST_RETAINED="1")
    cache = ("handle", "loop.c:%d" % line_of("cache"))
    got = reports(err)
    whens = [w for w, _ in got]
    check(whens == ["request %d" % n for n in range(1, 7)] + ["at exit"], "a report per request: %s" % whens)
    for when, groups in got[:6]:
        n = int(when.split()[1])
        kept = [g for g in groups if g[0] == "Retained" and cache in g[3][:2]]
        check(len(kept) == 1 and kept[0][1:3] == (18, 1), "%s: the cache string retained: %s" % (when, [g[:3] for g in kept]))
        leaks = [g[:3] for g in groups if g[0] == "Direct"]
        check(leaks == ([("Direct", 2 << 20, 1)] if n % 2 == 0 else []), "%s: leaks %s" % (when, leaks))
    heads = re.findall(r"(?m)^==\d+==zmm: (detected memory leaks|memory retained) \((request \d+)\)", err)
    check(heads[:6] == [("memory retained" if n % 2 else "detected memory leaks", "request %d" % n) for n in range(1, 7)],
          "headers: %s" % heads[:6])
    check(re.search(r"(?m)^RETAINED: zmm: \d+ byte\(s\) in \d+ allocation\(s\) born in request 3 still reachable\.$", err),
          "a RETAINED line")
    out, err = run([LOOP, "2"], ZMM_REQUEST_RETAINED="1", ZMM_REPORT_FORMAT="json")
    import json
    objs = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
    kinds = [sorted({g["kind"] for g in o["leaks"]}) for o in objs]
    check([o["request"] for o in objs][:2] == [1, 2] and kinds[1] == ["direct", "retained"], "JSON: %s" % kinds)
elif CASE == "limit":
    out, err = run([LOOP, "3", "grow"], ZMM_LEAKS="0", ZMM_REQUEST_LIMIT="8M")
    rows = re.findall(r"request (\d+): (\d+) then (\d+) \((\S+), (\S+)\)", out)
    check(rows == [(str(n), "8", "4", "ENOMEM", "ENOMEM") for n in (2, 3, 4)], "8, then 4 after freeing 4, per request: %s" % rows)
    msgs = re.findall(r"(?m)^zmm: Allowed memory size of 8388608 bytes exhausted in request (\d+) \(tried to allocate 1048576 bytes\)$", err)
    check(msgs == ["2", "2", "3", "3", "4", "4"], "PHP's message naming the request: %s" % msgs)
    out, err = run([LOOP, "2", "grow"], ZMM_LEAKS="0", ZMM_REQUEST_LIMIT="banana")
    check("ZMM_REQUEST_LIMIT" in err and re.search(r"request 2: (\d+)", out) and
          re.search(r"request 2: (\d+)", out).group(1) == "64", "a bad value warns and leaves no limit: %r" % err[:200])
elif CASE == "threads":
    for extra in ({"ZMM_REQUEST_RECLAIM": "1"}, {"ZMM_REQUEST_RECLAIM": "1", "ZMM_LEAKS": "0"}):
        out, err = run([LOOP, "30", "threads"], **extra)
        check(out.strip() == "threads: 30 rounds, 0 bad results" and "zmm:" not in err,
              "%s: thread results and DTVs survive reclaim: %r %r" % (extra, out.strip(), err[-300:]))
elif CASE == "ctypes":
    script = (
        "import ctypes\n"
        "zmm = ctypes.CDLL(None)\n"
        "end = zmm.zmm_request_end\n"
        "end.restype = ctypes.c_uint\n"
        "a = end()\n"
        # malloc from the global scope (zmm's; CDLL('libc.so.6').malloc would be glibc's own),
        # its result never turned into a Python int, whose stale copy would keep the block
        "zmm.malloc.restype = None\n"
        "zmm.malloc(123457)\n"
        "b = end()\n"
        "print(a, b)\n")
    out, err = run([sys.executable, "-c", script])
    check(re.fullmatch(r"(\d+) (\d+)\n", out) and int(out.split()[1]) == int(out.split()[0]) + 1, "numbers count up: %s" % out.strip())
    got = reports(err)
    leaked = [(w, g[:3]) for w, gs in got if w.startswith("request") for g in gs if g[1] == 123457]
    check(len(leaked) == 1 and leaked[0][1] == ("Direct", 123457, 1), "the ctypes malloc reported in its request: %s" % leaked)
else:
    raise SystemExit("unknown case " + CASE)
sys.exit(1 if failures else 0)
