#!/usr/bin/env python3
"""check.py: the checker of the 'leaks' suite.

    check.py --exe LEAKS --lib LIBZMMLEAK --src DIR [--cxx LEAKS_CXX] CASE
    check.py --exe ... program NAME [--env K=V]... [--stdin FILE] [--c-script FILE] -- COMMAND...

ZMM_LIB names libzmm.so (meson's preload_env sets it). Each CASE runs LEAKS (tests/leaks/leaks.c)
or LEAKS_CXX with LD_PRELOAD=$ZMM_LIB and ZMM_LEAKS set, parses zmm's text report (strictly: every
line must have its place in the format) and JSON report, and checks them exactly against the
expectations below:
  - the groups: kinds, bytes, object counts, order;
  - the leading frames: function, source basename and line (from the `@NAME` markers of the
    sources), object; then what follows (libc's frames after main or a thread function, or no
    frame at all when ZMM_STACK_DEPTH cut the stack);
  - every frame in our own objects: offset + 1 follows a call instruction (objdump: the address is
    the call site, return address - 1), the offset lies inside the named function (nm), and
    file:line is what binutils' addr2line says for it (none where it has none);
  - address - offset is one page-aligned load bias per object;
  - the SUMMARY and Total lines, the "Suppressions used" table, the JSON summary;
  - the JSON report says what the text report says, with full paths.
A scenario's text report is read from 20 runs, which must all give the same answer (addresses
aside: ASLR moves them).

`program` runs a real program without zmm, then with ZMM_LEAKS=1 (text, and JSON into files):
same stdout and exit status, stderr as without zmm (no report), and one JSON report per process
with no leak. Exit status: 0 pass, 1 fail, 77 skip (meson's convention).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# ---- run on glibc's heap, with none of the caller's ZMM_* settings ----------------------------
# meson's preload_env puts libzmm.so in LD_PRELOAD for the test itself; the checker's own
# allocations have nothing to do with the test, so run it without.
if os.environ.get("LD_PRELOAD"):
    _env = {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not (k.startswith("ZMM_") and k != "ZMM_LIB")}
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

RUNS = 20              # runs of each scenario's text report (determinism)
DEFAULT_DEPTH = 16
TIMEOUT = 60
LIBC = "libc.so.6"
LIBSTDCXX = "libstdc++.so.6"

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


class CheckError(Exception):
    """A report that does not have the expected shape: fails the current check."""


# ---- command line --------------------------------------------------------------------------
def usage():
    print(__doc__, file=sys.stderr)
    sys.exit(2)


opts = {"exe": None, "lib": None, "src": None, "cxx": None}
argv = sys.argv[1:]
while argv and argv[0].startswith("--") and argv[0][2:] in opts:
    if len(argv) < 2:
        usage()
    opts[argv[0][2:]] = argv[1]
    argv = argv[2:]
if not argv or not opts["exe"] or not opts["lib"] or not opts["src"]:
    usage()
EXE = os.path.realpath(opts["exe"])
LIB = os.path.realpath(opts["lib"])
CXX = os.path.realpath(opts["cxx"]) if opts["cxx"] else None
SRC = os.path.realpath(opts["src"])
ZMM = os.environ.get("ZMM_LIB")
if not ZMM or not os.path.isfile(ZMM):
    print("check.py: ZMM_LIB must name libzmm.so", file=sys.stderr)
    sys.exit(2)
ZMM = os.path.realpath(ZMM)
EXE_BASE = os.path.basename(EXE)
LIB_BASE = os.path.basename(LIB)
CXX_BASE = os.path.basename(CXX) if CXX else None

# object of a source file's code
SOURCE_OBJECT = {"leaks.c": EXE, "leaklib.c": LIB, "leaks_cxx.cpp": CXX}


# ---- markers: `/* @NAME */` or `// @NAME` on the line of a call --------------------------------
def read_markers():
    markers = {}
    for name in SOURCE_OBJECT:
        path = os.path.join(SRC, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                for m in re.finditer(r"(?:/\*|//)\s*@([A-Za-z0-9_-]+)", line):
                    if m.group(1) in markers:
                        raise SystemExit("check.py: marker @%s twice" % m.group(1))
                    markers[m.group(1)] = (name, lineno)
    return markers


MARKERS = read_markers()


# ---- symbols: nm -S -C of our objects, to place offsets inside functions ------------------------
_symbols = {}


def symbols(obj):
    """name -> list of (start, end) of the defined functions of OBJ (demangled names)."""
    if obj not in _symbols:
        table = {}
        try:
            text = subprocess.run(["nm", "-S", "-C", "--defined-only", obj], capture_output=True,
                                  text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise SystemExit("check.py: nm %s: %s" % (obj, e))
        for line in text.splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[2] in "tTwW":
                start, size = int(parts[0], 16), int(parts[1], 16)
                table.setdefault(parts[3], []).append((start, start + size))
        _symbols[obj] = table
    return _symbols[obj]


_returns = {}


def return_addresses(obj):
    """The offsets of OBJ's instructions that follow a call: return addresses (objdump -d)."""
    if obj not in _returns:
        try:
            text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], capture_output=True,
                                  text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise SystemExit("check.py: objdump %s: %s" % (obj, e))
        after_call = False
        found = set()
        for line in text.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\t(\S+)", line)
            if not m:
                continue
            if after_call:
                found.add(int(m.group(1), 16))
            after_call = m.group(2).startswith("call")
        _returns[obj] = found
    return _returns[obj]


_lines = {}


