#!/usr/bin/env python3
"""run.py: one cell of the mode matrix: a command under one of zmm's modes, against a run without.

    run.py --mode=MODE [OPTIONS] NAME [OPTIONS] -- COMMAND [ARGS]...

Runs COMMAND twice, each time in a fresh empty directory (the same path both times, also $HOME),
with LC_ALL=C, TZ=UTC and /dev/null (or --stdin FILE) as standard input:
  1. the baseline: without zmm (LD_PRELOAD removed), or with --baseline=zmm under plain zmm
     (LD_PRELOAD=$ZMM_LIB alone: for the preload suite's programs, which refuse to run without);
  2. the mode run: LD_PRELOAD=$ZMM_LIB, the variables of MODE, and LD_DEBUG=bindings into files.
Both must end with the same exit status (the baseline's must be --status, default 0) and print the
same stdout and (unless --no-stderr) stderr: zmm's reports go to files, never to the program's
stderr. Then:
  - interposition: the binding logs must prove that every --bind PROG (default: COMMAND) bound
    malloc and free to $ZMM_LIB and that nothing bound a member of the family elsewhere
    (tests/programs/bindings.awk, the check of compare.sh);
  - reports (modes with ZMM_LEAKS): every file in the report directory parses (JSON: one object per
    line with every key, a pid that is the file's %p, sums that match the groups; text:
    LeakSanitizer's shape line by line, SUMMARY and Total lines that match the groups); each
    process image named by --reports-from PROG (default: the --bind list; `--reports-from=` for
    none) left a report with trigger "exit" (JSON modes: written even with no leak);
  - boundaries (modes with ZMM_REQUEST_SIGNAL): the signal (SIGUSR2) is sent to the process every
    50..100 ms from the moment zmm's handler is installed (bit 12 of SigCgt in /proc/PID/status;
    the default action would kill it before), at least once; with ZMM_LEAKS its exit report must
    say that the boundaries were seen (request >= 2 when the first signal went 2 s or more before
    the exit, and no more than the signals sent + 1), and its request reports must be numbered
    below it. In requests-tree mode every descendant whose handler is installed gets the signal
    too; that mode uses SIGURG, whose default action is to ignore it, since a child that execs
    loses zmm's handler until zmm starts again in the new image (SIGUSR2 would kill it then).

MODE is one of the names below, or several joined with '+' (leaks+debug: both sets of variables):
  plain      nothing more than LD_PRELOAD
  leaks      ZMM_LEAKS=1 ZMM_REPORT=<tmp>/reports/%p.json ZMM_REPORT_FORMAT=json
  leaks-text ZMM_LEAKS=1 ZMM_REPORT=<tmp>/reports/%p.txt (text reports: only where leaks were)
  debug      ZMM_DEBUG=poison_alloc,poison_free,padding=16,check_on_exit
  requests   ZMM_LEAKS=1 ZMM_REQUEST_SIGNAL=USR2 ZMM_REQUEST_RECLAIM=1 and JSON reports to files,
             and the signal sender
  reclaim    ZMM_REQUEST_SIGNAL=USR2 ZMM_REQUEST_RECLAIM=1 (no tracking, no report), and the sender
  requests-tree  as requests with ZMM_REQUEST_SIGNAL=URG, the signal sent to the whole process tree

OPTIONS:
  --baseline=nozmm|zmm   what the mode run is compared with (default nozmm)
  --bind=PROG            a program whose processes must be interposed (repeatable)
  --reports-from=PROG    a program whose every process must leave an exit report (repeatable)
  --stdin=FILE           standard input of both runs
  --ignore-lines=REGEX   lines of stdout and stderr that match REGEX are left out of the comparison
                         (a program's timings)
  --allow-binding=OBJECT:SYMBOL  a binding of a malloc family SYMBOL by OBJECT (a basename) to
                         something else than zmm that is not a second heap (a program's own
                         dlsym(handle, "malloc"), which finds libc's whatever the preload)
  --no-stderr            do not compare stderr (the program's own varies)
  --env=K=V              a variable of both runs (repeatable)
  --mode-env=K=V         a variable of the mode run only (repeatable)
  --rlimit-as=SIZE       RLIMIT_AS (ulimit -v) of both runs, in bytes with an optional K, M or G
  --status=N             the exit status the baseline must have (default 0)
  --timeout=SECONDS      hang guard for each run (default 600); the process group is killed

ZMM_LIB names libzmm.so (meson's preload_env sets it). Other ZMM_* variables of the environment are
passed to both runs (ZMM_MEM_TYPE=malloc meson test --suite modes tests that configuration), except
ZMM_STATS (it writes to stderr). ZMM_MODES_KEEP=1 keeps the temporary directory of a failed cell.
On failure the last lines of the mode run's stderr and a command that reproduces it are printed.
Exit status: 0 pass, 1 fail, 2 usage, 77 skip (COMMAND is not installed).
"""

