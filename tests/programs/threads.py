# Eight python3 threads doing allocation-heavy work fed by a queue; the output does not depend on
# scheduling (results are keyed by job and sorted), so it is the same run after run.
import hashlib
import queue
import threading

THREADS = 8
JOBS = 3000

jobs = queue.Queue()
results = queue.Queue()


def work(job):
    # lists, dicts, strings and bytes of sizes that vary per job, freed before the next job
    items = [("%d:%d" % (job, i)) * (1 + (job + i) % 9) for i in range(300 + job % 200)]
    index = {s[:12]: len(s) for s in items}
    blob = b"".join(s.encode() for s in items)
    chunks = [blob[i:i + 97] for i in range(0, len(blob), 97)]
    chunks.sort()
    big = bytearray(4096 * (1 + job % 64))  # some large blocks too
    big[::4096] = b"y" * len(big[::4096])
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return job, len(items), len(index), len(blob), big.count(b"y"), h.hexdigest()[:12]


def worker():
    while True:
        job = jobs.get()
        if job is None:
            jobs.task_done()
            return
        results.put(work(job))
        jobs.task_done()


threads = [threading.Thread(target=worker) for _ in range(THREADS)]
for t in threads:
    t.start()
for job in range(JOBS):
    jobs.put(job)
for _ in threads:
    jobs.put(None)
jobs.join()
for t in threads:
    t.join()

done = []
while not results.empty():
    done.append(results.get())
done.sort()
total = hashlib.sha256()
for row in done:
    total.update(repr(row).encode())
print("jobs", len(done))
print("first", done[0])
print("last", done[-1])
print("bytes", sum(r[3] for r in done))
print("digest", total.hexdigest())