def addr2line(obj, offsets):
    """(function, file basename, line) of each offset of OBJ by binutils' addr2line; file and
    line are None where the debug information has nothing."""
    todo = sorted({o for o in offsets if (obj, o) not in _lines})
    if todo:
        try:
            text = subprocess.run(["addr2line", "-f", "-e", obj] + ["0x%x" % o for o in todo],
                                  capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise SystemExit("check.py: addr2line %s: %s" % (obj, e))
        out = text.splitlines()
        if len(out) != 2 * len(todo):
            raise SystemExit("check.py: addr2line %s: %d lines for %d addresses" % (obj, len(out), len(todo)))
        for n, o in enumerate(todo):
            where = out[2 * n + 1].split(" ")[0]
            path, _, line = where.rpartition(":")
            if path == "??" or not line.isdigit() or int(line) == 0:
                _lines[(obj, o)] = (None, None)
            else:
                _lines[(obj, o)] = (os.path.basename(path), int(line))
    return [_lines[(obj, o)] for o in offsets]


# ---- running ------------------------------------------------------------------------------------
class Run:
    def __init__(self, cmd, pid, status, out, err):
        self.cmd, self.pid, self.status, self.out, self.err = cmd, pid, status, out, err

    def describe(self):
        return "%s: status %s\n--- stdout:\n%s--- stderr:\n%s" % (
            " ".join(self.cmd), self.status, self.out[:2000], self.err[:6000])


def base_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ZMM_LIB") and not k.startswith("ZMM_")}
    env["LC_ALL"] = "C"
    return env


def run(cmd, env=None, preload=True, argv0=None, stdin=None, cwd=None, clean=False):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"} if clean else base_env()
    if preload:
        e["LD_PRELOAD"] = ZMM
    e.update(env or {})
    args = list(cmd)
    if argv0 is not None:
        args[0] = argv0
    with open(stdin or os.devnull, "rb") as fin:
        p = subprocess.Popen(args, executable=cmd[0], env=e, stdin=fin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=cwd)
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise SystemExit("check.py: %s timed out" % " ".join(cmd))
    return Run(cmd, p.pid, p.returncode, out.decode("utf-8", "replace"),
               err.decode("utf-8", "replace"))


def leaks(scenario, env=None, status=None, **kw):
    cmd = [EXE, scenario] + ([str(status)] if status is not None else [])
    e = {"ZMM_LEAKS": "1"}
    e.update(env or {})
    return run(cmd, e, **kw)


# ---- the text report ----------------------------------------------------------------------------
HEADER_RE = re.compile(r"==(\d+)==zmm: detected memory leaks \(at exit\)")
GROUP_RE = re.compile(r"(Direct leak|Indirect leak) of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:")
REACHABLE_RE = re.compile(r"Reachable memory of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:")
FRAME_RE = re.compile(r"    #(\d+) 0x([0-9a-f]+)(.*) \(([^()]*?)\+0x([0-9a-f]+)\)")
FRAME_MID_RE = re.compile(r"(?: in (.+?))?(?: ([^ ]+):(\d+))?")
DASHES = "-" * 53
SUMMARY_RE = re.compile(r"SUMMARY: zmm: (\d+) byte\(s\) leaked in (\d+) allocation\(s\)\.")
TOTAL_RE = re.compile(r"=== Total (\d+) memory leaks detected ===")
KINDS = {"Direct leak": "direct", "Indirect leak": "indirect"}


class Frame:
    __slots__ = ("address", "function", "file", "line", "object", "offset", "path", "objpath")

    def __init__(self, address, function, file, line, obj, offset, path=None, objpath=None):
        self.address, self.function, self.file, self.line = address, function, file, line
        self.object, self.offset, self.path, self.objpath = obj, offset, path, objpath

    def key(self):  # what must not change from run to run (addresses move with ASLR)
        return (self.function, self.file, self.line, self.object, self.offset)

    def __str__(self):
        s = "0x%x" % self.address
        if self.function is not None:
            s += " in " + self.function
        if self.file is not None:
            s += " %s:%s" % (self.file, self.line)
        return s + " (%s+0x%x)" % (self.object, self.offset)


class Group:
    def __init__(self, kind, nbytes, blocks, frames):
        self.kind, self.bytes, self.blocks, self.frames = kind, nbytes, blocks, frames

    def key(self):
        return (self.kind, self.bytes, self.blocks, tuple(f.key() for f in self.frames))

    def __str__(self):
        return "%s %d byte(s) in %d object(s):\n%s" % (
            self.kind, self.bytes, self.blocks,
            "\n".join("    #%d %s" % (i, f) for i, f in enumerate(self.frames)))


class Report:
    def __init__(self, fmt):
        self.fmt = fmt
        self.pid = None
        self.groups = []
        self.suppressions = {}      # template -> (count, bytes)
        self.summary = None         # (bytes, allocations) for text; dict for JSON
        self.program = None

    def key(self):
        s = self.summary if self.fmt == "text" else tuple(sorted(self.summary.items()))
        return (tuple(g.key() for g in self.groups), tuple(sorted(self.suppressions.items())), s)

    def __str__(self):
        return "\n".join(str(g) for g in self.groups)


def parse_text(text):
    """Every report in TEXT (nothing else may be there). Raises CheckError."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        if text:
            raise CheckError("the report does not end with a newline")
    reports = []
    i = 0

    def line(j):
        return lines[j] if j < len(lines) else "<end of output>"

    def expect(cond, what):
        if not cond:
            raise CheckError("report line %d: expected %s, got: %r" % (i + 1, what, line(i)))

    while i < len(lines):
        r = Report("text")
        m = HEADER_RE.fullmatch(line(i))
        expect(m, "'==PID==zmm: detected memory leaks (at exit)'")
        r.pid = int(m.group(1))
        i += 1
        expect(line(i) == "", "an empty line after the header")
        i += 1
        while True:
            m = GROUP_RE.fullmatch(line(i))
            m2 = REACHABLE_RE.fullmatch(line(i))
            if m:
                kind, nbytes, blocks = KINDS[m.group(1)], int(m.group(2)), int(m.group(3))
            elif m2:
                kind, nbytes, blocks = "reachable", int(m2.group(1)), int(m2.group(2))
            else:
                break
            i += 1
            frames = []
            while True:
                fm = FRAME_RE.fullmatch(line(i))
                if not fm:
                    break
                expect(int(fm.group(1)) == len(frames), "frame #%d" % len(frames))
                mid = FRAME_MID_RE.fullmatch(fm.group(3))
                expect(mid, "' in FUNCTION FILE:LINE' parts")
                frames.append(Frame(int(fm.group(2), 16), mid.group(1), mid.group(2),
                                    int(mid.group(3)) if mid.group(3) else None,
                                    fm.group(4), int(fm.group(5), 16)))
                i += 1
            expect(frames, "a frame '    #0 0x... (OBJECT+0x...)'")
            expect(line(i) == "", "an empty line after a group's frames")
            i += 1
            r.groups.append(Group(kind, nbytes, blocks, frames))
        if line(i) == DASHES:
            i += 1
            expect(line(i) == "Suppressions used:", "'Suppressions used:'")
            i += 1
            expect(line(i) == "  count      bytes template", "'  count      bytes template'")
            i += 1
            while line(i) != DASHES:
                m = re.fullmatch(r" *(\d+) +(\d+) (.+)", line(i))
                expect(m, "a suppression row '%7d %10d TEMPLATE' or the closing dashes")
                count, nbytes, templ = int(m.group(1)), int(m.group(2)), m.group(3)
                expect(line(i) == "%7d %10d %s" % (count, nbytes, templ), "'%7d %10d %s' columns")
                expect(templ not in r.suppressions, "each template once")
                r.suppressions[templ] = (count, nbytes)
                i += 1
            i += 1
            expect(line(i) == "", "an empty line after the suppressions")
            i += 1
        m = SUMMARY_RE.fullmatch(line(i))
        expect(m, "'SUMMARY: zmm: N byte(s) leaked in N allocation(s).'")
        r.summary = (int(m.group(1)), int(m.group(2)))
        i += 1
        m = TOTAL_RE.fullmatch(line(i))
        expect(m, "'=== Total N memory leaks detected ==='")
        expect(int(m.group(1)) == r.summary[1], "the Total line to count the SUMMARY's %d allocations" % r.summary[1])
        i += 1
        reports.append(r)
    return reports


# ---- the JSON report ----------------------------------------------------------------------------
SUMMARY_KEYS = {"direct_bytes", "direct_blocks", "indirect_bytes", "indirect_blocks",
                "reachable_bytes", "reachable_blocks", "suppressed_bytes", "suppressed_blocks",
                "untracked_blocks"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse_json(text):
    """Every report in TEXT: one JSON object per line, nothing else. Raises CheckError."""
    reports = []
    if text and not text.endswith("\n"):
        raise CheckError("the JSON report does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise CheckError("line %d is not JSON (%s): %r" % (n, e, line[:200]))

        def need(cond, what):
            if not cond:
                raise CheckError("JSON report line %d: %s" % (n, what))

        need(isinstance(obj, dict), "not an object")
        need(set(obj) == {"zmm_report", "pid", "program", "trigger", "request", "leaks", "summary"},
             "keys %s" % sorted(obj))
        need(obj["zmm_report"] == 1 and is_int(obj["zmm_report"]), "zmm_report is not 1")
        need(is_int(obj["pid"]) and obj["pid"] > 0, "pid %r" % obj["pid"])
        need(isinstance(obj["program"], str) and obj["program"].startswith("/"),
             "program %r is not a full path" % obj["program"])
        need(obj["trigger"] == "exit", "trigger %r, expected exit" % obj["trigger"])
        need(is_int(obj["request"]) and obj["request"] >= 1,
             "request %r, expected 1 or more (the process start opens request 1)" % obj["request"])
        need(isinstance(obj["leaks"], list), "leaks is not a list")
        need(isinstance(obj["summary"], dict) and set(obj["summary"]) == SUMMARY_KEYS,
             "summary keys %s" % sorted(obj["summary"]))
        need(all(is_int(v) and v >= 0 for v in obj["summary"].values()), "summary values")
        r = Report("json")
        r.pid, r.program, r.summary = obj["pid"], obj["program"], obj["summary"]
        for g in obj["leaks"]:
            need(isinstance(g, dict) and set(g) == {"kind", "bytes", "blocks", "stack"},
                 "leak keys %s" % (sorted(g) if isinstance(g, dict) else g))
            need(g["kind"] in ("direct", "indirect", "reachable"), "kind %r" % g["kind"])
            need(is_int(g["bytes"]) and is_int(g["blocks"]) and g["blocks"] > 0, "bytes/blocks")
            need(isinstance(g["stack"], list) and g["stack"], "stack is not a non-empty list")
            frames = []
            for f in g["stack"]:
                need(isinstance(f, dict) and set(f) == {"address", "function", "file", "line", "object", "offset"},
                     "frame keys %s" % (sorted(f) if isinstance(f, dict) else f))
                for k in ("address", "offset"):
                    need(isinstance(f[k], str) and re.fullmatch(r"0x[0-9a-f]+", f[k]),
                         "%s %r is not lowercase hex" % (k, f[k]))
                need(f["function"] is None or (isinstance(f["function"], str) and f["function"]),
                     "function %r" % f["function"])
                # a full path where the debug information allows one (check_lines checks it for
                # our objects); glibc's DW_AT_comp_dir is relative ("./csu"), so its are not
                need(f["file"] is None or (isinstance(f["file"], str) and f["file"]),
                     "file %r is not null or a path" % f["file"])
                need((f["line"] is None) == (f["file"] is None) and (f["line"] is None or (is_int(f["line"]) and f["line"] > 0)),
                     "line %r with file %r" % (f["line"], f["file"]))
                need(isinstance(f["object"], str) and f["object"].startswith("/"),
                     "object %r is not a full path" % f["object"])
                frames.append(Frame(int(f["address"], 16), f["function"],
                                    os.path.basename(f["file"]) if f["file"] else None, f["line"],
                                    os.path.basename(f["object"]), int(f["offset"], 16),
                                    path=f["file"], objpath=f["object"]))
            r.groups.append(Group(g["kind"], g["bytes"], g["blocks"], frames))
        reports.append(r)
    return reports


# ---- expectations -------------------------------------------------------------------------------
class F:
    """An expected frame: FUNCTION at the line of MARKER (its source file gives the object), or a
    frame of OBJECT (a basename) whose function is one of FUNCTIONS when given."""

    def __init__(self, function=None, marker=None, obj=None, functions=None):
        self.function, self.marker, self.functions = function, marker, functions
        if marker:
            self.file, self.line = MARKERS[marker]
            self.objpath = SOURCE_OBJECT[self.file]
            self.obj = os.path.basename(self.objpath)
        else:
            self.file = self.line = self.objpath = None
            self.obj = obj


class Skip:
    """One or more frames of OBJECT (a basename), e.g. operator new in libstdc++."""

    def __init__(self, obj):
        self.obj = obj


# What follows the expected frames: MAIN_TAIL after main (libc's __libc_start_call_main and
# __libc_start_main, and maybe _start), THREAD_TAIL after a thread function (libc's start_thread,
# clone3), CONTEXT_TAIL after the function of a makecontext coroutine (libc's __start_context,
# where the unwind tables end the stack), END: nothing (a stack cut by ZMM_STACK_DEPTH).
MAIN_TAIL, THREAD_TAIL, CONTEXT_TAIL, END = "main-tail", "thread-tail", "context-tail", "end"


class G:
    def __init__(self, kind, nbytes, blocks, frames, tail):
        self.kind, self.bytes, self.blocks, self.frames, self.tail = kind, nbytes, blocks, frames, tail

    def __str__(self):
        names = []
        for f in self.frames:
            names.append("[%s frames]" % f.obj if isinstance(f, Skip) else
                         "%s %s:%s" % (f.function, f.file, f.line) if f.marker else
                         "(%s)" % f.obj)
        return "%s %d byte(s) in %d object(s): %s, then %s" % (
            self.kind, self.bytes, self.blocks, " <- ".join(names), self.tail)


def check_frames(got, want, depth, where):
    frames = got.frames
    if len(frames) > depth:
        raise CheckError("%s: %d frames, more than the depth %d" % (where, len(frames), depth))
    i = 0
    for w in want:
        if isinstance(w, Skip):
            n = 0
            while i < len(frames) and frames[i].object == w.obj:
                i += 1
                n += 1
            if n == 0:
                raise CheckError("%s: frame #%d is %s, expected frames of %s" % (
                    where, i, frames[i] if i < len(frames) else "missing", w.obj))
            continue
        if i >= len(frames):
            raise CheckError("%s: frame #%d missing (expected %s in %s)" % (
                where, i, w.function or "a frame", w.obj))
        f = frames[i]
        bad = []
        if w.marker:
            if f.function != w.function:
                bad.append("function %r, expected %r" % (f.function, w.function))
            if (f.file, f.line) != (w.file, w.line):
                bad.append("%s:%s, expected %s:%s (@%s)" % (f.file, f.line, w.file, w.line, w.marker))
        elif w.functions is not None and f.function not in w.functions:
            bad.append("function %r, expected one of %s" % (f.function, sorted(w.functions)))
        if f.object != w.obj:
            bad.append("object %r, expected %r" % (f.object, w.obj))
        if not bad and w.marker:
            ranges = symbols(w.objpath).get(w.function, [])
            if not any(a <= f.offset < b for a, b in ranges):
                bad.append("offset 0x%x is not inside %s %s" % (
                    f.offset, w.function, " ".join("[0x%x,0x%x)" % r for r in ranges) or "(no symbol)"))
        if f.path is not None and w.marker:
            if os.path.realpath(f.path) != os.path.realpath(os.path.join(SRC, w.file)):
                bad.append("JSON file %r is not %s" % (f.path, os.path.join(SRC, w.file)))
        if f.objpath is not None and w.objpath and os.path.realpath(f.objpath) != w.objpath:
            bad.append("JSON object %r is not %s" % (f.objpath, w.objpath))
        if bad:
            raise CheckError("%s: frame #%d %s: %s" % (where, i, f, "; ".join(bad)))
        i += 1
    return frames[i:]


def check_tail(rest, tail, exe_base, where):
    if tail == END:
        if rest:
            raise CheckError("%s: %d frames after the expected ones, expected none: %s" % (
                where, len(rest), ", ".join(str(f) for f in rest)))
        return
    if not rest or rest[0].object != LIBC:
        raise CheckError("%s: the frame after the expected ones is %s, expected one in %s" % (
            where, rest[0] if rest else "missing", LIBC))
    if tail == CONTEXT_TAIL and len(rest) != 1:
        raise CheckError("%s: %d frames after the coroutine's function, expected only libc's "
                         "__start_context: %s" % (where, len(rest), ", ".join(str(f) for f in rest)))
    for f in rest:
        if f.object == LIBC:
            continue
        if tail == MAIN_TAIL and f.object == exe_base and f.function in (None, "_start") and f is rest[-1]:
            continue
        raise CheckError("%s: frame %s after the expected ones is not in %s%s" % (
            where, f, LIBC, " (or _start)" if tail == MAIN_TAIL else ""))


def check_lines(report, where):
    """Every frame in one of our objects is a call site (return address - 1) and has the
    file:line binutils' addr2line gives for it, or none where addr2line has none (e.g. _start,
    from crt1.o without debug information)."""
    ours = {EXE_BASE: EXE, LIB_BASE: LIB}
    if CXX:
        ours[CXX_BASE] = CXX
    frames = [f for g in report.groups for f in g.frames if f.object in ours]
    for f in frames:
        if f.offset + 1 not in return_addresses(ours[f.object]):
            raise CheckError("%s: frame %s: offset 0x%x + 1 is not a return address (the instruction "
                             "after a call) in %s: the call site is return address - 1" % (
                                 where, f, f.offset, f.object))
    for obj in {f.object for f in frames}:
        fs = [f for f in frames if f.object == obj]
        for f, (file, line) in zip(fs, addr2line(ours[obj], [f.offset for f in fs])):
            if (f.file, f.line) != (file, line):
                raise CheckError("%s: frame %s: file:line %s:%s, addr2line says %s:%s" % (
                    where, f, f.file, f.line, file, line))
            if f.path is not None and not f.path.startswith("/"):
                raise CheckError("%s: frame %s: JSON file %r is not a full path (the build's "
                                 "DW_AT_comp_dir is absolute)" % (where, f, f.path))


def check_biases(report, where):
    """address - offset: one bias per object, page-aligned; lowercase hex was checked on parse."""
    bias = {}
    for g in report.groups:
        for f in g.frames:
            b = f.address - f.offset
            if b % 4096:
                raise CheckError("%s: %s: address - offset = 0x%x is not page-aligned" % (where, f, b))
            if bias.setdefault(f.objpath or f.object, b) != b:
                raise CheckError("%s: %s: load bias 0x%x, another frame of %s gave 0x%x" % (
                    where, f, b, f.object, bias[f.objpath or f.object]))


def check_report(r, want, depth=DEFAULT_DEPTH, exe_base=None, suppressed=None, where="report"):
    """R against the list of G WANT. SUPPRESSED: {template: (count, bytes)} for the text table,
    (bytes, blocks) checked in the JSON summary."""
    exe_base = exe_base or EXE_BASE
    got = [g.kind for g in r.groups]
    if [g.kind for g in want] != got or [(g.bytes, g.blocks) for g in want] != [(g.bytes, g.blocks) for g in r.groups]:
        raise CheckError("%s: groups\n  got:      %s\n  expected: %s\n--- got:\n%s" % (
            where, [(g.kind, g.bytes, g.blocks) for g in r.groups],
            [(g.kind, g.bytes, g.blocks) for g in want], r))
    for n, (g, w) in enumerate(zip(r.groups, want)):
        gw = "%s, group %d (%s %d bytes)" % (where, n + 1, w.kind, w.bytes)
        rest = check_frames(g, w.frames, depth, gw)
        check_tail(rest, w.tail, exe_base, gw)
    check_biases(r, where)
    check_lines(r, where)
    leaked = [g for g in r.groups if g.kind != "reachable"]
    lbytes, lblocks = sum(g.bytes for g in leaked), sum(g.blocks for g in leaked)
    supp = suppressed or {}
    if r.fmt == "text":
        if r.summary != (lbytes, lblocks):
            raise CheckError("%s: SUMMARY says %d byte(s) in %d allocation(s), the groups add up to %d in %d" % (
                where, r.summary[0], r.summary[1], lbytes, lblocks))
        if r.suppressions != supp:
            raise CheckError("%s: Suppressions used %s, expected %s" % (where, r.suppressions, supp))
    else:
        s = r.summary
        for kind in ("direct", "indirect", "reachable"):
            gs = [g for g in r.groups if g.kind == kind]
            if kind == "reachable" and not any(w.kind == "reachable" for w in want) and not gs:
                continue  # only listed with ZMM_LEAKS=reachable; the summary may count them anyway
            exp = (sum(g.bytes for g in gs), sum(g.blocks for g in gs))
            if (s[kind + "_bytes"], s[kind + "_blocks"]) != exp:
                raise CheckError("%s: JSON summary %s_bytes/%s_blocks = %d/%d, the leaks add up to %d/%d" % (
                    where, kind, kind, s[kind + "_bytes"], s[kind + "_blocks"], exp[0], exp[1]))
        exp = (sum(b for _, b in supp.values()), sum(c for c, _ in supp.values()))
        if (s["suppressed_bytes"], s["suppressed_blocks"]) != exp:
            raise CheckError("%s: JSON summary suppressed_bytes/blocks = %d/%d, expected %d/%d" % (
                where, s["suppressed_bytes"], s["suppressed_blocks"], exp[0], exp[1]))


def same_as_text(j, t, where):
    """A JSON report says what a text report of the same scenario said (offsets too)."""
    jk = [g.key() for g in j.groups]
    tk = [g.key() for g in t.groups]
    if jk != tk:
        raise CheckError("%s: the JSON leaks differ from the text report's:\n--- JSON:\n%s\n--- text:\n%s" % (where, j, t))


# ---- a scenario: text RUNS times, then JSON -----------------------------------------------------
def one_report(rn, fmt, where, pid=None):
    reports = parse_text(rn.err) if fmt == "text" else parse_json(rn.err)
    if len(reports) != 1:
        raise CheckError("%s: %d reports on stderr, expected 1" % (where, len(reports)))
    r = reports[0]
    if r.pid != (pid or rn.pid):
        raise CheckError("%s: the report names pid %d, the process was %d" % (where, r.pid, pid or rn.pid))
    return r


def expect_run(rn, status=0, out=None, where=""):
    if rn.status != status:
        raise CheckError("%s: exit status %s, expected %s\n%s" % (where, rn.status, status, rn.describe()))
    if out is not None and rn.out != out:
        raise CheckError("%s: stdout %r, expected %r" % (where, rn.out, out))


def scenario(name, want, env=None, runs=RUNS, depth=DEFAULT_DEPTH, status=0, out=None,
             title=None, exe=None, exe_base=None, suppressed=None, json_too=True):
    """Runs the scenario RUNS times with the text report and once with JSON; each must match WANT
    exactly and all must agree. Returns the text report of the first run."""
    title = title or name
    out = out if out is not None else "%s done\n" % name
    first = None
    try:
        for n in range(runs):
            where = "%s, text run %d" % (title, n + 1)
            if exe:
                rn = run([exe], dict({"ZMM_LEAKS": "1"}, **(env or {})))
            else:
                rn = leaks(name, env)
            expect_run(rn, status, out, where)
            try:
                r = one_report(rn, "text", where)
                check_report(r, want, depth, exe_base, suppressed, where)
            except CheckError as e:
                raise CheckError("%s\n%s" % (e, rn.describe()))
            if first is None:
                first = r
            elif r.key() != first.key():
                raise CheckError("%s: not the same report as run 1:\n--- run 1:\n%s\n--- run %d:\n%s" % (
                    where, first, n + 1, r))
        ok("%s: text report as expected%s" % (title, ", the same in %d runs" % runs if runs > 1 else ""))
        if json_too:
            where = "%s, JSON run" % title
            e = dict(env or {}, ZMM_REPORT_FORMAT="json")
            rn = run([exe], dict({"ZMM_LEAKS": "1"}, **e)) if exe else leaks(name, e)
            expect_run(rn, status, out, where)
            try:
                j = one_report(rn, "json", where)
                if os.path.realpath(j.program) != (exe or EXE):
                    raise CheckError("%s: program %r, expected %s" % (where, j.program, exe or EXE))
                check_report(j, want, depth, exe_base, suppressed, where)
                same_as_text(j, first, where)
            except CheckError as e:
                raise CheckError("%s\n%s" % (e, rn.describe()))
            ok("%s: JSON report as expected, the same as the text" % title)
    except CheckError as e:
        fail(str(e))
    return first


# ---- expected groups ------------------------------------------------------------------------------
def marker_leak(nbytes, main_marker):
    return G("direct", nbytes, 1, [F("marker_leak", "marker"), F("main", main_marker)], MAIN_TAIL)


def chain_group(main_marker="main-chain"):
    return G("direct", 1000, 1, [F("level3", "chain-3"), F("level2", "chain-2"), F("level1", "chain-1"),
                                 F("main", main_marker)], MAIN_TAIL)


def library_group(main_marker="main-library"):
    return G("direct", 777, 1, [F("zmmleak_inner", "lib-inner"), F("zmmleak_make", "lib-make"),
                                F("main", main_marker)], MAIN_TAIL)


def loop_group(main_marker="main-loop"):
    return G("direct", 400, 10, [F("loop_leaker", "loop"), F("main", main_marker)], MAIN_TAIL)


def family_groups():
    def fam(nbytes, marker):
        return G("direct", nbytes, 1, [F("leak_family", marker), F("main", "main-family")], MAIN_TAIL)
    strdup = G("direct", 11, 1, [F(obj=LIBC, functions={"strdup", "__strdup"}),
                                 F("leak_family", "family-strdup"), F("main", "main-family")], MAIN_TAIL)
    return [fam(512, "family-aligned"), fam(300, "family-realloc"), fam(120, "family-calloc"),
            fam(100, "family-memalign"), strdup]


def tree_groups():
    def grp(kind, nbytes, marker):
        return G(kind, nbytes, 1, [F("make_tree", marker), F("main", "main-tree")], MAIN_TAIL)
    return [grp("direct", 32, "tree-node"), grp("indirect", 200, "tree-b"),
            grp("indirect", 100, "tree-a"), grp("indirect", 64, "tree-c")]


def deep_group(depth):
    frames = [F("recurse", "deep-malloc")]
    if depth >= 33:
        frames += [F("recurse", "deep-call")] * 30 + [F("main", "main-deep")]
        return G("direct", 88, 1, frames, MAIN_TAIL)
    frames += [F("recurse", "deep-call")] * (depth - 1)
    return G("direct", 88, 1, frames, END)


def interior_reachable():
    def grp(nbytes, marker):
        return G("reachable", nbytes, 1, [F("keep_interior", marker), F("main", "main-interior")], MAIN_TAIL)
    return [grp(3 << 20, "interior-huge"), grp(100000, "interior-large"), grp(64, "interior-small")]


def live_reachable():
    def grp(nbytes, marker):
        return G("reachable", nbytes, 1, [F("live_alloc", "live-alloc"), F("live_thread", marker)], THREAD_TAIL)
    return [grp(3000, "live-tls"), grp(2000, "live-stack")]


def stacks_groups():
    """The signal handler on its sigaltstack: the stack goes on through the signal frame (libc's
    __restore_rt, then raise, where main's thread was) into the function that raised it and main.
    The coroutines: their stacks end at libc's __start_context. The two paths: the same leaf at
    the same depth, each block with its own caller; a stack cache that answered with the other
    path's stack would put both blocks in one group, or under the wrong caller."""
    def co(nbytes, func, marker):
        return G("direct", nbytes, 1, [F("co_leak", "stacks-co-leak"), F(func, marker)], CONTEXT_TAIL)

    def path(nbytes, func, marker, caller_marker):
        return G("direct", nbytes, 1, [F("path_leak", "stacks-path-leak"), F(func, marker),
                                       F("stacks_alternate", caller_marker),
                                       F("main", "main-stacks-alternate")], MAIN_TAIL)
    return [G("direct", 1300, 1, [F("signal_leak", "stacks-signal-leak"), F("stacks_handler", "stacks-handler"),
                                  Skip(LIBC), F("stacks_signal", "stacks-raise"),
                                  F("main", "main-stacks-signal")], MAIN_TAIL),
            co(1200, "co_heap_body", "stacks-co-heap"),
            co(1100, "co_mapped_body", "stacks-co-mapped"),
            path(900, "path_a", "stacks-path-a", "stacks-alternate-a"),
            path(800, "path_b", "stacks-path-b", "stacks-alternate-b")]


SCENARIOS = {
    "chain": [chain_group()],
    "library": [library_group()],
    "thread": [G("direct", 555, 1, [F("thread_leaf", "thread-leaf"), F("thread_main", "thread-main")], THREAD_TAIL)],
    "loop": [loop_group()],
    "global": [marker_leak(16, "main-global-marker")],
    "interior": [marker_leak(24, "main-interior-marker")],
    "tree": tree_groups(),
    "deadlocal": [G("direct", 512, 1, [F("dead_alloc", "dead"), F("main", "main-deadlocal")], MAIN_TAIL)],
    "family": family_groups(),
    "deep": [deep_group(DEFAULT_DEPTH)],
    "runtime": [marker_leak(8, "main-runtime-marker")],
    "live": [marker_leak(8, "main-live-marker")],
    "closed": [marker_leak(32, "main-closed-marker")],
    "busy": [marker_leak(48, "main-busy-marker")],
    "stacks": stacks_groups(),
    "stacks-remap": [marker_leak(56, "main-stacks-remap-marker")],
}
# With ZMM_LEAKS=reachable: the reachable groups listed after the leaks.
REACHABLE = {
    "global": [G("reachable", 300, 1, [F("kept_alloc", "global-alloc"), F("keep_global", "global-kept"),
                                       F("main", "main-global")], MAIN_TAIL),
               G("reachable", 100, 1, [F("kept_alloc", "global-alloc"), F("keep_global", "global-kept-too"),
                                       F("main", "main-global")], MAIN_TAIL)],
    "interior": interior_reachable(),
    "runtime": [],      # stdio buffers, thread DTVs, dlopen's link maps: never reported
    "live": live_reachable(),
}


# ---- cases ----------------------------------------------------------------------------------------
# stdout, when not "SCENARIO done\n"
OUTPUT = {"runtime": "cos(0) = 1\nruntime done\n"}


def case_scenario(name):
    scenario(name, SCENARIOS[name], out=OUTPUT.get(name))
    if name in REACHABLE:
        scenario(name, SCENARIOS[name] + REACHABLE[name], env={"ZMM_LEAKS": "reachable"}, runs=5,
                 out=OUTPUT.get(name), title=name + " (ZMM_LEAKS=reachable)")
    if name == "deep":
        scenario(name, [deep_group(64)], env={"ZMM_STACK_DEPTH": "64"}, depth=64, runs=5,
                 title="deep (ZMM_STACK_DEPTH=64)")


def case_none():
    try:
        for n in range(RUNS):
            rn = leaks("none")
            expect_run(rn, 0, "none done\n", "none, run %d" % (n + 1))
            if rn.err:
                raise CheckError("none, run %d: stderr is not empty:\n%s" % (n + 1, rn.err))
        ok("none: no report, stderr empty in %d runs" % RUNS)
        rn = leaks("none", status=5, env={"ZMM_LEAKS": "reachable"})
        expect_run(rn, 5, "none done\n", "none 5 (ZMM_LEAKS=reachable)")
        if rn.err:
            raise CheckError("none (ZMM_LEAKS=reachable): stderr is not empty:\n%s" % rn.err)
        ok("none with ZMM_LEAKS=reachable: no report, status 5 unchanged")
        rn = leaks("none", env={"ZMM_REPORT_FORMAT": "json"})
        expect_run(rn, 0, "none done\n", "none (JSON)")
        j = one_report(rn, "json", "none (JSON)")
        check_report(j, [], where="none (JSON)")
        if j.groups or j.summary["direct_blocks"] or j.summary["indirect_blocks"]:
            raise CheckError("none (JSON): leaks reported: %s" % j.summary)
        ok("none: the JSON report is written with no leak and a zero summary")
    except CheckError as e:
        fail(str(e))


def case_kept():
    """Only reachable blocks: no text report at all, even with ZMM_LEAKS=reachable (a text report is
    written only when there are leaks); the JSON report lists them."""
    def grp(nbytes, func, marker, main_marker, first=None):
        frames = ([F("kept_alloc", "global-alloc")] if first else []) + [F(func, marker), F("main", main_marker)]
        return G("reachable", nbytes, 1, frames, MAIN_TAIL)
    want = [grp(3 << 20, "keep_interior", "interior-huge", "main-kept-interior"),
            grp(100000, "keep_interior", "interior-large", "main-kept-interior"),
            grp(300, "keep_global", "global-kept", "main-kept-global", first=True),
            grp(100, "keep_global", "global-kept-too", "main-kept-global", first=True),
            grp(64, "keep_interior", "interior-small", "main-kept-interior")]
    try:
        for mode in ("1", "reachable"):
            for n in range(5):
                where = "kept (ZMM_LEAKS=%s), run %d" % (mode, n + 1)
                rn = leaks("kept", {"ZMM_LEAKS": mode, "ZMM_LEAK_EXITCODE": "23"})
                expect_run(rn, 0, "kept done\n", where)
                if rn.err:
                    raise CheckError("%s: no leak, yet stderr is not empty:\n%s" % (where, rn.err))
            ok("kept (ZMM_LEAKS=%s): no leak: nothing on stderr, exit status 0, in 5 runs" % mode)
        where = "kept (ZMM_LEAKS=reachable, JSON)"
        rn = leaks("kept", {"ZMM_LEAKS": "reachable", "ZMM_REPORT_FORMAT": "json"})
        expect_run(rn, 0, "kept done\n", where)
        check_report(one_report(rn, "json", where), want, where=where)
        ok("%s: the five reachable blocks listed, no leak" % where)
    except CheckError as e:
        fail(str(e))


def case_fork():
    """Parent and child each write their own report: the child's first on stderr (the parent waits).
    A fork is a boundary for the child: its report holds what it allocated (not the parent's
    333, leaked before the fork), and what it kept in a block born in the parent (444) or in a
    global (555) is reachable."""
    child_want = [G("direct", 111, 1, [F("child_leak", "fork-child"), F("main", "main-fork-child")], MAIN_TAIL)]
    parent_want = [G("direct", 333, 1, [F("parent_early_leak", "fork-parent-early"), F("main", "main-fork-parent-early")], MAIN_TAIL),
                   G("direct", 222, 1, [F("parent_leak", "fork-parent"), F("main", "main-fork-parent")], MAIN_TAIL)]
    first = None
    try:
        for fmt in ("text", "json"):
            runs = RUNS if fmt == "text" else 1
            for n in range(runs):
                where = "fork, %s run %d" % (fmt, n + 1)
                rn = leaks("fork", {"ZMM_REPORT_FORMAT": fmt})
                m = re.fullmatch(r"child (\d+)\nfork done\n", rn.out)
                if rn.status != 0 or not m:
                    raise CheckError("%s: expected status 0 and 'child PID'\n%s" % (where, rn.describe()))
                child = int(m.group(1))
                reports = parse_text(rn.err) if fmt == "text" else parse_json(rn.err)
                if [r.pid for r in reports] != [child, rn.pid]:
                    raise CheckError("%s: reports of pids %s, expected the child's %d then the parent's %d\n%s" % (
                        where, [r.pid for r in reports], child, rn.pid, rn.describe()))
                check_report(reports[0], child_want, where=where + ", child")
                check_report(reports[1], parent_want, where=where + ", parent")
                if fmt == "text":
                    if first is None:
                        first = reports
                    elif (reports[0].key(), reports[1].key()) != (first[0].key(), first[1].key()):
                        raise CheckError("%s: not the same reports as run 1" % where)
                else:
                    same_as_text(reports[0], first[0], where + ", child")
                    same_as_text(reports[1], first[1], where + ", parent")
                    requests = [json.loads(l)["request"] for l in rn.err.splitlines() if l.startswith("{")]
                    if requests != [2, 1]:
                        raise CheckError("%s: JSON requests %s, expected [2, 1] (the fork ends the child's request 1)"
                                         % (where, requests))
            ok("fork: the child's and the parent's %s reports as expected%s" % (
                fmt, " in %d runs" % runs if runs > 1 else ""))
        # %p keeps them apart
        with tempfile.TemporaryDirectory() as tmp:
            rn = leaks("fork", {"ZMM_REPORT": os.path.join(tmp, "r.%p")})
            m = re.fullmatch(r"child (\d+)\nfork done\n", rn.out)
            if rn.status != 0 or not m or rn.err:
                raise CheckError("fork with ZMM_REPORT=r.%%p: expected status 0, 'child PID', empty stderr\n%s" % rn.describe())
            child = int(m.group(1))
            files = sorted(os.listdir(tmp))
            if files != sorted(["r.%d" % child, "r.%d" % rn.pid]):
                raise CheckError("fork with ZMM_REPORT=r.%%p: files %s, expected r.%d and r.%d" % (files, child, rn.pid))
            for pid, want in ((child, child_want), (rn.pid, parent_want)):
                with open(os.path.join(tmp, "r.%d" % pid)) as f:
                    reports = parse_text(f.read())
                if len(reports) != 1 or reports[0].pid != pid:
                    raise CheckError("r.%d: %d reports, pids %s" % (pid, len(reports), [r.pid for r in reports]))
                check_report(reports[0], want, where="fork, r.%d" % pid)
            ok("fork: ZMM_REPORT=DIR/r.%p wrote r.CHILD and r.PARENT, each with its own leak")
    except CheckError as e:
        fail(str(e))


def case_cxx():
    if not CXX:
        print("SKIP: no C++ compiler at configure time (leaks-cxx was not built)")
        sys.exit(77)
    # the names the report must show are what c++filt makes of the symbols
    want_names = {"zmmtest::Factory::make(int)", "long* zmmtest::fill<long>(unsigned long)",
                  "(anonymous namespace)::make_widget()"}
    missing = want_names - set(symbols(CXX))
    if missing:
        fail("leaks-cxx: nm -C does not show %s (the expectations are wrong)" % sorted(missing))
        return

    def grp(nbytes, func, marker, main_marker):
        return G("direct", nbytes, 1, [Skip(LIBSTDCXX), F(func, marker), F("main", main_marker)], MAIN_TAIL)
    want = [grp(120, "zmmtest::Factory::make(int)", "cxx-make", "cxx-main-make"),
            grp(72, "long* zmmtest::fill<long>(unsigned long)", "cxx-fill", "cxx-main-fill"),
            grp(40, "(anonymous namespace)::make_widget()", "cxx-anon", "cxx-main-anon")]
    scenario("cxx", want, exe=CXX, exe_base=CXX_BASE)


def case_stack_depth():
    chain = [F("level3", "chain-3"), F("level2", "chain-2"), F("level1", "chain-1"), F("main", "main-chain")]
    for depth in (1, 2, 3):
        scenario("chain", [G("direct", 1000, 1, chain[:depth], END)], env={"ZMM_STACK_DEPTH": str(depth)},
                 depth=depth, runs=3, title="chain (ZMM_STACK_DEPTH=%d)" % depth)
    # cut to 1 frame, the two stacks of kept_alloc are one: one group of 2 objects
    scenario("global", [G("direct", 16, 1, [F("marker_leak", "marker")], END),
                        G("reachable", 400, 2, [F("kept_alloc", "global-alloc")], END)],
             env={"ZMM_STACK_DEPTH": "1", "ZMM_LEAKS": "reachable"}, depth=1, runs=3,
             title="global (ZMM_STACK_DEPTH=1 ZMM_LEAKS=reachable): stacks cut to one frame merge")
    scenario("global", [G("direct", 16, 1, [F("marker_leak", "marker"), F("main", "main-global-marker")], END),
                        G("reachable", 300, 1, [F("kept_alloc", "global-alloc"), F("keep_global", "global-kept")], END),
                        G("reachable", 100, 1, [F("kept_alloc", "global-alloc"), F("keep_global", "global-kept-too")], END)],
             env={"ZMM_STACK_DEPTH": "2", "ZMM_LEAKS": "reachable"}, depth=2, runs=3,
             title="global (ZMM_STACK_DEPTH=2 ZMM_LEAKS=reachable): two frames keep them apart")
    scenario("deep", [deep_group(DEFAULT_DEPTH)], env={"ZMM_STACK_DEPTH": "16"}, runs=1,
             title="deep (ZMM_STACK_DEPTH=16)")
    scenario("deep", [deep_group(64)], env={"ZMM_STACK_DEPTH": "64"}, depth=64, runs=1,
             title="deep (ZMM_STACK_DEPTH=64)")


def case_exitcode():
    cases = [
        # (scenario, program status, env, expected status, report expected)
        ("chain", None, {"ZMM_LEAK_EXITCODE": "23"}, 23, True),
        ("chain", None, {}, 0, True),
        ("chain", 3, {}, 3, True),
        ("chain", 3, {"ZMM_LEAK_EXITCODE": "23"}, 23, True),
        ("tree", None, {"ZMM_LEAK_EXITCODE": "42"}, 42, True),
        ("chain", None, {"ZMM_LEAK_EXITCODE": "23", "ZMM_REPORT_FORMAT": "json"}, 23, True),
        ("deadlocal", 4, {"ZMM_LEAK_EXITCODE": "99"}, 99, True),
        ("none", None, {"ZMM_LEAK_EXITCODE": "23"}, 0, False),
        ("none", 3, {"ZMM_LEAK_EXITCODE": "23"}, 3, False),
        ("none", None, {"ZMM_LEAK_EXITCODE": "23", "ZMM_REPORT_FORMAT": "json"}, 0, True),
        ("none", None, {"ZMM_LEAK_EXITCODE": "23", "ZMM_LEAKS": "reachable"}, 0, False),
        ("chain", None, {"ZMM_LEAK_EXITCODE": "23", "ZMM_LEAKS": "0"}, 0, False),
    ]
    for name, status, env, want_status, report in cases:
        what = "%s%s with %s" % (name, " %d" % status if status is not None else "",
                                 " ".join("%s=%s" % kv for kv in sorted(env.items())) or "no ZMM_LEAK_EXITCODE")
        rn = leaks(name, env, status=status)
        if rn.status != want_status:
            fail("%s: exit status %s, expected %d\n%s" % (what, rn.status, want_status, rn.describe()))
        elif bool(rn.err) != report:
            fail("%s: %s\n%s" % (what, "no report" if report else "stderr not empty", rn.describe()))
        else:
            ok("%s: exit status %d%s" % (what, want_status, ", report written" if report else ", no report"))


SUPP_PARTIAL = """\
# zmm suppressions for the leaks suite: LeakSanitizer's leak:PATTERN lines
# a function of a frame that is not the first:
leak:level2

# an object, anchored at its end:
leak:libzmmleak.so$
# matches nothing ('^' anchors the function name's start):
leak:^evel2
"""
SUPP_ALL = """\
# a glob anchored at the end, a source file, an anchored function name
leak:loop_l*ker$
leak:leaklib.c
leak:^level1$
"""


def case_suppressions():
    with tempfile.TemporaryDirectory() as tmp:
        partial = os.path.join(tmp, "partial.supp")
        everything = os.path.join(tmp, "all.supp")
        with open(partial, "w") as f:
            f.write(SUPP_PARTIAL)
        with open(everything, "w") as f:
            f.write(SUPP_ALL)
        scenario("mixed", [chain_group("main-mixed-chain"), library_group("main-mixed-library"),
                           loop_group("main-mixed-loop")], runs=5, title="mixed (no suppressions)")
        scenario("mixed", [loop_group("main-mixed-loop")], env={"ZMM_SUPPRESSIONS": partial}, runs=5,
                 suppressed={"leak:level2": (1, 1000), "leak:libzmmleak.so$": (1, 777)},
                 title="mixed with leak:level2, leak:libzmmleak.so$, leak:^evel2")
        try:
            env = {"ZMM_SUPPRESSIONS": everything, "ZMM_LEAK_EXITCODE": "23"}
            rn = leaks("mixed", env)
            expect_run(rn, 0, "mixed done\n", "mixed, all suppressed")
            if rn.err:
                raise CheckError("mixed, all suppressed: stderr is not empty\n%s" % rn.describe())
            ok("mixed, every leak suppressed: no text report, exit status 0 despite ZMM_LEAK_EXITCODE=23")
            rn = leaks("mixed", dict(env, ZMM_REPORT_FORMAT="json"))
            expect_run(rn, 0, "mixed done\n", "mixed, all suppressed (JSON)")
            j = one_report(rn, "json", "mixed, all suppressed (JSON)")
            check_report(j, [], suppressed={"leak:loop_l*ker$": (10, 400), "leak:leaklib.c": (1, 777),
                                            "leak:^level1$": (1, 1000)},
                         where="mixed, all suppressed (JSON)")
            ok("mixed, every leak suppressed: JSON has no leak, suppressed_bytes 2177, suppressed_blocks 12")
        except CheckError as e:
            fail(str(e))


def case_report_file():
    try:
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "dir")
            os.mkdir(d)
            rn = leaks("chain", {"ZMM_REPORT": os.path.join(d, "r.%p")})
            expect_run(rn, 0, "chain done\n", "ZMM_REPORT=DIR/r.%p")
            if rn.err:
                raise CheckError("ZMM_REPORT=DIR/r.%%p: stderr is not empty:\n%s" % rn.err)
            if os.listdir(d) != ["r.%d" % rn.pid]:
                raise CheckError("ZMM_REPORT=DIR/r.%%p: files %s, expected r.%d" % (os.listdir(d), rn.pid))
            with open(os.path.join(d, "r.%d" % rn.pid)) as f:
                reports = parse_text(f.read())
            if len(reports) != 1 or reports[0].pid != rn.pid:
                raise CheckError("r.%d: %d reports" % (rn.pid, len(reports)))
            check_report(reports[0], [chain_group()], where="r.%d" % rn.pid)
            ok("ZMM_REPORT=DIR/r.%p: the report is in r.PID, stderr is empty")

            # appended, to a fixed name
            fixed = os.path.join(tmp, "fixed.log")
            with open(fixed, "w") as f:
                f.write("an earlier line\n")
            pids = []
            for name in ("chain", "loop"):
                rn = leaks(name, {"ZMM_REPORT": fixed})
                expect_run(rn, 0, "%s done\n" % name, "ZMM_REPORT=%s" % fixed)
                if rn.err:
                    raise CheckError("ZMM_REPORT=FILE: stderr is not empty:\n%s" % rn.err)
                pids.append(rn.pid)
            with open(fixed) as f:
                text = f.read()
            if not text.startswith("an earlier line\n"):
                raise CheckError("ZMM_REPORT=FILE: the file's earlier content is gone:\n%s" % text[:500])
            reports = parse_text(text[len("an earlier line\n"):])
            if [r.pid for r in reports] != pids:
                raise CheckError("ZMM_REPORT=FILE: reports of %s, expected %s" % ([r.pid for r in reports], pids))
            check_report(reports[0], [chain_group()], where="appended report 1")
            check_report(reports[1], [loop_group()], where="appended report 2")
            ok("ZMM_REPORT=FILE: two runs appended their reports after the file's earlier line")

            # JSON to a file, written with no leak too
            rn = leaks("none", {"ZMM_REPORT": os.path.join(d, "j.%p"), "ZMM_REPORT_FORMAT": "json"})
            expect_run(rn, 0, "none done\n", "ZMM_REPORT=DIR/j.%p (JSON)")
            if rn.err:
                raise CheckError("ZMM_REPORT=DIR/j.%%p (JSON): stderr is not empty:\n%s" % rn.err)
            with open(os.path.join(d, "j.%d" % rn.pid)) as f:
                j = parse_json(f.read())
            if len(j) != 1 or j[0].pid != rn.pid or j[0].groups:
                raise CheckError("j.%d: expected one JSON report of pid %d without leaks" % (rn.pid, rn.pid))
            check_report(j[0], [], where="j.%d" % rn.pid)
            ok("ZMM_REPORT=DIR/j.%p with JSON: one line, no leak")

            # ZMM_REPORT=stderr is the default, said explicitly
            rn = leaks("chain", {"ZMM_REPORT": "stderr"})
            expect_run(rn, 0, "chain done\n", "ZMM_REPORT=stderr")
            check_report(one_report(rn, "text", "ZMM_REPORT=stderr"), [chain_group()], where="ZMM_REPORT=stderr")
            ok("ZMM_REPORT=stderr: the report is on stderr")
    except CheckError as e:
        fail(str(e))