import json
import os
import random
import re
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

# The runner's own allocations have nothing to do with the test: meson's preload_env puts libzmm.so
# in LD_PRELOAD for the test command itself, so run again without it.
if os.environ.get("LD_PRELOAD"):
    _env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

HERE = os.path.dirname(os.path.realpath(__file__))
BINDINGS_AWK = os.path.join(HERE, "..", "programs", "bindings.awk")

MODES = {
    "plain": {},
    "leaks": {"ZMM_LEAKS": "1", "ZMM_REPORT": "{reports}/%p.json", "ZMM_REPORT_FORMAT": "json"},
    "leaks-text": {"ZMM_LEAKS": "1", "ZMM_REPORT": "{reports}/%p.txt"},
    "debug": {"ZMM_DEBUG": "poison_alloc,poison_free,padding=16,check_on_exit"},
    "requests": {"ZMM_LEAKS": "1", "ZMM_REQUEST_SIGNAL": "USR2", "ZMM_REQUEST_RECLAIM": "1",
                 "ZMM_REPORT": "{reports}/%p.json", "ZMM_REPORT_FORMAT": "json"},
    "reclaim": {"ZMM_REQUEST_SIGNAL": "USR2", "ZMM_REQUEST_RECLAIM": "1"},
    "requests-tree": {"ZMM_LEAKS": "1", "ZMM_REQUEST_SIGNAL": "URG", "ZMM_REQUEST_RECLAIM": "1",
                      "ZMM_REPORT": "{reports}/%p.json", "ZMM_REPORT_FORMAT": "json"},
}
TREE_MODES = {"requests-tree"}      # the boundaries go to every process of the tree
SEND_EVERY = (0.050, 0.100)     # seconds between two boundaries, drawn at random
SEEN_AFTER = 2.0                # see check_reports


