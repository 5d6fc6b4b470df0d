#!/usr/bin/env python3
"""Writes bench/wrk/vocab.txt: the benchmark corpus vocabulary, one word per line, most frequent
first. bench/wrk/ingest.lua draws document words from it with Zipf's law (the probability of the
word of rank r is proportional to 1/r), and search.lua / retrieve.lua draw query words from the
same distribution, so the HTTP search figures run on text whose document frequencies look like
real text's (a few words in most documents, most words in few) instead of a 33-word corpus where
every word is in every document.

The words are the --count most frequent lowercase alphabetic words (3 to 14 letters) under a
documentation tree (default /usr/share/doc, as bench/make_text_chunks.py), so the list depends on
the installed packages; the committed vocab.txt is the reference one and should only be
regenerated on purpose:

  bench/make_vocab.py --out bench/wrk/vocab.txt
"""
import argparse
import collections
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_text_chunks import read_text  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", default="/usr/share/doc")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=5000)
    args = ap.parse_args()

    counts = collections.Counter()
    seen, files = set(), 0
    for root, dirs, names in os.walk(args.root):
        dirs.sort()
        for name in sorted(names):
            text = read_text(os.path.join(root, name))
            if not text:
                continue
            digest = hashlib.sha1(text.encode()).digest()
            if digest in seen:
                continue
            seen.add(digest)
            files += 1
            counts.update(w for w in re.findall(r"[a-z]+", text.lower()) if 3 <= len(w) <= 14)
    # Ties broken alphabetically so the list is a function of the counts alone.
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:args.count]
    with open(args.out, "w", encoding="utf-8") as f:
        for w, _ in words:
            f.write(w + "\n")
    print("%d words from %d files under %s" % (len(words), files, args.root), file=sys.stderr)


if __name__ == "__main__":
    main()