def case_only():
    cases = [
        # (ZMM_ONLY, argv[0], report expected)
        ("nomatch", None, False),
        ("leak", None, False),                       # a prefix of the name is not the name
        (EXE_BASE, None, True),
        ("other," + EXE_BASE + ",more", None, True),
        ("renamed", "renamed", True),                # argv[0]'s basename
        ("renamed", "/some/where/renamed", True),
        ("other", "renamed", False),
    ]
    for only, argv0, report in cases:
        what = "ZMM_ONLY=%s%s" % (only, " with argv[0] %s" % argv0 if argv0 else "")
        try:
            rn = leaks("chain", {"ZMM_ONLY": only, "ZMM_LEAK_EXITCODE": "23"}, argv0=argv0)
            if report:
                expect_run(rn, 23, "chain done\n", what)
                check_report(one_report(rn, "text", what), [chain_group()], where=what)
                ok("%s: reported" % what)
            else:
                expect_run(rn, 0, "chain done\n", what)
                if rn.err:
                    raise CheckError("%s: stderr is not empty:\n%s" % (what, rn.err))
                rn = leaks("chain", {"ZMM_ONLY": only, "ZMM_REPORT_FORMAT": "json"}, argv0=argv0)
                expect_run(rn, 0, "chain done\n", what + " (JSON)")
                if rn.err:
                    raise CheckError("%s (JSON): stderr is not empty:\n%s" % (what, rn.err))
                ok("%s: untracked, no report (text or JSON), exit status unchanged" % what)
        except CheckError as e:
            fail(str(e))


