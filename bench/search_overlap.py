#!/usr/bin/env python3
"""How much two search configurations agree: top-k document ids of /api/search for the same
wrk-like queries (three words drawn with Zipf's law from bench/wrk/vocab.txt, seed 7).

  bench/search_overlap.py --url http://127.0.0.1:PORT --out a.json    # one configuration
  bench/search_overlap.py --compare a.json b.json                    # identical lists, overlap

Run it against `jrvs serve` on the same data dir once per configuration (e.g. with
JRVS_INDEX_EF_SEARCH=64, or JRVS_INDEX_ANN_THRESHOLD=1000000000 for an exact search).
"""
import argparse
import bisect
import json
import random
import urllib.parse
import urllib.request


def queries(count, seed):
    words = [w.strip() for w in open("bench/wrk/vocab.txt", encoding="utf-8") if w.strip()]
    cumulative, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank
        cumulative.append(total)
    rng = random.Random(seed)

    def word():
        return words[min(bisect.bisect_left(cumulative, rng.uniform(0, total)), len(words) - 1)]

    return [" ".join(word() for _ in range(3)) for _ in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--out")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        a, b = (json.load(open(p)) for p in args.compare)
        same = sum(x == y for x, y in zip(a, b))
        shared = sum(len(set(x) & set(y)) for x, y in zip(a, b))
        print("identical top-%d lists %d/%d, overlap %.4f" % (
            args.limit, same, len(a), shared / max(1, sum(len(y) for y in b))))
        return
    if not args.url or not args.out:
        ap.error("--url and --out, or --compare A B")
    results = []
    for q in queries(args.count, 7):
        url = args.url + "/api/search?" + urllib.parse.urlencode({"q": q, "limit": args.limit})
        results.append([r["document_id"] for r in json.load(urllib.request.urlopen(url))["results"]])
    with open(args.out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
