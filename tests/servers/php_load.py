#!/usr/bin/env python3
"""php_load.py: PHP's built-in web server under load, without zmm and then under
LD_PRELOAD=$ZMM_LIB: four worker processes (PHP_CLI_SERVER_WORKERS=4, forked by php -S), 400
requests from 16 concurrent clients to php/load.php, an allocation-heavy page whose answer
depends only on its query. Every answer must be 200 and the same in both runs, and the server
must stop cleanly. Exits 77 (skipped) when php is missing.
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

DOCS = sys.argv[1]
LIB = os.environ["ZMM_LIB"]
PHP = shutil.which("php")
if not PHP:
    print("SKIP: php is missing (scripts/install-deps installs php-cli)")
    sys.exit(77)


def serve(preload, log):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMM_") and k != "LD_PRELOAD"}
    env["PHP_CLI_SERVER_WORKERS"] = "4"
    if preload:
        env["LD_PRELOAD"] = LIB
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


def reap(proc):
    """The workers PHP_CLI_SERVER_WORKERS forked outlive their master's SIGTERM: end the group."""
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


def run(preload):
    with tempfile.TemporaryFile("w+") as log:
        proc, port = serve(preload, log)
        start = time.time()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda n: get(port, n), [i % 50 for i in range(400)]))
        took = time.time() - start
        proc.terminate()
        status = proc.wait(timeout=30)
        reap(proc)
        log.seek(0)
        zmm_lines = [l for l in log.read().splitlines() if l.startswith("zmm:")]
    return answers, took, status, zmm_lines


plain, t0, s0, _ = run(False)
under, t1, s1, zmm_lines = run(True)
failures = 0
for what, ok in (("every answer 200 without zmm", all(a[0] == 200 for a in plain)),
                 ("every answer 200 with zmm", all(a[0] == 200 for a in under)),
                 ("the same answers", plain == under),
                 ("no zmm message", not zmm_lines),
                 ("the server stopped on SIGTERM both times", s0 == s1)):
    print(("ok: " if ok else "FAIL: ") + what)
    failures += not ok
if plain != under:
    diff = [(i, p, u) for i, (p, u) in enumerate(zip(plain, under)) if p != u][:3]
    print("first differences:", diff)
print("400 requests, 16 clients, 4 workers: %.1f s without zmm, %.1f s with zmm; %s" % (t0, t1, zmm_lines[:3]))
sys.exit(1 if failures else 0)