def case_bad_values():
    cases = [
        # (variable, value, default, scenario, report expected, depth of the report)
        ("ZMM_STACK_DEPTH", "0", "16", "deep", "text", DEFAULT_DEPTH),
        ("ZMM_STACK_DEPTH", "65", "16", "deep", "text", DEFAULT_DEPTH),
        ("ZMM_STACK_DEPTH", "ten", "16", "deep", "text", DEFAULT_DEPTH),
        ("ZMM_REPORT_FORMAT", "xml", "text", "chain", "text", None),
        ("ZMM_LEAK_EXITCODE", "abc", "unchanged", "chain", "text", None),
        ("ZMM_LEAKS", "maybe", "0", "chain", None, None),
    ]
    for var, value, default, name, report, depth in cases:
        what = "%s=%s" % (var, value)
        warning = "zmm: %s=%s is not valid; using the default (%s)\n" % (var, value, default)
        try:
            rn = leaks(name, {var: value})
            expect_run(rn, 0, "%s done\n" % name, what)
            if not rn.err.startswith(warning):
                raise CheckError("%s: stderr does not start with the line %r\n%s" % (what, warning, rn.describe()))
            rest = rn.err[len(warning):]
            if report is None:
                if rest:
                    raise CheckError("%s: more than the warning on stderr:\n%s" % (what, rest))
                ok("%s: one warning line, the default (%s) kept: no tracking, no report" % (what, default))
                continue
            reports = parse_text(rest)
            if len(reports) != 1:
                raise CheckError("%s: %d reports after the warning" % (what, len(reports)))
            want = [deep_group(depth)] if name == "deep" else [chain_group()]
            check_report(reports[0], want, where=what)
            ok("%s: one warning line, then the report with the default (%s)" % (what, default))
        except CheckError as e:
            fail(str(e))


