#!/usr/bin/env python3
"""proof.py: proof that the process of a server test ran on zmm's malloc, from two witnesses that
a library without malloc cannot fake (servers-canary checks that it fails them both).

proof.py bindings LIB LOGDIR PROG...: from the dynamic loader's own log. The test runs its
program under LD_PRELOAD=LIB with LD_DEBUG=bindings and LD_DEBUG_OUTPUT=LOGDIR/b (the loader writes one file per process, b.PID;
a fork child writes into its parent's). The check is the one tests/programs/compare.sh makes:
  - each PROG (the argv[0] of a process, or its last path component) ran, and every process of
    it bound `malloc' and `free' to LIB;
  - no object of any process bound a member of the malloc family to anything but LIB or the
    process's main program (a canonical PLT entry of a non-PIE executable), e.g. to libc: that
    would be a second heap.

proof.py stats FILE PID [MIN]: from zmm's own statistics of that process. The test runs it with
ZMM_STATS=1 and ZMM_REPORT=DIR/zmm.%p (the report file is where ZMM_STATS writes, at exit), and
stops it cleanly; FILE must hold "==PID==zmm: heap statistics (at exit)" whose bin table counts at
least MIN (default 1) allocations, small and large, made by zmm in that process (a fork child's
table includes what its parent counted before the fork).

Exit status: 0 proven, 3 not proven, 2 usage."""
import glob
import os
import re
import sys

FAMILY = set("malloc free calloc realloc memalign posix_memalign aligned_alloc valloc pvalloc "
             "malloc_usable_size __libc_malloc __libc_free __libc_calloc __libc_realloc "
             "__libc_memalign __libc_valloc __libc_pvalloc".split())
BINDING = re.compile(r"^\s*\d+:\s+binding file (.*?) \[\d+\] to (.*?) \[\d+\]: \w+ symbol `([^']*)'")
CONTROL = re.compile(r"^\s*\d+:\s+transferring control: (.*)$")


def check(lib, logdir, progs):
    """Returns (proven, lines of explanation)."""
    out = []
    files = sorted(glob.glob(os.path.join(logdir, "b.*")))
    if not files:
        return False, ["FAIL: LD_DEBUG wrote no binding log in %s" % logdir]
    procs = {}    # file -> {"progs": set, "bound": set of malloc/free bound to lib, "other": [...]}
    for path in files:
        p = procs[path] = {"progs": set(), "bound": set(), "other": []}
        with open(path, errors="replace") as f:
            for line in f:
                m = CONTROL.match(line)
                if m:
                    p["progs"].add(m.group(1).strip())
                    continue
                m = BINDING.match(line)
                if not m:
                    continue
                src, dst, sym = m.groups()
                if sym not in FAMILY or src == lib:
                    continue
                if dst == lib:
                    if sym in ("malloc", "free"):
                        p["bound"].add(sym)
                else:
                    p["other"].append((src, sym, dst))
    proven = True
    for prog in progs:
        mine = [p for p in procs.values()
                if any(x == prog or x.endswith("/" + prog) for x in p["progs"])]
        if not mine:
            out.append("FAIL: no process of %s in the binding log (%d process(es))" % (prog, len(procs)))
            proven = False
            continue
        missing = [p for p in mine if p["bound"] != {"malloc", "free"}]
        if missing:
            lack = sorted({"malloc", "free"} - missing[0]["bound"])
            out.append("FAIL: %s: %d of %d process(es) did not bind %s to %s" %
                       (prog, len(missing), len(mine), " and ".join(lack), lib))
            proven = False
        else:
            out.append("ok: %s: malloc and free bound to %s (%d process(es))" % (prog, lib, len(mine)))
    bad = [(src, sym, dst) for p in procs.values() for src, sym, dst in p["other"]
           if not any(dst == x or os.path.basename(dst) == os.path.basename(x) for x in p["progs"])]
    for src, sym, dst in bad[:10]:
        out.append("FAIL: %s bound `%s' to %s, not to zmm" % (src, sym, dst))
    if len(bad) > 10:
        out.append("FAIL: ... %d such bindings in all" % len(bad))
    proven &= not bad
    out.append("%d process(es) in the binding log" % len(procs))
    return proven, out


def allocations(path, pid):
    """The allocations zmm's statistics at exit of PID count (small and large), or None."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    head = "==%d==zmm: heap statistics (at exit)" % pid
    at = text.find(head)
    if at < 0:
        return None
    total = 0
    for line in text[at + len(head):].splitlines()[1:]:
        if line.startswith("=="):
            break
        m = re.match(r"^\s+\d+\s+\d+\s+(\d+)\s+\d+\s+\d+\s+\d+\s*$", line) or \
            re.match(r"^\s+large\s+pages\s+(\d+)\s", line)
        if m:
            total += int(m.group(1))
    return total


def stats(path, pid, least=1):
    n = allocations(path, pid)
    if n is None:
        return False, ["FAIL: no statistics of process %d at exit in %s (zmm not loaded, or the process "
                       "did not exit cleanly)" % (pid, path)]
    if n < least:
        return False, ["FAIL: process %d: zmm counted %d allocation(s) at exit, fewer than %d" % (pid, n, least)]
    return True, ["ok: process %d: zmm counted %d allocation(s) at exit (at least %d)" % (pid, n, least)]


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == "bindings":
        ok, lines = check(args[1], args[2], args[3:])
    elif len(args) in (3, 4) and args[0] == "stats":
        ok, lines = stats(args[1], int(args[2]), int(args[3]) if len(args) == 4 else 1)
    else:
        print("usage: proof.py bindings LIB LOGDIR PROG... | proof.py stats FILE PID [MIN]", file=sys.stderr)
        sys.exit(2)
    print("\n".join(lines))
    sys.exit(0 if ok else 3)
