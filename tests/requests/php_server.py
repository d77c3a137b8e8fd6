#!/usr/bin/env python3
"""php_server.py: the seed's scenario end to end. PHP's built-in web server (php -S) runs an
extension (php/zmmleak.c, built here with phpize) whose function mallocs 2 MiB per call and
never frees it; php/router.php calls it once per HTTP request and answers with the RSS.

  without zmm      RSS grows about 2 MiB per request
  ZMM_LEAKS=1, ZMM_REQUEST_SIGNAL=USR2, `zmm request PID` after each HTTP request
                   each request's report is exactly that leak: 2 MiB in 1 object, frame #0
                   zif_zmmleak_leak at the @php-leak line of zmmleak.c
  ZMM_REQUEST_RECLAIM=1 (no ZMM_LEAKS)
                   ten requests leave RSS flat
  USE_ZEND_ALLOC=0 PHP's own emalloc goes through zmm too: the reports are the same

Request 1 is PHP's start-up (the process opens it): a boundary ends it before the first HTTP
request, and its report is not checked (PHP keeps copies of its functions' arg_info reachable
only through a pointer one past their end, which no conservative scanner takes for a reference).
Exits 77 (skipped) when php or phpize is missing.
usage: php_server.py ZMM_SCRIPT SOURCE_DIR
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ZMM, SRC = sys.argv[1], sys.argv[2]
LIB = os.environ["ZMM_LIB"]
PHP, PHPIZE = shutil.which("php"), shutil.which("phpize")
if not PHP or not PHPIZE:
    print("SKIP: php or phpize is missing (scripts/install-deps installs php-cli and php-dev)")
    sys.exit(77)

failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += not cond


def leak_line():
    with open(os.path.join(SRC, "zmmleak.c")) as f:
        for n, text in enumerate(f, 1):
            if "/* @php-leak */" in text:
                return n
    raise SystemExit("no @php-leak marker")


work = tempfile.mkdtemp(prefix="zmm-php-")
try:
    ext = os.path.join(work, "ext")
    shutil.copytree(SRC, ext)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "ZMM_"))}
    for cmd in (["phpize"], ["./configure", "-q", "CFLAGS=-O2 -g"], ["make", "-s"]):
        p = subprocess.run(cmd, cwd=ext, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("FAIL: building the extension: %s\n%s%s" % (" ".join(cmd), p.stdout[-1500:], p.stderr[-1500:]))
    so = os.path.join(ext, "modules", "zmmleak.so")
    print("ok: extension built: %s" % so)

    def serve(extra, preload=True):
        """Starts php -S; returns (process, port, stderr file)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        e = dict(env, **extra)
        if preload:
            e["LD_PRELOAD"] = LIB
        err = open(os.path.join(work, "err-%d" % port), "w+")
        proc = subprocess.Popen([PHP, "-n", "-d", "extension=" + so, "-S", "127.0.0.1:%d" % port,
                                 os.path.join(SRC, "router.php")], env=e, stdout=subprocess.DEVNULL,
                                stderr=err, cwd=work)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc, port, err
            except OSError:
                time.sleep(0.05)
        proc.kill()
        raise SystemExit("FAIL: php -S did not start: %s" % open(err.name).read()[-1000:])

    def get(port):
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=30) as r:
            return int(re.search(r"rss (\d+)", r.read().decode()).group(1))

    def boundary(proc, err, n, report=True):
        """zmm request PID, then wait for request N's report (when one is to come)."""
        p = subprocess.run([ZMM, "request", str(proc.pid)], capture_output=True, text=True)
        check(p.returncode == 0, "zmm request %d (request %d): %s" % (proc.pid, n, p.stderr.strip()))
        deadline = time.time() + (15 if report else 0)
        while time.time() < deadline:
            if "(request %d)" % n in open(err.name).read():
                return
            time.sleep(0.05)

    def reports(text):
        out = {}
        for block in re.split(r"(?m)^==\d+==zmm: detected memory leaks ", text)[1:]:
            n = re.match(r"\(request (\d+)\)", block)
            if n:
                groups = re.findall(r"(?m)^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:\n    #0 0x[0-9a-f]+ in (\S+) (\S+)", block)
                out[int(n.group(1))] = groups
        return out

    # Without zmm: RSS grows 2 MiB per request.
    proc, port, err = serve({}, preload=False)
    rss = [get(port) for _ in range(10)]
    proc.terminate()
    proc.wait()
    check(rss[-1] - rss[0] >= 16 << 10, "without zmm: RSS grows %d KiB over 9 requests" % (rss[-1] - rss[0]))

    where = "zmmleak.c:%d" % leak_line()
    for label, extra in (("", {}), (" with USE_ZEND_ALLOC=0", {"USE_ZEND_ALLOC": "0"})):
        proc, port, err = serve(dict(extra, ZMM_LEAKS="1", ZMM_REQUEST_SIGNAL="USR2"))
        boundary(proc, err, 1)
        for n in range(2, 6):
            get(port)
            boundary(proc, err, n)
        proc.terminate()
        proc.wait()
        got = reports(open(err.name).read())
        for n in range(2, 6):
            want = [("Direct", str(2 << 20), "1", "zif_zmmleak_leak", where)]
            check(got.get(n) == want, "request %d%s: %s" % (n, label, got.get(n)))
        if any(got.get(n) != [("Direct", str(2 << 20), "1", "zif_zmmleak_leak", where)] for n in range(2, 6)):
            print(open(err.name).read()[-6000:])

    # Reclaim, without ZMM_LEAKS: RSS stays flat.
    proc, port, err = serve({"ZMM_REQUEST_RECLAIM": "1", "ZMM_REQUEST_SIGNAL": "USR2"})
    rss = []
    for n in range(1, 12):
        rss.append(get(port))
        boundary(proc, err, n, report=False)
        time.sleep(0.2)             # no report to wait for: give the request thread its scan
    proc.terminate()
    proc.wait()
    check(rss[-1] - rss[1] < 6 << 10, "with reclaim: RSS %d KiB after request 2, %d KiB after request 11" % (rss[1], rss[-1]))
    # (php -S logs its requests on stderr; PHP's own signal handler, which calls zmm's, may draw
    # zmm's one warning about a replaced handler)
    reports_seen = [l for l in open(err.name).read().splitlines() if "detected memory leaks" in l]
    check(reports_seen == [], "with reclaim and no ZMM_LEAKS: no report: %s" % reports_seen[:3])
finally:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