def case_sort():
    """sort -n FILE leaks one block of 24 bytes (valgrind: definitely lost); coreutils close
    stderr at exit, so the report must go to a copy of fd 2."""
    if not shutil.which("sort"):
        print("SKIP: sort is not installed")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "numbers")
        with open(data, "w") as f:
            x = 1
            for _ in range(2000):
                x = x * 48271 % 2147483647
                f.write("%d\n" % (x % 100000 - 50000))
        sort = shutil.which("sort")
        plain = run([sort, "-n", data], preload=False)
        try:
            if plain.status != 0:
                raise CheckError("sort without zmm failed\n%s" % plain.describe())
            results = set()
            for n in range(5):
                where = "sort -n, run %d" % (n + 1)
                rn = run([sort, "-n", data], {"ZMM_LEAKS": "1", "ZMM_LEAK_EXITCODE": "23"})
                expect_run(rn, 23, plain.out, where)
                r = one_report(rn, "text", where)
                if r.summary != (24, 1) or len(r.groups) != 1 or r.groups[0].kind != "direct":
                    raise CheckError("%s: expected one direct leak of 24 bytes in 1 object, got:\n%s" % (where, rn.err))
                f0 = r.groups[0].frames[0]
                if f0.object != "sort":
                    raise CheckError("%s: frame #0 %s is not in sort" % (where, f0))
                check_biases(r, where)
                results.add(r.key())
            if len(results) != 1:
                raise CheckError("sort -n: the 5 runs gave %d different reports" % len(results))
            ok("sort -n: one direct leak of 24 bytes in 1 object, from sort, on stderr (closed by sort), exit status 23, same output")
            rn = run([sort, "-n", data], {"ZMM_LEAKS": "1", "ZMM_REPORT_FORMAT": "json"})
            expect_run(rn, 0, plain.out, "sort -n (JSON)")
            j = one_report(rn, "json", "sort -n (JSON)")
            s = j.summary
            if (s["direct_bytes"], s["direct_blocks"], s["indirect_bytes"], s["indirect_blocks"]) != (24, 1, 0, 0):
                raise CheckError("sort -n (JSON): summary %s" % s)
            if os.path.realpath(j.program) != os.path.realpath(sort):
                raise CheckError("sort -n (JSON): program %r" % j.program)
            ok("sort -n: the JSON summary says 24 bytes in 1 direct block")
        except CheckError as e:
            fail(str(e))


