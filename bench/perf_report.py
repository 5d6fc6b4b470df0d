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
    m = re.search(r"Latency P95: ([\d.]+)ms", text)  # printed by bench/wrk/retrieve.lua
    if m:
        out["p95_ms"] = float(m.group(1))
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


def scale_results(raw):
    """The --only scale part: per corpus size, ingest rate, RSS, wrk medians, ceiling rows."""
    out = {}
    for path in glob.glob(os.path.join(raw, "scale_[0-9]*.json")):
        r = json.load(open(path))
        docs = str(r["documents"])
        r["stats"] = load_json(os.path.join(raw, "scale_stats_%s.json" % docs)) or {}
        for kind in ("retrieve", "search"):
            m = median_runs(raw, "scale_%s_%s" % (kind, docs))
            if m:
                r[kind] = m
        bench = load_json(os.path.join(raw, "scale_bench_%s.json" % docs)) or {}
        r["bench"] = {b["name"]: {k: v for k, v in b.items() if isinstance(v, (int, float))}
                      for b in bench.get("benchmarks", [])}
        out[docs] = r
    return out


# JRVS's published Locust results (github.com/Xthebuilder/JRVS, docs/PERFORMANCE.md, "example
# results ... 8 core CPU, 16GB RAM, llama3.1:8b, 100 documents indexed"):
# (class, users) -> (label, RPS, avg, P95, error rate).
JRVS_LOCUST = {
    ("JRVSUser", 10): ("Normal", "45", "850 ms", "1.2 s", "0.1%"),
    ("JRVSUser", 25): ("Normal", "98", "1.1 s", "2.0 s", "0.5%"),
    ("IntenseUser", 50): ("Intense", "145", "1.8 s", "3.5 s", "2.1%"),
    ("RAGFocusedUser", 20): ("RAG-Focused", "72", "650 ms", "1.0 s", "0.2%"),
}
LOCUST_BEGIN = "<!-- locust-table:begin -->"
LOCUST_END = "<!-- locust-table:end -->"