def usage(msg=None):
    if msg:
        print("run.py: " + msg, file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)", s)
    if not m:
        usage("bad size " + s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


# ---- command line --------------------------------------------------------------------------------
class Opts:
    mode = None
    baseline = "nozmm"
    binds = []
    reports_from = None
    stdin = "/dev/null"
    ignore = None
    allow = ()
    stderr = True
    env = {}
    mode_env = {}
    rlimit_as = None
    status = 0
    timeout = 600.0


def parse_args(argv):
    o = Opts()
    o.binds, o.env, o.mode_env = [], {}, {}
    o.name = None
    if "--" not in argv:
        usage("no -- before COMMAND")
    cut = argv.index("--")
    argv, o.cmd = argv[:cut], argv[cut + 1:]
    while argv:
        a = argv.pop(0)
        if not a.startswith("--"):
            if o.name is not None:
                usage("two names: %s and %s" % (o.name, a))
            o.name = a
            continue
        key, eq, val = a[2:].partition("=")
        if key in ("mode", "baseline", "bind", "reports-from", "stdin", "env", "mode-env",
                   "rlimit-as", "status", "timeout", "ignore-lines", "allow-binding") and not eq:
            if not argv:
                usage(a + " needs a value")
            val = argv.pop(0)
        if key == "mode":
            o.mode = val
        elif key == "baseline":
            if val not in ("nozmm", "zmm"):
                usage("--baseline is nozmm or zmm")
            o.baseline = val
        elif key == "bind":
            o.binds.append(val)
        elif key == "reports-from":
            o.reports_from = (o.reports_from or []) + ([val] if val else [])
        elif key == "stdin":
            o.stdin = os.path.abspath(val)
        elif key == "ignore-lines":
            o.ignore = re.compile(val)
        elif key == "allow-binding":
            obj, colon, sym = val.rpartition(":")
            if not colon or not obj or not sym:
                usage("--allow-binding=OBJECT:SYMBOL")
            o.allow += ("%s %s" % (obj, sym),)
        elif key == "no-stderr":
            o.stderr = False
        elif key in ("env", "mode-env"):
            k, eq2, v = val.partition("=")
            if not eq2 or not k:
                usage(a + ": K=V expected")
            (o.env if key == "env" else o.mode_env)[k] = v
        elif key == "rlimit-as":
            o.rlimit_as = parse_size(val)
        elif key == "status":
            o.status = int(val)
        elif key == "timeout":
            o.timeout = float(val)
        else:
            usage("unknown option " + a)
    if not o.mode:
        usage("--mode is required")
    if o.name is None or not o.cmd:
        usage("NAME and COMMAND are required")
    # the runs start in a directory of their own: paths relative to here (meson gives built
    # programs relative to the build directory) are made absolute
    o.cmd = [os.path.abspath(c) if "/" in c and not c.startswith("/") and os.path.exists(c) else c
             for c in o.cmd]
    if not o.binds:
        o.binds = [os.path.basename(o.cmd[0])]
    if o.reports_from is None:
        o.reports_from = list(o.binds)
    return o


def mode_vars(mode, reports):
    """The variables of MODE (names joined with '+'), {reports} filled in."""
    env = {}
    for part in mode.split("+"):
        if part not in MODES:
            usage("unknown mode %s (modes: %s)" % (part, ", ".join(MODES)))
        for k, v in MODES[part].items():
            v = v.format(reports=reports)
            if k in env and env[k] != v:
                usage("modes %s disagree on %s" % (mode, k))
            env[k] = v
    return env


# ---- running ---------------------------------------------------------------------------------------
def describe(status):
    if status < 0:
        try:
            return "killed by signal %d (%s)" % (-status, signal.Signals(-status).name)
        except ValueError:
            return "killed by signal %d" % -status
    return "exit status %d" % status


def handler_installed(pid, sig):
    """Whether /proc/PID/status shows a handler for SIG (SigCgt bit SIG - 1)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except (OSError, ValueError):
        pass
    return False


def descendants(top):
    """Pids of the processes below TOP now (children of children too)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [top]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class Sender(threading.Thread):
    """Sends SIGUSR2 to PID every 50..100 ms from when its handler is installed until it exits
    (PIDFD becomes readable). The pidfd makes sure that the signal never reaches another process
    that took the pid."""

    def __init__(self, pid, pidfd, sig, tree):
        super().__init__(daemon=True)
        self.pid, self.pidfd, self.sig, self.tree = pid, pidfd, sig, tree
        self.sent = self.sent_tree = 0
        self.first = self.end = None     # monotonic times of the first signal and of the exit
        self.installed = False
        self.rng = random.Random(pid)

    def exited(self, wait_ms):
        p = select.poll()
        p.register(self.pidfd, select.POLLIN)
        return bool(p.poll(wait_ms))

    def run(self):
        while not handler_installed(self.pid, self.sig):
            if self.exited(2):
                return
        self.installed = True
        while True:
            try:
                signal.pidfd_send_signal(self.pidfd, self.sig)
                self.sent += 1
                if self.first is None:
                    self.first = time.monotonic()
            except ProcessLookupError:
                self.end = time.monotonic()
                return
            if self.tree:
                self.signal_descendants()
            if self.exited(int(self.rng.uniform(*SEND_EVERY) * 1000)):
                self.end = time.monotonic()
                return

    def signal_descendants(self):
        for pid in descendants(self.pid):
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:   # checked after pidfd_open: the handler of the very process the pidfd holds
                if handler_installed(pid, self.sig):
                    signal.pidfd_send_signal(fd, self.sig)
                    self.sent_tree += 1
            except OSError:
                pass
            finally:
                os.close(fd)


def run(o, env, work, out, err, signals=None):
    """Runs the command in WORK (made afresh); returns (status, sender or None)."""
    shutil.rmtree(work, ignore_errors=True)
    os.mkdir(work)

    def limits():
        if o.rlimit_as:
            resource.setrlimit(resource.RLIMIT_AS, (o.rlimit_as, o.rlimit_as))

    with open(o.stdin, "rb") as fin, open(out, "wb") as fout, open(err, "wb") as ferr:
        try:
            p = subprocess.Popen(o.cmd, env=env, cwd=work, stdin=fin, stdout=fout, stderr=ferr,
                                 start_new_session=True, preexec_fn=limits)
        except OSError as e:
            print("FAIL %s: cannot run %s: %s" % (o.name, o.cmd[0], e))
            sys.exit(1)
    sender = None
    pidfd = os.pidfd_open(p.pid)     # before any wait: the pid is still ours
    try:
        if signals:
            sender = Sender(p.pid, pidfd, signals, o.tree)
            sender.start()
        try:
            status = p.wait(timeout=o.timeout)
        except subprocess.TimeoutExpired:
            print("FAIL %s: still running after %g s (a hang guard): killing its process group"
                  % (o.name, o.timeout))
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            status = None
        if sender:
            sender.join()
    finally:
        os.close(pidfd)
    try:    # whatever it left behind in its process group (its own children) goes too
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    return status, sender


def tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "    (none)"
    out = ["    " + l for l in lines[-n:]]
    if len(lines) > n:
        out.insert(0, "    ... (%d lines; the last %d)" % (len(lines), n))
    return "\n".join(out) if out else "    (empty)"


def diff(a, b, what):
    r = subprocess.run(["diff", "-u", "--label", "baseline", "--label", "mode", a, b],
                       capture_output=True, text=True, errors="replace")
    lines = r.stdout.splitlines()
    print("--- %s differs (diff -u baseline mode):" % what)
    print("\n".join(lines[:60]) + ("\n    ... (%d lines of diff)" % len(lines) if len(lines) > 60 else ""))


# ---- the reports ------------------------------------------------------------------------------------
class ReportError(Exception):
    pass


SUMMARY_KEYS = {"direct_bytes", "direct_blocks", "indirect_bytes", "indirect_blocks",
                "reachable_bytes", "reachable_blocks", "suppressed_bytes", "suppressed_blocks"}
FRAME_KEYS = {"address", "function", "file", "line", "object", "offset"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse_json_reports(text, pid):
    """The reports of one file (one JSON object per line); returns [(trigger, request)]."""
    if text and not text.endswith("\n"):
        raise ReportError("does not end with a newline")
    got = []
    for n, line in enumerate(text.splitlines(), 1):
        def need(cond, what):
            if not cond:
                raise ReportError("line %d: %s: %r" % (n, what, line[:300]))
        try:
            r = json.loads(line)
        except ValueError as e:
            raise ReportError("line %d is not JSON (%s): %r" % (n, e, line[:300]))
        need(isinstance(r, dict) and {"zmm_report", "pid", "program", "trigger", "request", "leaks",
                                      "summary"} <= set(r), "not a report object with every key")
        need(r["zmm_report"] == 1, "zmm_report is not 1")
        need(r["pid"] == pid, "pid %r in the file of %d" % (r["pid"], pid))
        need(isinstance(r["program"], str) and r["program"].startswith("/"), "program is not a path")
        need(r["trigger"] in ("exit", "request", "api"), "trigger %r" % r["trigger"])
        need(is_int(r["request"]) and r["request"] >= 1, "request %r" % r["request"])
        s = r["summary"]
        need(isinstance(s, dict) and SUMMARY_KEYS <= set(s) and
             all(is_int(v) and v >= 0 for v in s.values()), "summary")
        need(isinstance(r["leaks"], list), "leaks is not a list")
        sums = {}
        for g in r["leaks"]:
            need(isinstance(g, dict) and g.get("kind") in ("direct", "indirect", "reachable", "retained")
                 and is_int(g.get("bytes")) and is_int(g.get("blocks")) and g["blocks"] > 0
                 and g["bytes"] >= 0, "a leak group %r" % (g if not isinstance(g, dict) else
                                                             {k: g.get(k) for k in ("kind", "bytes", "blocks")}))
            need(isinstance(g.get("stack"), list) and g["stack"], "a group without a stack")
            for f in g["stack"]:
                need(isinstance(f, dict) and set(f) == FRAME_KEYS, "frame keys")
                need(isinstance(f["address"], str) and re.fullmatch(r"0x[0-9a-f]+", f["address"]) and
                     isinstance(f["offset"], str) and re.fullmatch(r"0x[0-9a-f]+", f["offset"]),
                     "frame address/offset")
                # null only for an object unloaded before the report (text: "(<unknown module>)")
                need((isinstance(f["object"], str) and f["object"]) or
                     (f["object"] is None and f["offset"] == "0x0" and f["function"] is None), "frame object")
            b, k = sums.get(g["kind"], (0, 0))
            sums[g["kind"]] = (b + g["bytes"], k + g["blocks"])
        for kind in ("direct", "indirect"):
            b, k = sums.get(kind, (0, 0))
            need((s[kind + "_bytes"], s[kind + "_blocks"]) == (b, k),
                 "summary %s %d bytes in %d blocks, the groups %d in %d"
                 % (kind, s[kind + "_bytes"], s[kind + "_blocks"], b, k))
        got.append((r["trigger"], r["request"]))
    return got


HEADER_RE = re.compile(r"==(\d+)==zmm: (detected memory leaks|memory retained) \((at exit|request (\d+))\)")
GROUP_RE = re.compile(r"(Direct leak|Indirect leak|Reachable memory|Retained memory) of (\d+) byte\(s\) "
                      r"in (\d+) object\(s\) allocated from:")
# "(<unknown module>)": an object unloaded before the report, as LeakSanitizer writes it
FRAME_RE = re.compile(r"    #(\d+) 0x[0-9a-f]+(?:( in .+)? \((.+)\+0x[0-9a-f]+\)| \(<unknown module>\))")
SUMMARY_RE = re.compile(r"SUMMARY: zmm: (\d+) byte\(s\) leaked in (\d+) allocation\(s\)\.")
RETAINED_RE = re.compile(r"RETAINED: zmm: \d+ byte\(s\) in \d+ allocation\(s\) born in request \d+ still reachable\.")
UNTRACKED_RE = re.compile(r"zmm: \d+ block\(s\) were served without a record \(out of memory\): "
                          r"their leaks are not in this report\.")
TOTAL_RE = re.compile(r"=== Total (\d+) memory leaks detected ===")
DASHES = "-" * 53


def parse_text_reports(text, pid):
    """The reports of one file in LeakSanitizer's shape; returns [(trigger, request)]."""
    if text and not text.endswith("\n"):
        raise ReportError("does not end with a newline")
    lines = text.split("\n")[:-1]
    i = 0
    got = []

    def line():
        return lines[i] if i < len(lines) else "<end of file>"

    def need(cond, what):
        if not cond:
            raise ReportError("line %d: expected %s, got %r" % (i + 1, what, line()))

    while i < len(lines):
        m = HEADER_RE.fullmatch(line())
        need(m, "a header '==PID==zmm: detected memory leaks (...)'")
        need(int(m.group(1)) == pid, "the pid of the file, %d" % pid)
        trigger, request = ("exit", None) if m.group(3) == "at exit" else ("request", int(m.group(4)))
        i += 1
        need(line() == "", "an empty line")
        i += 1
        leaked = [0, 0]
        while GROUP_RE.fullmatch(line()):
            g = GROUP_RE.fullmatch(line())
            if g.group(1).endswith("leak"):
                leaked[0] += int(g.group(2))
                leaked[1] += int(g.group(3))
            i += 1
            n = 0
            while FRAME_RE.fullmatch(line()):
                need(int(FRAME_RE.fullmatch(line()).group(1)) == n, "frame #%d" % n)
                n += 1
                i += 1
            need(n > 0, "a frame '    #0 0x... (OBJECT+0x...)'")
            need(line() == "", "an empty line after the frames")
            i += 1
        if line() == DASHES:
            i += 1
            while i < len(lines) and line() != DASHES:
                i += 1
            i += 1
            need(line() == "", "an empty line after the suppressions")
            i += 1
        if UNTRACKED_RE.fullmatch(line()):
            i += 1
        s = SUMMARY_RE.fullmatch(line())
        need(s, "'SUMMARY: zmm: N byte(s) leaked in N allocation(s).'")
        need((int(s.group(1)), int(s.group(2))) == tuple(leaked),
             "a SUMMARY of the groups' %d byte(s) in %d allocation(s)" % tuple(leaked))
        i += 1
        if RETAINED_RE.fullmatch(line()):
            i += 1
        t = TOTAL_RE.fullmatch(line())
        need(t and int(t.group(1)) == leaked[1], "'=== Total %d memory leaks detected ==='" % leaked[1])
        i += 1
        got.append((trigger, request))
    return got


def check_reports(o, reports, logs, sender, problems):
    """The report files; returns a one-line account of them."""
    per_pid = {}
    for f in sorted(os.listdir(reports)):
        m = re.fullmatch(r"(\d+)\.(json|txt)", f)
        if not m:
            problems.append("a report file named %s (not PID.json or PID.txt)" % f)
            continue
        pid = int(m.group(1))
        with open(os.path.join(reports, f), "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
        try:
            got = (parse_json_reports if m.group(2) == "json" else parse_text_reports)(text, pid)
        except ReportError as e:
            problems.append("report %s: %s" % (f, e))
            continue
        # (two exit reports in one file are not a fault: pid_max is 32768 here, and a long run
        # among other tests sees pids used again)
        if not got:
            problems.append("report %s is empty" % f)
        per_pid[pid] = got

    # every process image of a --reports-from program left its exit report (JSON: always written)
    images = {}     # pid -> the last program it exec'd (a binding log per pid, appended across exec)
    for f in logs:
        with open(f, errors="replace") as fh:
            for l in fh:
                m = re.search(r"transferring control: (\S+)", l)
                if m:
                    images[int(f.rsplit(".", 1)[1])] = m.group(1)
    want = [pid for pid, prog in images.items()
            if any(prog == p or prog.endswith("/" + p) for p in o.reports_from)]
    json_mode = o.env_mode.get("ZMM_REPORT_FORMAT") == "json"
    if json_mode:
        for name in o.reports_from:
            if not any(images[p] == name or images[p].endswith("/" + name) for p in want):
                problems.append("no process of %s in the binding logs: nothing to ask a report of" % name)
        missing = [p for p in want if not any(t == "exit" for t, _ in per_pid.get(p, []))]
        for p in missing[:10]:
            problems.append("process %d (%s) exited without an exit report" % (p, images[p]))
    nreq = sum(1 for got in per_pid.values() for t, _ in got if t == "request")

    # the boundaries were seen: the top process's exit report counts the requests
    if sender is not None and json_mode:
        top = per_pid.get(o.top_pid, [])
        ex = [r for t, r in top if t == "exit"]
        if not ex:
            if o.top_pid not in images:
                problems.append("the top process %d is not in the binding logs" % o.top_pid)
            # else: not a --reports-from program (sh ends with _exit, past atexit): nothing to read
        else:
            # A signal can land while the exit report is written (after it read the request
            # number), so one is known to have been seen only when the first was sent well
            # before the process ended: SEEN_AFTER seconds, more than any exit report here takes.
            lived = sender.end - sender.first if sender.first and sender.end else 0
            low = 2 if lived >= SEEN_AFTER else 1
            if not low <= ex[0] <= sender.sent + 1:
                problems.append("the exit report says request %d after %d signal(s) sent, the first %.1f s "
                                "before the exit: expected %d..%d" % (ex[0], sender.sent, lived, low, sender.sent + 1))
            late = [r for t, r in top if t == "request" and r >= ex[0]]
            if late:
                problems.append("request report(s) %s numbered at or past the exit's %d" % (late, ex[0]))
    return "%d report file(s), %d exit and %d request report(s), %d process(es) of %s with an exit report" % (
        len(per_pid), sum(1 for g in per_pid.values() for t, _ in g if t == "exit"), nreq,
        len(want), "/".join(o.reports_from) or "none")


# ---- main ---------------------------------------------------------------------------------------------
def main():
    o = parse_args(sys.argv[1:])
    if not shutil.which(o.cmd[0]):
        print("SKIP %s: %s is not installed" % (o.name, o.cmd[0]))
        return 77
    lib = os.environ.get("ZMM_LIB")
    if not lib or not os.path.isfile(lib):
        print("FAIL %s: ZMM_LIB=%r names no libzmm.so" % (o.name, lib))
        return 1

    tmp = tempfile.mkdtemp(prefix="zmm-modes.")
    failed = True
    try:
        work = os.path.join(tmp, "work")
        reports = os.path.join(tmp, "reports")
        bind = os.path.join(tmp, "bind")
        os.mkdir(reports)
        os.mkdir(bind)
        # processes that drop root (subprocess's user=) write their binding logs and reports too
        os.chmod(reports, 0o1777)
        os.chmod(bind, 0o1777)
        os.chmod(tmp, 0o755)
        o.env_mode = mode_vars(o.mode, reports)

        base = {k: v for k, v in os.environ.items()
                if k not in ("LD_PRELOAD", "LD_DEBUG", "LD_DEBUG_OUTPUT", "ZMM_STATS")}
        base.update(HOME=work, LC_ALL="C", TZ="UTC")
        base.update(o.env)
        plain_env = dict(base)
        if o.baseline == "nozmm":
            plain_env = {k: v for k, v in plain_env.items() if not k.startswith("ZMM_")}
        else:
            plain_env["LD_PRELOAD"] = lib
        mode_env = dict(base, LD_PRELOAD=lib, **o.env_mode, **o.mode_env)
        signals = None
        if "ZMM_REQUEST_SIGNAL" in o.env_mode:
            signals = signal.Signals["SIG" + o.env_mode["ZMM_REQUEST_SIGNAL"]]
        o.tree = any(part in TREE_MODES for part in o.mode.split("+"))
        shown = dict(o.env, **o.env_mode, **o.mode_env)
        shown = {k: (v.replace(reports, "$REPORTS")) for k, v in shown.items()}
        command = " ".join(shlex.quote(a) for a in o.cmd) + (
            " <" + shlex.quote(o.stdin) if o.stdin != "/dev/null" else "")
        if signals:     # and the boundaries, from a shell loop
            command = "bash -c %s" % shlex.quote(
                "%s & p=$!; sleep 0.05; while kill -%s $p 2>/dev/null; do sleep 0.07; done; wait $p"
                % (command, signals.name[3:]))
        repro = "mkdir -p /tmp/w /tmp/w/reports && cd /tmp/w && %s%s LD_PRELOAD=%s %s" % (
            "ulimit -v %d && " % (o.rlimit_as >> 10) if o.rlimit_as else "",
            " ".join("%s=%s" % (k, shlex.quote(v.replace("$REPORTS", "/tmp/w/reports"))) for k, v in shown.items()),
            lib, command)

        p_out, p_err = os.path.join(tmp, "baseline.out"), os.path.join(tmp, "baseline.err")
        m_out, m_err = os.path.join(tmp, "mode.out"), os.path.join(tmp, "mode.err")
        p_status, _ = run(o, plain_env, work, p_out, p_err)
        if p_status != o.status:
            print("FAIL %s: the baseline run (%s) ended with %s, not %s: the test itself is broken"
                  % (o.name, "without zmm" if o.baseline == "nozmm" else "plain zmm",
                     describe(p_status) if p_status is not None else "a timeout", describe(o.status)))
            print("--- baseline stderr:\n" + tail(p_err))
            return 1
        mode_env["LD_DEBUG"] = "bindings"
        mode_env["LD_DEBUG_OUTPUT"] = os.path.join(bind, "b")
        m_status, sender = run(o, mode_env, work, m_out, m_err, signals=signals)
        if sender is not None:
            o.top_pid = sender.pid

        problems = []
        if m_status != p_status:
            problems.append("%s under zmm (%s), %s in the baseline" % (
                describe(m_status) if m_status is not None else "a timeout", o.mode, describe(p_status)))
        def text(path):
            with open(path, "rb") as f:
                data = f.read()
            if o.ignore:
                data = b"".join(l for l in data.splitlines(True)
                                if not o.ignore.search(l.decode("utf-8", "replace")))
            return data
        same_out = text(p_out) == text(m_out)
        same_err = not o.stderr or text(p_err) == text(m_err)
        if not same_out:
            problems.append("stdout differs")
        if not same_err:
            problems.append("stderr differs")

        logs = sorted(os.path.join(bind, f) for f in os.listdir(bind))
        bound = None
        if not logs:
            problems.append("LD_DEBUG wrote no binding log (a set-user-ID or static program?)")
        else:
            r = subprocess.run(["awk", "-v", "lib=" + lib, "-v", "binds=" + "".join(b + "\n" for b in o.binds),
                                "-v", "allow=" + "".join(a + "\n" for a in o.allow),
                                "-f", BINDINGS_AWK] + logs, capture_output=True, text=True, errors="replace")
            bound = r.stdout
            if r.returncode != 0:
                problems.append("interposition by %s is not proven" % lib)

        account = ""
        if "ZMM_LEAKS" in o.env_mode and m_status is not None:
            account = check_reports(o, reports, logs, sender, problems)
        if sender is not None:
            if not sender.installed:
                problems.append("zmm's SIGUSR2 handler never showed in /proc/%d/status: no boundary sent" % sender.pid)
            elif sender.sent == 0:
                problems.append("the process exited before the first boundary could be sent")

        if bound is not None and (problems or os.environ.get("ZMM_MODES_VERBOSE")):
            print("--- binding check:\n" + "\n".join("    " + l for l in bound.splitlines()))
        if problems:
            for p in problems:
                print("FAIL %s [%s]: %s" % (o.name, o.mode, p))
            if not same_out:
                diff(p_out, m_out, "stdout")
            if not same_err:
                diff(p_err, m_err, "stderr")
            print("--- the last lines of stderr under zmm:\n" + tail(m_err))
            print("--- to reproduce:\n    " + repro)
            if os.environ.get("ZMM_MODES_KEEP"):
                print("--- kept: " + tmp)
            return 1
        failed = False
        print("ok %s [%s]: %s, same stdout (%d bytes)%s as %s; interposed%s%s" % (
            o.name, o.mode, describe(m_status), os.path.getsize(m_out),
            " and stderr" if o.stderr else "", "without zmm" if o.baseline == "nozmm" else "plain zmm",
            "; %d boundaries sent%s" % (sender.sent, " (+%d to descendants)" % sender.sent_tree
                                        if o.tree else "") if sender else "",
            "; " + account if account else ""))
        return 0
    finally:
        if not (failed and os.environ.get("ZMM_MODES_KEEP")):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