def case_perl_exit():
    """perl leaves its interpreter at exit unless PERL_DESTRUCT_LEVEL=2: a real program's real
    leaks. valgrind's memcheck on Debian 12's perl 5.36.0, `env -i PATH=$PATH LC_ALL=C perl -e
    'print "x\\n"'`: definitely lost 7,667 bytes in 27 blocks, indirectly lost 44,060 bytes in 15
    blocks (the locale changes the figures, hence the bare environment); zmm must say the same
    there, and elsewhere at least find direct and indirect leaks, the same in every run."""
    perl = shutil.which("perl")
    if not perl:
        print("SKIP: perl is not installed")
        sys.exit(77)
    version = run([perl, "-e", "print $^V"], preload=False).out
    cmd = [perl, "-e", 'print "x\n"']
    try:
        seen = set()
        for n in range(3):
            where = "perl -e (no PERL_DESTRUCT_LEVEL), JSON run %d" % (n + 1)
            rn = run(cmd, {"ZMM_LEAKS": "1", "ZMM_REPORT_FORMAT": "json"}, clean=True)
            expect_run(rn, 0, "x\n", where)
            j = one_report(rn, "json", where)
            check_biases(j, where)
            s = j.summary
            got = (s["direct_bytes"], s["direct_blocks"], s["indirect_bytes"], s["indirect_blocks"])
            if version == "v5.36.0":
                if got != (7667, 27, 44060, 15):
                    raise CheckError("%s: direct %d bytes in %d blocks, indirect %d in %d; valgrind says "
                                     "7667 in 27, 44060 in 15" % ((where,) + got))
            elif not (got[1] and got[3]):
                raise CheckError("%s: expected direct and indirect leaks, got %s" % (where, s))
            seen.add(got)
        if len(seen) != 1:
            raise CheckError("perl -e: the 3 runs differ: %s" % sorted(seen))
        ok("perl %s -e without PERL_DESTRUCT_LEVEL: direct %d bytes in %d blocks, indirect %d in %d%s, "
           "in 3 runs" % ((version,) + got + (" (as valgrind)" if version == "v5.36.0" else "",)))
        rn = run(cmd, {"ZMM_LEAKS": "1", "ZMM_LEAK_EXITCODE": "23"}, clean=True)
        expect_run(rn, 23, "x\n", "perl -e (text)")
        r = one_report(rn, "text", "perl -e (text)")
        check_biases(r, "perl -e (text)")
        if r.summary != (got[0] + got[2], got[1] + got[3]):
            raise CheckError("perl -e (text): SUMMARY %s, the JSON said %s" % (r.summary, got))
        ok("perl -e: the text report's SUMMARY agrees, exit status 23")
    except CheckError as e:
        fail(str(e))


