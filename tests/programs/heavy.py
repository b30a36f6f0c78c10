"""tests/programs/heavy.py: a deterministic, allocation-heavy Python program for the
real-programs lane (run with PYTHONMALLOC=malloc so every object goes to malloc).
Prints one digest per phase; the lane compares them with and without the preload."""
import hashlib
import json
import random
import re
import sys
import threading
from collections import Counter, OrderedDict, defaultdict, deque

SCALE = int(sys.argv[1]) if len(sys.argv) > 1 else 1
rng = random.Random(1234)


def digest(name, obj):
    h = hashlib.sha256(repr(obj).encode()).hexdigest()[:16]
    print(f"{name} {h}")


# Dicts and strings that grow, shrink and rehash.
d = {}
for i in range(200_000 * SCALE):
    d[f"key{rng.randrange(1 << 20)}"] = "x" * rng.randrange(1, 200)
    if i % 3 == 0:
        d.pop(f"key{rng.randrange(1 << 20)}", None)
digest("dict", sorted((k, len(v)) for k, v in d.items())[:1000])

# Lists of lists, sorting, slicing.
rows = [[rng.random() for _ in range(rng.randrange(1, 30))] for _ in range(60_000 * SCALE)]
rows.sort(key=lambda r: (len(r), r[0]))
digest("lists", [round(sum(r), 6) for r in rows[::97]])

# JSON round trip of a nested document.
doc = [{"id": i, "tags": [f"t{j}" for j in range(i % 17)], "attrs": {str(j): j * i for j in range(i % 11)}}
       for i in range(40_000 * SCALE)]
text = json.dumps(doc, sort_keys=True)
back = json.loads(text)
digest("json", (len(text), back[-1], back == doc))

# Regular expressions over generated text.
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randrange(2, 12))) for _ in range(150_000 * SCALE)]
corpus = " ".join(words)
found = re.findall(r"\b(a\w*j)\b", corpus)
digest("re", (len(found), Counter(found).most_common(10), re.sub(r"[aeiou]+", "_", corpus[:5000])))

# Collections churn.
q, counts, od = deque(maxlen=5000), defaultdict(list), OrderedDict()
for i in range(300_000 * SCALE):
    q.append(bytearray(rng.randrange(1, 300)))
    counts[i % 997].append(i)
    od[i % 5003] = i
    if i % 5 == 0:
        od.move_to_end(i % 5003, last=False)
digest("collections", (sum(map(len, q)), sum(map(len, counts.values())), list(od.items())[:50]))

# Threads that allocate and hand objects to each other.
results, lock = [], threading.Lock()


def worker(seed):
    r = random.Random(seed)
    local = [bytes(r.randrange(1, 2000)) for _ in range(20_000 * SCALE)]
    with lock:
        results.append(sum(map(len, local)))


threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
digest("threads", sorted(results))
