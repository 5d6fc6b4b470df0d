#!/usr/bin/env python3
"""Soak / leak check: the mixed Locust scenario against a fresh `jrvs serve` for a bounded time.

    soak.py --binary build/release/src/app/jrvs [--seconds 60] [--users 12] [--docs 100]
            [--warmup S] [--rss-growth 0.10] [--fd-slack 8] [--json FILE] [--no-rss-check]

Runs JRVSUser + IntenseUser + RAGFocusedUser together (Locust splits --users evenly) on an
ingested corpus with the extractive LLM, and samples the server's resident memory
(/proc/PID/status VmRSS) and open descriptors (/proc/PID/fd) every second.

Verdict (exit 1 on any):
- a request failed (non-2xx or malformed JSON), or none was made;
- resident memory less SQLite's own heap (the db_sqlite_memory_bytes gauge of /metrics,
  sampled with RSS) grew more than --rss-growth (10%) after warm-up: the median of the last 20%
  of the post-warm-up samples against the median of the first 20%. Medians, so one allocation
  burst does not decide it; after warm-up, so caches that fill quickly to their bound
  (embedding cache, allocator arenas) are not counted as a leak; SQLite's heap is left out
  because its page caches (cache_size per connection) fill with the growing database for far
  longer than a bounded run (it is printed, and bounded by configuration);
- the open-fd count at the end exceeds the post-warm-up start by more than --fd-slack
  (connections come and go; a leak of one fd per request would add thousands);
- the server exited during the run, or did not exit 0 on SIGTERM at the end (in sanitizer
  builds that includes LeakSanitizer's report of leaked memory).
--no-rss-check keeps the other checks (for sanitizer builds, whose quarantine and shadow
memory make RSS meaningless). Warm-up defaults to a third of the run, at most 60 s.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import harness  # noqa: E402

CLASSES = ["JRVSUser", "IntenseUser", "RAGFocusedUser"]
SQLITE_HEAP = ("db_sqlite_memory_bytes",)


def window_medians(values, frac=0.2):
    k = max(1, int(len(values) * frac))
    return statistics.median(values[:k]), statistics.median(values[-k:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--warmup", type=float, default=None)
    ap.add_argument("--rss-growth", type=float, default=0.10)
    ap.add_argument("--fd-slack", type=int, default=8)
    ap.add_argument("--json", default=None, help="write the samples and verdict here")
    ap.add_argument("--no-rss-check", action="store_true")
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else min(60.0, args.seconds / 3)

    problems = []
    with harness.JrvsServer(args.binary) as server:
        corpus.ingest(server.url, corpus.documents(args.docs))
        workdir = tempfile.mkdtemp(prefix="jrvs-soak.")
        prefix = os.path.join(workdir, "locust")
        cmd = [harness.locust_binary(), "-f", harness.LOCUSTFILE, "--headless",
               "--host", server.url, "--users", str(args.users),
               "--spawn-rate", str(args.users), "--run-time", "%ds" % args.seconds,
               "--csv", prefix, "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "5"] + CLASSES
        harness.log("soak: %d users (%s) for %d s, warm-up %.0f s" % (
            args.users, "+".join(CLASSES), args.seconds, warmup))
        with open(os.path.join(workdir, "locust.out"), "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            t0 = time.monotonic()
            try:
                with harness.Sampler({"server": server.pid},
                                     extra=lambda: harness.scrape_gauges(
                                         server.url, SQLITE_HEAP)) as sampler:
                    proc.wait(timeout=args.seconds + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                problems.append("locust did not finish")
        stats = harness.parse_stats(prefix + "_stats.csv")
        with open(os.path.join(workdir, "locust.out"), errors="replace") as f:
            locust_tail = f.read()[-3000:]
        shutil.rmtree(workdir, ignore_errors=True)
        if server.proc.poll() is not None:
            problems.append("server exited with status %s" % server.proc.poll())
    if server.exit_status != 0:
        problems.append("server did not stop cleanly (status %s): %s" % (
            server.exit_status, server.log_tail))

    samples = [s for s in sampler.samples if "server_rss" in s]
    post = [s for s in samples if s["t"] - t0 >= warmup]
    raw_rss = [s["server_rss"] / 2**20 for s in post]
    # The leak signal is RSS less SQLite's heap: SQLite's page caches legitimately grow with the
    # database (every chat turn is stored) up to cache_size per connection, which a 60 s run
    # never reaches. Without the gauge (an older server) the raw RSS is used.
    have_heap = bool(post) and all(SQLITE_HEAP[0] in s for s in post)
    rss = [(s["server_rss"] - (s[SQLITE_HEAP[0]] if have_heap else 0)) / 2**20 for s in post]
    fds = [s["server_fds"] for s in post]
    verdict = {"requests": stats["requests"], "failures": stats["failures"],
               "rps": stats["rps"], "p95_ms": stats["p95_ms"], "samples": len(samples),
               "post_warmup_samples": len(post)}
    if stats["requests"] == 0:
        problems.append("no request was made; locust said: " + locust_tail)
    if stats["failures"]:
        problems.append("%d of %d requests failed" % (stats["failures"], stats["requests"]))
    if len(post) < 5:
        problems.append("too few samples after warm-up (%d)" % len(post))
    else:
        rss_first, rss_last = window_medians(rss)
        fd_first = statistics.median(fds[:max(1, len(fds) // 5)])
        fd_end = fds[-1]
        growth = (rss_last - rss_first) / rss_first
        raw_first, raw_last = window_medians(raw_rss)
        verdict.update({"raw_rss_mb_first": raw_first, "raw_rss_mb_last": raw_last,
                        "leak_signal": "rss - sqlite heap" if have_heap else "rss"})
        verdict.update({"rss_mb_first": rss_first, "rss_mb_last": rss_last,
                        "rss_mb_min": min(rss), "rss_mb_max": max(rss), "rss_growth": growth,
                        "fds_first": fd_first, "fds_end": fd_end, "fds_max": max(fds)})
        print("soak: %d requests, %d failed, %.1f req/s, P95 %.0f ms" % (
            stats["requests"], stats["failures"], stats["rps"], stats["p95_ms"]))
        print("soak: RSS MB after warm-up: first-20%% median %.1f, last-20%% median %.1f (%+.1f%%)"
              % (raw_first, raw_last, 100 * (raw_last - raw_first) / raw_first))
        print("soak: %s MB after warm-up: first-20%% median %.1f, last-20%% median %.1f "
              "(%+.1f%%), min %.1f, max %.1f" % (verdict["leak_signal"], rss_first, rss_last,
                                                 100 * growth, min(rss), max(rss)))
        if have_heap:
            print("soak: SQLite heap MB: %.1f -> %.1f" % (
                post[0][SQLITE_HEAP[0]] / 2**20, post[-1][SQLITE_HEAP[0]] / 2**20))
        print("soak: RSS MB series (every 5 s): " +
              " ".join("%.1f" % (s["server_rss"] / 2**20) for s in samples[::5]))
        print("soak: open fds: start %d, end %d, max %d" % (fd_first, fd_end, max(fds)))
        if not args.no_rss_check and growth > args.rss_growth:
            problems.append("%s grew %.1f%% after warm-up (limit %.0f%%)" % (
                verdict["leak_signal"], 100 * growth, 100 * args.rss_growth))
        if fd_end > fd_first + args.fd_slack:
            problems.append("open fds grew from %d to %d (slack %d)" % (
                fd_first, fd_end, args.fd_slack))
    verdict["problems"] = problems
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"verdict": verdict, "series": samples}, f, indent=2)
    for p in problems:
        print("soak: FAIL: " + p)
    if not problems:
        print("soak: PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
