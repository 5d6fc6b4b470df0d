#!/usr/bin/env python3
"""Summarises the raw outputs of scripts/perf.sh into one JSON file and a Markdown table.

Medians over runs; ratios against references measured in the same run.
"""
import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import time


def parse_wrk(path):
    text = open(path).read()
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % pct, text)
        if m:
            v = float(m.group(1))
            unit = m.group(2)
            out["p" + pct + "_ms"] = v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", text)
    out["socket_errors"] = m.group(0) if m else ""
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else 0
    return out


def median_runs(raw, name):
    runs = [parse_wrk(p) for p in sorted(glob.glob(os.path.join(raw, name + ".*.txt")))]
    if not runs:
        return None
    keys = set().union(*[r.keys() for r in runs]) - {"socket_errors"}
    med = {k: statistics.median([r[k] for r in runs if k in r]) for k in keys}
    med["runs"] = len(runs)
    med["all_rps"] = [r.get("rps") for r in runs]
    return med


def load_json(path):
    return json.load(open(path)) if os.path.exists(path) else None


def micro(raw):
    out = {}
    for path in glob.glob(os.path.join(raw, "micro_*.json")):
        data = json.load(open(path))
        for b in data.get("benchmarks", []):
            if b.get("aggregate_name") not in (None, "median"):
                continue
            name = b["run_name"] if "run_name" in b else b["name"]
            entry = {"real_time": b.get("real_time"), "cpu_time": b.get("cpu_time"),
                     "time_unit": b.get("time_unit")}
            for k in ("items_per_second", "bytes_per_second"):
                if k in b:
                    entry[k] = b[k]
            for k, v in b.items():
                if k not in entry and isinstance(v, (int, float)) and k not in (
                        "iterations", "repetitions", "repetition_index", "threads",
                        "family_index", "per_family_instance_index"):
                    entry[k] = v
            out[name] = entry
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--duration", type=int)
    args = ap.parse_args()
    raw = args.raw
    try:
        commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        commit = ""
    result = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "machine": {"cores": os.cpu_count(), "kernel": platform.release()},
        "runs": args.runs, "duration_s": args.duration,
        "wrk": {}, "micro": micro(raw),
    }
    for name in ("nginx", "health", "ingest", "search", "retrieve"):
        m = median_runs(raw, name)
        if m:
            result["wrk"][name] = m
    for name in ("idle_rss", "kb_rss", "kb_stats", "ir"):
        v = load_json(os.path.join(raw, name + ".json"))
        if v is not None:
            result[name] = v
    w = result["wrk"]
    if "nginx" in w and "health" in w and w["nginx"].get("rps"):
        result["health_vs_nginx"] = w["health"]["rps"] / w["nginx"]["rps"]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)

    print("| measurement | req/s (median) | P50 ms | P99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for name, label in (("nginx", "nginx static 200 (ceiling)"), ("health", "jrvs GET /health"),
                        ("ingest", "POST /api/rag/document (1 KB)"),
                        ("search", "GET /api/search"), ("retrieve", "POST /api/rag/retrieve")):
        if name in w:
            m = w[name]
            print("| %s | %.0f | %.2f | %.2f | %d |" % (label, m.get("rps", 0), m.get("p50_ms", 0),
                                                     m.get("p99_ms", 0), m.get("non2xx", 0)))
    if "health_vs_nginx" in result:
        print("\n/health = %.2fx nginx" % result["health_vs_nginx"])
    if "idle_rss" in result:
        print("idle RSS: %.1f MB" % (result["idle_rss"]["idle_rss_kb"] / 1024))
    if "kb_rss" in result and "kb_stats" in result:
        print("RSS with %d documents / %d chunks: %.1f MB" % (
            result["kb_stats"]["documents"], result["kb_stats"]["chunks"],
            result["kb_rss"]["rss_kb"] / 1024))
    for name, m in sorted(result["micro"].items()):
        extra = ""
        if "items_per_second" in m:
            extra = " %.0f items/s" % m["items_per_second"]
        print("micro %s: %.3g %s%s" % (name, m["real_time"] or 0, m["time_unit"], extra))


if __name__ == "__main__":
    main()
