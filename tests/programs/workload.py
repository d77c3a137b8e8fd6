# Allocation-heavy single-threaded python3 workload; prints a deterministic digest.
import hashlib
import json
import random

rng = random.Random(20240611)
digest = hashlib.sha256()


def feed(label, value):
    digest.update(label.encode())
    digest.update(repr(value).encode())
    print(label, value if len(repr(value)) < 80 else hashlib.sha256(repr(value).encode()).hexdigest()[:16])


# dicts of lists of strings, grown and shrunk
table = {}
for i in range(60000):
    key = "k%05d-%s" % (i % 20000, "x" * (i % 37))
    table.setdefault(key, []).append(str(i) * (1 + i % 5))
    if i % 7 == 0:
        table.pop("k%05d-%s" % ((i // 2) % 20000, "x" * ((i // 2) % 37)), None)
feed("table.len", len(table))
feed("table.items", sum(len(v) for v in table.values()))

# strings: joins, splits, replaces, formatting
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randrange(1, 12))) for _ in range(30000)]
text = " ".join(words)
feed("text.len", len(text))
feed("text.upper", hashlib.sha256(text.upper().replace("A", "aa").encode()).hexdigest()[:16])
counts = {}
for w in text.split():
    counts[w] = counts.get(w, 0) + 1
feed("distinct.words", len(counts))
feed("top.words", sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5])

# json round trip of a nested structure
doc = {
    "users": [{"id": i, "name": "user%d" % i, "tags": [words[(i * 7 + j) % len(words)] for j in range(i % 6)],
               "score": (i * 2654435761) % 1000 / 7.0} for i in range(20000)],
    "meta": {"version": 3, "nested": [[j] * (j % 5) for j in range(2000)]},
}
encoded = json.dumps(doc, sort_keys=True)
decoded = json.loads(encoded)
feed("json.len", len(encoded))
feed("json.equal", decoded == doc)
feed("json.reencoded", json.dumps(decoded, sort_keys=True) == encoded)

# sort 200k items: ints, then tuples, then strings
nums = [rng.randrange(1 << 40) for _ in range(200000)]
nums.sort()
feed("nums.sorted", nums == sorted(nums) and nums[0] <= nums[-1])
feed("nums.sample", nums[::40000])
pairs = sorted((n % 1000, str(n)) for n in nums)
feed("pairs.first", pairs[:3])
strs = sorted(str(n)[::-1] for n in nums)
feed("strs.digest", hashlib.sha256("\n".join(strs).encode()).hexdigest()[:16])

# many small objects freed in bulk
blobs = [bytearray(rng.randrange(1, 5000)) for _ in range(20000)]
for b in blobs[::3]:
    b.extend(b"z" * 100)
feed("blobs.total", sum(len(b) for b in blobs))
del blobs, table, doc, decoded

print("digest", digest.hexdigest())
