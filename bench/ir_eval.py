#!/usr/bin/env python3
"""Retrieval quality of /api/search on the CISI collection (nDCG@10, recall@10).

Ingests every CISI document through POST /api/rag/document (title, text, a URL encoding the id),
runs every judged query through GET /api/search with limit 10 and scores the ranking with binary
gains, as ../shared/data/ir/README.md describes.

Usage:
  bench/ir_eval.py --server http://127.0.0.1:8000 [--ingest] [--mode hybrid|lexical|vector]
  bench/ir_eval.py --jrvs build/release/src/app/jrvs --sweep   # starts its own servers

--sweep starts one jrvs per configuration (fresh data dir, ephemeral port) and prints a table;
--json FILE writes the results.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "ir", "cisi"))


def parse_records(path):
    """Yields dicts {id, fields: {letter: text}} from a CISI .ALL/.QRY file."""
    records, cur, field = [], None, None
    with open(path, encoding="latin-1") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^\.I\s+(\d+)", line)
            if m:
                cur = {"id": int(m.group(1)), "fields": {}}
                records.append(cur)
                field = None
                continue
            m = re.match(r"^\.([A-Z])\s*$", line)
            if m and cur is not None:
                field = m.group(1)
                cur["fields"].setdefault(field, [])
                continue
            if cur is not None and field is not None:
                cur["fields"][field].append(line)
    for r in records:
        r["fields"] = {k: " ".join(" ".join(v).split()) for k, v in r["fields"].items()}
    return records


def load_collection(data_dir):
    docs = parse_records(os.path.join(data_dir, "CISI.ALL"))
    queries = parse_records(os.path.join(data_dir, "CISI.QRY"))
    rel = {}
    with open(os.path.join(data_dir, "CISI.REL")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                rel.setdefault(int(parts[0]), set()).add(int(parts[1]))
    return docs, queries, rel


def http(method, url, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def ingest(server, docs):
    t0 = time.time()
    for d in docs:
        title = d["fields"].get("T", "")
        text = d["fields"].get("W", "")
        status, _ = http("POST", server + "/api/rag/document",
                         {"title": title, "content": text,
                          "url": "cisi://doc/%d" % d["id"]})
        if status not in (200, 201):
            raise SystemExit("ingest failed for %d: %s" % (d["id"], status))
    return time.time() - t0


def doc_id_of(hit):
    url = hit.get("url") or ""
    m = re.match(r"cisi://doc/(\d+)", url)
    return int(m.group(1)) if m else None


def evaluate(server, queries, rel, mode=None, k=10):
    ndcgs, recalls, latencies = [], [], []
    for q in queries:
        if q["id"] not in rel:
            continue
        relevant = rel[q["id"]]
        params = {"query": q["fields"].get("W", ""), "limit": str(k)}
        if mode:
            params["mode"] = mode
        t0 = time.time()
        _, body = http("GET", server + "/api/search?" + urllib.parse.urlencode(params))
        latencies.append((time.time() - t0) * 1000)
        ranked = [doc_id_of(h) for h in body["results"]][:k]
        dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked) if d in relevant)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
        ndcgs.append(dcg / ideal if ideal else 0.0)
        recalls.append(len([d for d in ranked if d in relevant]) / len(relevant))
    latencies.sort()
    return {
        "queries": len(ndcgs),
        "ndcg@10": sum(ndcgs) / len(ndcgs),
        "recall@10": sum(recalls) / len(recalls),
        "p50_ms": latencies[len(latencies) // 2],
    }


class Server:
    """A jrvs serve on an ephemeral port with a fresh data dir and extra environment."""

    def __init__(self, binary, env):
        self.dir = tempfile.mkdtemp(prefix="jrvs-ir-")
        full_env = dict(os.environ)
        full_env.update({"JRVS_LLM_OLLAMA_URL": "http://127.0.0.1:9", "JRVS_LOG_LEVEL": "warn"})
        full_env.update(env)
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--data-dir", self.dir],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=full_env, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            self.close()
            raise SystemExit("jrvs did not start: %r" % line)
        self.url = m.group(1)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# Configurations compared by --sweep: (label, environment). The query-time mode parameter is
# used for the pure signals so one ingest serves several rows.
SWEEP = [
    # Fusion of BM25 with the global vector ranking (where a document's best chunk falls in a
    # search of the whole index): the default until 2026-11-25.
    ("global lex1 vec1 (equal RRF)", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                                      "JRVS_RETRIEVAL_VECTOR_WEIGHT": "1",
                                      "JRVS_RETRIEVAL_TITLE_WEIGHT": "1"}),
    ("global vec0.5", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                       "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.5", "JRVS_RETRIEVAL_TITLE_WEIGHT": "1"}),
    ("global vec0.3", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                       "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.3", "JRVS_RETRIEVAL_TITLE_WEIGHT": "1"}),
    ("global vec0.2", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                       "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.2", "JRVS_RETRIEVAL_TITLE_WEIGHT": "1"}),
    ("global vec0.3 title2", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                              "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.3",
                              "JRVS_RETRIEVAL_TITLE_WEIGHT": "2"}),
    ("global vec0.2 title2", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                              "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.2",
                              "JRVS_RETRIEVAL_TITLE_WEIGHT": "2"}),
    ("global vec0.3 stop words kept", {"JRVS_RETRIEVAL_RERANK_DOCUMENTS": "false",
                                       "JRVS_RETRIEVAL_VECTOR_WEIGHT": "0.3",
                                       "JRVS_RETRIEVAL_STOP_WORDS": "false"}),
    # BM25's documents re-ranked by their best chunk's exact similarity (rerank_documents, the
    # default since 2026-11-25), title weight 2, by the weight of that ranking.
] + [("rerank vec%s title2" % w, {"JRVS_RETRIEVAL_RERANK_VECTOR_WEIGHT": w})
     for w in ("0.2", "0.3", "0.4", "0.5", "0.7", "1")] + [
    ("server default", {}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--server", help="URL of a running jrvs")
    ap.add_argument("--jrvs", help="jrvs binary for --sweep / self-started runs")
    ap.add_argument("--data", default=DEFAULT_DATA, help="CISI directory")
    ap.add_argument("--ingest", action="store_true", help="ingest the collection first")
    ap.add_argument("--mode", help="hybrid, lexical or vector (default: the server's)")
    ap.add_argument("--sweep", action="store_true", help="compare configurations")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for a self-started run")
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()

    docs, queries, rel = load_collection(args.data)
    results = []
    if args.sweep or (args.jrvs and not args.server):
        configs = SWEEP if args.sweep else [("custom", dict(e.split("=", 1) for e in args.env))]
        for label, env in configs:
            server = Server(args.jrvs, env)
            try:
                secs = ingest(server.url, docs)
                modes = [None]
                if label.startswith("hybrid lex1 vec1"):
                    modes = ["lexical", "vector", None]
                for mode in modes:
                    r = evaluate(server.url, queries, rel, mode)
                    r["config"] = label if mode is None else mode + " only"
                    r["ingest_docs_per_s"] = len(docs) / secs
                    results.append(r)
                    print("%-32s nDCG@10 %.4f  recall@10 %.4f  p50 %.1f ms" %
                          (r["config"], r["ndcg@10"], r["recall@10"], r["p50_ms"]), flush=True)
            finally:
                server.close()
    else:
        if not args.server:
            raise SystemExit("give --server URL or --jrvs BINARY")
        if args.ingest:
            ingest(args.server, docs)
        r = evaluate(args.server, queries, rel, args.mode)
        r["config"] = args.mode or "server default"
        results.append(r)
        print("%-32s nDCG@10 %.4f  recall@10 %.4f  p50 %.1f ms" %
              (r["config"], r["ndcg@10"], r["recall@10"], r["p50_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
