#!/usr/bin/env python3
"""php_load.py: PHP's built-in web server under load, without zmm and then under
LD_PRELOAD=$ZMM_LIB, each with PHP's own allocator (Zend MM, which takes its memory in chunks
of its own and calls malloc little) and with USE_ZEND_ALLOC=0 (every emalloc is a malloc): four
worker processes (PHP_CLI_SERVER_WORKERS=4, forked by php -S), 400 requests from 16 concurrent
clients to php/load.php, an allocation-heavy page whose answer depends only on its query. Every
answer must be 200 and the same in all runs, and the server must stop cleanly (SIGINT to each
worker, then to the master). Under zmm, proof that zmm served them (proof.py):
  - LD_DEBUG=bindings: php bound malloc and free to $ZMM_LIB, and nothing bound a member of the
    malloc family elsewhere;
  - ZMM_STATS=1: the master and each worker (the master serves requests too) wrote zmm's
    statistics at exit, and with USE_ZEND_ALLOC=0 their tables count at least 2000 allocations
    per request made after the fork (each answer builds 2000 rows, each an array of its own);
    with Zend MM they count about 20000 in all, start-up included.
A libzmm.so without malloc fails both. Exits 77 (skipped) when php is missing.
usage: php_load.py PHP_DIR"""
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proof  # noqa: E402

DOCS = sys.argv[1]
LIB = os.environ["ZMM_LIB"]
PHP = shutil.which("php")
if not PHP:
    print("SKIP: php is missing (scripts/install-deps installs php-cli)")
    sys.exit(77)


REQUESTS = 400


def serve(env, log):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([PHP, "-n", "-S", "127.0.0.1:%d" % port, "-t", DOCS], env=env,
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    reap(proc)
    raise SystemExit("FAIL: php -S did not start")


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def stop(proc):
    """SIGINT to each worker, one at a time (each writes its statistics at exit, unmixed with
    the others'), then to the master. Returns the master's status and the workers' pids."""
    with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
        workers = [int(x) for x in f.read().split()]
    for w in workers:
        os.kill(w, signal.SIGINT)
        for _ in range(300):
            if state(w) in ("Z", "X", "gone"):
                break
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30), workers


def reap(proc):
    """Whatever is left of the server's process group (a worker that did not stop) ends here."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def get(port, n):
    for attempt in range(3):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/load.php?n=%d" % (port, n), timeout=60) as r:
                return r.status, r.read().decode()
        except OSError as e:            # a refused connection under load: try again
            err = e
            time.sleep(0.2)
    return 0, str(err)


def run(preload, zend, tmp):
    """One server's life. Returns its answers, time, status, zmm's messages and the proofs."""
    name = ("zmm" if preload else "plain") + (", USE_ZEND_ALLOC=0" if zend == "0" else "")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZMM_") and k not in ("LD_PRELOAD", "LD_DEBUG", "LD_DEBUG_OUTPUT", "USE_ZEND_ALLOC")}
    env["PHP_CLI_SERVER_WORKERS"] = "4"
    if zend:
        env["USE_ZEND_ALLOC"] = zend
    bind = os.path.join(tmp, "bind-" + ("zend" if zend != "0" else "malloc"))
    if preload:
        os.mkdir(bind)
        env.update(LD_PRELOAD=LIB, ZMM_STATS="1", LD_DEBUG="bindings", LD_DEBUG_OUTPUT=os.path.join(bind, "b"))
    with open(os.path.join(tmp, "log"), "w+") as log:
        proc, port = serve(env, log)
        try:
            start = time.time()
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda n: get(port, n), [i % 50 for i in range(REQUESTS)]))
            took = time.time() - start
            status, workers = stop(proc)
        finally:
            reap(proc)
        log.seek(0)
        text = log.read()
        log_path = log.name
        proofs = []
        if preload:
            proofs.append(proof.check(LIB, bind, ["php"]))
            got = [proof.stats(log_path, pid) for pid in [proc.pid] + workers]
            proofs.append((all(ok for ok, _ in got), [l for _, lines in got for l in lines]))
            counts = [proof.allocations(log_path, pid) for pid in [proc.pid] + workers]
            if zend == "0" and None not in counts:
                # The master serves too. A worker's table holds the master's counts up to the
                # fork, which are at most the smallest table: what is beyond is the requests'.
                served = sum(counts) - len(workers) * min(counts)
                least = 2000 * REQUESTS
                proofs.append((served >= least, ["%s: the server's processes made at least %d allocations after "
                                                 "the fork (2000 per request: %d)" % ("ok" if served >= least else "FAIL",
                                                                                     served, least)]))
        zmm_lines = [l for l in text.splitlines() if l.startswith("zmm:")]
    return name, answers, took, status, zmm_lines, proofs


failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    failures += not ok


with tempfile.TemporaryDirectory(prefix="zmm-php-load.") as tmp:
    runs = [run(preload, zend, tmp) for zend in ("", "0") for preload in (False, True)]
ref = runs[0]
for name, answers, took, status, zmm_lines, proofs in runs:
    check(all(a[0] == 200 for a in answers), "%s: every answer 200 (%.1f s)" % (name, took))
    check(answers == ref[1], "%s: the same answers as %s" % (name, ref[0]))
    if answers != ref[1]:
        print("first differences:", [(i, p, u) for i, (p, u) in enumerate(zip(ref[1], answers)) if p != u][:3])
    check(not zmm_lines, "%s: no zmm message %s" % (name, zmm_lines[:3]))
    check(status == ref[3], "%s: the server stopped on SIGINT (status %s, %s without zmm)" % (name, status, ref[3]))
    for ok, lines in proofs:
        for line in lines:
            print("    " + line)
        check(ok, "%s: %s" % (name, "interposition proven" if ok else "interposition not proven"))
print("%d requests, 16 clients, 4 workers" % REQUESTS)
sys.exit(1 if failures else 0)
