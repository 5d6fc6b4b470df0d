#!/usr/bin/env python3
"""Writes a directory of generated ~1 KB text documents for `jrvs ingest` (ingestion and
retrieval-at-scale figures, docs/PERFORMANCE.md): words drawn with Zipf's law (s = 1) from
bench/wrk/vocab.txt, the same distribution as bench/wrk/ingest.lua, with a fixed seed so a
count always yields the same corpus. Files are spread over subdirectories of 1,000 (use
`jrvs ingest -r`).

  bench/make_zipf_docs.py --out /tmp/zipf-10k --count 10000
  build/release/src/app/jrvs ingest -r --data-dir /tmp/data /tmp/zipf-10k
"""
import argparse
import bisect
import itertools
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--bytes", type=int, default=1000, help="approximate size of each document")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--vocab", default=os.path.join(HERE, "wrk", "vocab.txt"))
    args = ap.parse_args()

    with open(args.vocab, encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip()]
    cumulative = list(itertools.accumulate(1.0 / r for r in range(1, len(words) + 1)))
    total = cumulative[-1]
    rng = random.Random(args.seed)
    for i in range(args.count):
        sub = os.path.join(args.out, "%04d" % (i // 1000))
        if i % 1000 == 0:
            os.makedirs(sub, exist_ok=True)
        parts, n = [], 0
        while n < args.bytes:
            w = words[min(bisect.bisect_left(cumulative, rng.random() * total), len(words) - 1)]
            if rng.randrange(12) == 0:
                w += "."
            parts.append(w)
            n += len(w) + 1
        with open(os.path.join(sub, "doc%07d.txt" % i), "w", encoding="utf-8") as f:
            f.write("Document %d\n\n%s\n" % (i, " ".join(parts)))


if __name__ == "__main__":
    main()
