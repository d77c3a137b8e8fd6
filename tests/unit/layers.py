#!/usr/bin/env python3
"""layers.py README SRC: the engine's layers, as README.md's "Repository layout" lists them
(lines "  LAYER:  `file` (...), `file` (...)", from the floor up), hold in the sources: every
file of SRC is listed once, every listed name is a file, a file #includes only headers of its
own layer and below, and every .c opens with a comment of three to eight lines (in the first
of which it names itself). Exit 0 when all hold, else 1 with one line per fault."""
import os
import re
import sys


def layers(readme):
    text = open(readme, encoding="utf-8").read()
    block = text.split("## Repository layout", 1)[1].split("\n## ", 1)[0]
    src = block.split("\nsrc/", 1)[1].split("\npreload/", 1)[0]
    rank, layer = {}, -1
    for line in src.splitlines():
        if re.match(r"^  [a-zA-Z ]+:\s", line):
            layer += 1
        if layer >= 0:
            for name in re.findall(r"`([a-z_]+)`", line):
                if name in rank:
                    yield f"README.md lists {name} twice"
                rank[name] = layer
    yield rank


def main():
    readme, src = sys.argv[1], sys.argv[2]
    *dupes, rank = layers(readme)
    faults = list(dupes)
    if len(set(rank.values())) < 5:
        faults.append(f"README.md's layout lists {len(set(rank.values()))} layers: not parsed")
    files = sorted(f for f in os.listdir(src) if f.endswith((".c", ".h")))
    names = {f.rsplit(".", 1)[0] for f in files}
    for name in sorted(set(rank) - names):
        faults.append(f"README.md lists {name}, which src/ does not have")
    for f in files:
        me = f.rsplit(".", 1)[0]
        if me not in rank:
            faults.append(f"src/{f}: not in README.md's layout")
            continue
        body = open(os.path.join(src, f), encoding="utf-8").read()
        for inc in re.findall(r'^#include "([a-z_]+)\.h"', body, re.M):
            if inc == "zmm_config" or inc == me:
                continue
            if inc not in rank:
                faults.append(f"src/{f} includes {inc}.h, which no layer lists")
            elif rank[inc] > rank[me]:
                faults.append(f"src/{f} includes {inc}.h, a layer above its own")
        if f.endswith(".c"):
            head = body.split("*/", 1)[0].splitlines() if body.startswith("/*") else []
            if not head or not head[0].startswith(f"/* {f}:"):
                faults.append(f"src/{f}: does not open with /* {f}: what it owns")
            elif not 3 <= len(head) <= 8:
                faults.append(f"src/{f}: opening comment of {len(head)} lines (3 to 8)")
    for line in faults:
        print("layers:", line)
    print(f"layers: {len(files)} files in {len(set(rank.values()))} layers, {len(faults)} fault(s)")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
