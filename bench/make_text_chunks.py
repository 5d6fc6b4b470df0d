#!/usr/bin/env python3
"""Writes a file of real-text chunks, one per line, for JRVS_BENCH_TEXT (vector_index_bench).

Walks a documentation tree (default /usr/share/doc: every Debian machine has one) in sorted
order, reads UTF-8 text files and their .gz versions, collapses whitespace, cuts 512-character
windows every 448 characters, keeps windows of at least 200 characters once each, shuffles them
with a fixed seed and writes the first --count. The result depends on the packages installed, so
record the count of input files with any figure made from it.

  bench/make_text_chunks.py --out /tmp/chunks.txt
  JRVS_BENCH_TEXT=/tmp/chunks.txt build/release/bench/vector_index_bench

--root may be given several times (e.g. /usr/share/doc, /usr/share/man, /usr/lib/python3 and
/usr/include give ~1M windows of prose, manuals and source code on this machine).

With --docs DIR it also writes each chunk as a document DIR/NNNN/chunkNNNNNNN.txt (1,000 per
folder) for `jrvs ingest -r DIR`: a real-text corpus for bench/retrieval_scale_bench.cc.
"""
import argparse
import gzip
import hashlib
import os
import random
import re
import sys


def read_text(path):
    try:
        if os.path.islink(path):
            return None
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(4_000_000)
        else:
            if os.path.getsize(path) > 2_000_000:
                return None
            with open(path, "rb") as f:
                data = f.read()
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", action="append",
                    help="tree to read (repeatable; default /usr/share/doc)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--docs", help="also write one .txt document per chunk under this folder")
    args = ap.parse_args()

    roots = args.root or ["/usr/share/doc"]
    seen_files, seen_chunks, chunks, files = set(), set(), [], 0
    for root, dirs, names in (w for top in roots for w in os.walk(top)):
        dirs.sort()
        for name in sorted(names):
            text = read_text(os.path.join(root, name))
            if not text:
                continue
            digest = hashlib.sha1(text.encode()).digest()
            if digest in seen_files:
                continue
            seen_files.add(digest)
            files += 1
            flat = re.sub(r"\s+", " ", text)
            for start in range(0, len(flat), 448):
                chunk = flat[start:start + 512].strip()
                if len(chunk) < 200:
                    continue
                key = hashlib.sha1(chunk.encode()).digest()
                if key not in seen_chunks:
                    seen_chunks.add(key)
                    chunks.append(chunk)
    random.Random(args.seed).shuffle(chunks)
    chunks = chunks[:args.count]
    with open(args.out, "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(c + "\n")
    if args.docs:
        for i, c in enumerate(chunks):
            folder = os.path.join(args.docs, "%04d" % (i // 1000))
            if i % 1000 == 0:
                os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "chunk%07d.txt" % i), "w", encoding="utf-8") as f:
                f.write(c + "\n")
    print("%d chunks from %d files under %s" % (len(chunks), files, " ".join(roots)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