def locust_table(result):
    """Markdown table of the Locust runs (tests/load/run_scenarios.py) beside JRVS's figures."""
    lines = ["| scenario | users | docs | LLM | RPS (JRVS) | avg ms (JRVS) | P50 / P95 / P99 ms "
             "(JRVS P95) | in the server: avg / P95 ms | errors (JRVS) | server CPU | "
             "Locust CPU | server RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in ("locust", "locust_fake_llm"):
        data = result.get(key)
        if not data:
            continue
        llm = "fake_llm" if "fake" in str(data.get("provider")) else data.get("provider", "")
        for r in data.get("runs", []):
            classes = "+".join(r["classes"])
            ref = JRVS_LOCUST.get((classes, r["users"]))
            label = "%s (%s)" % (classes, ref[0]) if ref else classes
            jr = ref if ref and r.get("corpus_docs") == 100 and llm == "extractive" else None
            lines.append(
                "| %s | %d | %s | %s | %.1f (%s) | %.2f (%s) | %.0f / %.0f / %.0f (%s) | "
                "%.2f / %.1f | %.2f%% (%s) | %.0f%% | %.0f%% | %.0f |" % (
                    label, r["users"], format(r.get("corpus_docs", 0), ","), llm, r["rps"],
                    jr[1] if jr else "-", r["avg_ms"], jr[2] if jr else "-", r["p50_ms"],
                    r["p95_ms"], r["p99_ms"], jr[3] if jr else "-",
                    r.get("server_avg_ms", 0), r.get("server_p95_ms", 0),
                    100.0 * r["error_rate"], jr[4] if jr else "-", r["server_cpu_pct"],
                    r["locust_cpu_pct"], r["server_rss_mb_max"]))
    return "\n".join(lines)


def update_doc(path, table, result):
    """Replaces the text between the locust-table markers of `path` with `table`."""
    text = open(path).read()
    b, e = text.find(LOCUST_BEGIN), text.find(LOCUST_END)
    if b < 0 or e < b:
        print("perf_report: no locust-table markers in %s; not updated" % path)
        return
    data = result.get("locust") or {}
    note = ("Run of %s UTC, commit %s, %s s per scenario after ramp-up, %s cores, load average "
            "%.1f at the start (other jobs share the machine). Raw data: `%s`." % (
                data.get("timestamp", "?").replace("T", " ").rstrip("Z"), result.get("commit"),
                data.get("duration_s"), data.get("cores"),
                (data.get("load_average_start") or [0])[0], result.get("_out", "")))
    new = LOCUST_BEGIN + "\n" + note + "\n\n" + table + "\n" + text[e:]
    with open(path, "w") as f:
        f.write(text[:b] + new)
    print("perf_report: updated the Locust table in " + path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--doc", help="regenerate the Locust table between the markers of this file")
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
    for name in ("nginx", "health", "ingest", "search", "retrieve", "search_ref"):
        m = median_runs(raw, name)
        if m:
            result["wrk"][name] = m
    for name in ("idle_rss", "kb_rss", "kb_stats", "ir"):
        v = load_json(os.path.join(raw, name + ".json"))
        if v is not None:
            result[name] = v
    for name in ("locust", "locust_fake_llm"):  # tests/load/run_scenarios.py
        v = load_json(os.path.join(raw, name + ".json"))
        if v is not None:
            result[name] = v
    scale = scale_results(raw)  # scripts/perf.sh --only scale
    if scale:
        result["scale"] = scale
    w = result["wrk"]
    if "nginx" in w and "health" in w and w["nginx"].get("rps"):
        result["health_vs_nginx"] = w["health"]["rps"] / w["nginx"]["rps"]
    if "search" in w and "search_ref" in w:
        pairs = zip(w["search"].get("all_rps", []), w["search_ref"].get("all_rps", []))
        ratios = sorted(s / h for s, h in pairs if h)
        if ratios:
            result["search_vs_health"] = ratios[len(ratios) // 2]
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
    if "search_vs_health" in result:
        print("/api/search = %.3fx /health on the same server (median of per-run ratios; /health "
              "%.0f req/s)" % (result["search_vs_health"], w["search_ref"]["rps"]))
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
    for docs, r in sorted(result.get("scale", {}).items(), key=lambda kv: int(kv[0])):
        stats = r.get("stats", {})
        ingest = ("jrvs ingest %.0f docs/s" % r["ingest_docs_per_s"]
                  if r.get("ingest_docs_per_s") else "existing data dir")
        print("scale %s docs / %s chunks: %s; RSS loaded %.1f MB (idle %.1f);"
              " retrieve -c1 P50 %.2f ms P95 %.2f ms P99 %.2f ms; search -c32 %.0f req/s" % (
                  docs, stats.get("chunks", "?"), ingest,
                  r["loaded_rss_kb"] / 1024, r["idle_rss_kb"] / 1024,
                  r.get("retrieve", {}).get("p50_ms", 0), r.get("retrieve", {}).get("p95_ms", 0),
                  r.get("retrieve", {}).get("p99_ms", 0),
                  r.get("search", {}).get("rps", 0)))
        for name, b in sorted(r.get("bench", {}).items()):
            print("  ceiling %s: p50 %.0f us, p95 %.0f us, p99 %.0f us%s" % (
                name, b.get("p50_us", 0), b.get("p95_us", 0), b.get("p99_us", 0),
                ", recall@10 %.3f" % b["recall@10"] if "recall@10" in b else ""))
    if "locust" in result or "locust_fake_llm" in result:
        table = locust_table(result)
        print("\nLocust scenarios:\n" + table)
        if args.doc:
            result["_out"] = args.out
            update_doc(args.doc, table, result)


if __name__ == "__main__":
    main()