# ---- real programs --------------------------------------------------------------------------------
def case_program(args):
    env = {}
    stdin = None
    script = None
    if not args:
        usage()
    name = args.pop(0)
    while args and args[0] != "--":
        if args[0] == "--env" and len(args) > 1 and "=" in args[1]:
            k, v = args[1].split("=", 1)
            env[k] = v
        elif args[0] == "--stdin" and len(args) > 1:
            stdin = os.path.realpath(args[1])
        elif args[0] == "--c-script" and len(args) > 1:
            script = os.path.realpath(args[1])
        else:
            usage()
        args = args[2:]
    if not args or len(args) < 2:
        usage()
    cmd = args[1:]
    prog = shutil.which(cmd[0])
    if not prog:
        print("SKIP: %s is not installed" % cmd[0])
        sys.exit(77)
    cmd[0] = prog
    if script:
        with open(script) as f:
            cmd.append(f.read())
    # the runs happen in a fresh directory: file arguments must be absolute
    cmd = cmd[:1] + [os.path.realpath(c) if "/" in c and os.path.isfile(c) else c for c in cmd[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "work")
        reports = os.path.join(tmp, "reports")
        os.mkdir(reports)

        def go(extra, preload):
            shutil.rmtree(work, ignore_errors=True)
            os.mkdir(work)
            e = dict(env, HOME=work, TZ="UTC", **extra)
            return run(cmd, e, preload=preload, stdin=stdin, cwd=work)

        try:
            plain = go({}, False)
            if plain.status != 0:
                raise CheckError("%s without zmm failed (the test is broken)\n%s" % (name, plain.describe()))
            rn = go({"ZMM_LEAKS": "1", "ZMM_LEAK_EXITCODE": "23"}, True)
            if rn.status != plain.status or rn.out != plain.out:
                raise CheckError("%s under ZMM_LEAKS=1: status %s (plain %s), stdout %s\n%s" % (
                    name, rn.status, plain.status, "same" if rn.out == plain.out else "differs", rn.describe()))
            if rn.err != plain.err:
                raise CheckError("%s under ZMM_LEAKS=1: stderr differs from the run without zmm (a report?):\n%s" % (
                    name, rn.err[:6000]))
            ok("%s under ZMM_LEAKS=1 ZMM_LEAK_EXITCODE=23: same status (%d), stdout (%d bytes) and stderr as without zmm" % (
                name, rn.status, len(rn.out)))
            rn = go({"ZMM_LEAKS": "1", "ZMM_REPORT_FORMAT": "json",
                     "ZMM_REPORT": os.path.join(reports, "r.%p")}, True)
            if rn.status != plain.status or rn.out != plain.out or rn.err != plain.err:
                raise CheckError("%s with JSON reports to files: not the same run\n%s" % (name, rn.describe()))
            files = sorted(os.listdir(reports))
            if "r.%d" % rn.pid not in files:
                raise CheckError("%s: no JSON report r.%d of the main process (files: %s): was the report written?" % (
                    name, rn.pid, files))
            for fn in files:
                with open(os.path.join(reports, fn)) as f:
                    js = parse_json(f.read())
                if len(js) != 1 or "r.%d" % js[0].pid != fn:
                    raise CheckError("%s: %s holds %d reports, pids %s" % (name, fn, len(js), [j.pid for j in js]))
                s = js[0].summary
                if js[0].groups or s["direct_blocks"] or s["indirect_blocks"]:
                    raise CheckError("%s: %s reports leaks (%s):\n%s" % (name, fn, s, js[0]))
            ok("%s: %d JSON report(s), one per process, none with a leak" % (name, len(files)))
        except CheckError as e:
            fail(str(e))


# ---- the checker itself ----------------------------------------------------------------------------
SAMPLE = """\
==1234==zmm: detected memory leaks (at exit)

Direct leak of 2097152 byte(s) in 1 object(s) allocated from:
    #0 0x55d0c0a1b2c3 in leak_two_mebibytes leaks.c:19 (leaks+0x1b2c3)
    #1 0x55d0c0a1b4d5 in main leaks.c:28 (leaks+0x1b4d5)
    #2 0x7f0000027249 (libc.so.6+0x27249)

Indirect leak of 48 byte(s) in 2 object(s) allocated from:
    #0 0x7f00000a958b in operator new(unsigned long) (libstdc++.so.6+0xa958b)
    #1 0x55d0c0a1b4d5 in ns::f(int, char const*) leaks.cpp:28 (leaks+0x1b4d5)

Reachable memory of 100 byte(s) in 1 object(s) allocated from:
    #0 0x55d0c0a1b4d5 leaks.c:30 (leaks+0x1b4d5)

-----------------------------------------------------
Suppressions used:
  count      bytes template
      2         48 leak:PATTERN
     10        400 leak:^a*b$
-----------------------------------------------------

SUMMARY: zmm: 2097200 byte(s) leaked in 3 allocation(s).
=== Total 3 memory leaks detected ===
"""


def case_selftest():
    """The parser takes the format of the contract and refuses what strays from it."""
    try:
        rs = parse_text(SAMPLE + SAMPLE.replace("==1234==", "==1235=="))
        r = rs[0]
        got = [(g.kind, g.bytes, g.blocks, [(f.function, f.file, f.line, f.object, f.offset) for f in g.frames])
               for g in r.groups]
        want = [("direct", 2097152, 1, [("leak_two_mebibytes", "leaks.c", 19, "leaks", 0x1b2c3),
                                        ("main", "leaks.c", 28, "leaks", 0x1b4d5),
                                        (None, None, None, "libc.so.6", 0x27249)]),
                ("indirect", 48, 2, [("operator new(unsigned long)", None, None, "libstdc++.so.6", 0xa958b),
                                     ("ns::f(int, char const*)", "leaks.cpp", 28, "leaks", 0x1b4d5)]),
                ("reachable", 100, 1, [(None, "leaks.c", 30, "leaks", 0x1b4d5)])]
        if got != want or r.pid != 1234 or r.summary != (2097200, 3) or [x.pid for x in rs] != [1234, 1235] \
                or r.suppressions != {"leak:PATTERN": (2, 48), "leak:^a*b$": (10, 400)}:
            raise CheckError("the sample parsed as %s, pid %s, summary %s, suppressions %s" % (
                got, r.pid, r.summary, r.suppressions))
        ok("the contract's text format parses")
    except CheckError as e:
        fail("the sample report: %s" % e)
    bad = {
        "no empty line after the header": SAMPLE.replace("(at exit)\n\n", "(at exit)\n"),
        "frames numbered with a gap": SAMPLE.replace("#1 0x55d0c0a1b4d5 in main", "#2 0x55d0c0a1b4d5 in main"),
        "an uppercase address": SAMPLE.replace("0x55d0c0a1b2c3", "0x55D0C0A1B2C3"),
        "no object": SAMPLE.replace(" (leaks+0x1b2c3)", ""),
        "a Total that is not the SUMMARY's count": SAMPLE.replace("=== Total 3", "=== Total 4"),
        "a misaligned suppression row": SAMPLE.replace("      2         48", "  2  48"),
        "no newline at the end": SAMPLE.rstrip("\n"),
        "a stray line": SAMPLE + "zmm: something else\n",
        "no empty line after a group": SAMPLE.replace("(libc.so.6+0x27249)\n\n", "(libc.so.6+0x27249)\n"),
    }
    for what, text in bad.items():
        try:
            parse_text(text)
            fail("the parser took a report with %s" % what)
        except CheckError:
            ok("the parser refuses a report with %s" % what)
    line = ('{"zmm_report": 1, "pid": 7, "program": "/bin/x", "trigger": "exit", "request": 1, "leaks": '
            '[{"kind": "direct", "bytes": 8, "blocks": 1, "stack": [{"address": "0x1010", "function": null, '
            '"file": null, "line": null, "object": "/bin/x", "offset": "0x10"}]}], "summary": {"direct_bytes": 8, '
            '"direct_blocks": 1, "indirect_bytes": 0, "indirect_blocks": 0, "reachable_bytes": 0, '
            '"reachable_blocks": 0, "suppressed_bytes": 0, "suppressed_blocks": 0, "untracked_blocks": 0}}\n')
    try:
        j = parse_json(line)[0]
        if (j.pid, j.groups[0].bytes, j.groups[0].frames[0].object) != (7, 8, "x"):
            raise CheckError("parsed as pid %s" % j.pid)
        ok("the contract's JSON format parses")
    except CheckError as e:
        fail("the sample JSON report: %s" % e)
    bad = {
        "an empty file": line.replace('"file": null, "line": null', '"file": "", "line": 3'),
        "a file without a line": line.replace('"file": null', '"file": "/x.c"'),
        "a summary key missing": line.replace('"suppressed_blocks": 0', '"other": 0'),
        "an uppercase offset": line.replace('"0x10"', '"0X10"'),
        "two objects on a line": line.rstrip("\n") + line,
    }
    for what, text in bad.items():
        try:
            parse_json(text)
            fail("the JSON parser took a report with %s" % what)
        except CheckError:
            ok("the JSON parser refuses a report with %s" % what)


# ---- main ----------------------------------------------------------------------------------------
def main():
    case = argv[0]
    if case == "program":
        case_program(argv[1:])
    elif len(argv) != 1:
        usage()
    elif case in SCENARIOS:
        case_scenario(case)
    else:
        fn = {"none": case_none, "kept": case_kept, "fork": case_fork, "cxx": case_cxx, "stack-depth": case_stack_depth,
              "exitcode": case_exitcode, "suppressions": case_suppressions,
              "report-file": case_report_file, "only": case_only, "bad-values": case_bad_values,
              "sort": case_sort, "perl-exit": case_perl_exit, "selftest": case_selftest}.get(case)
        if fn is None:
            print("check.py: unknown case %s" % case, file=sys.stderr)
            sys.exit(2)
        fn()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
