#!/usr/bin/env python3
"""Runs JRVS's Locust scenarios against a fresh `jrvs serve` and writes the figures as JSON.

    run_scenarios.py --binary build/release/src/app/jrvs [--docs 100,10000] [--duration 60]
                     [--scenarios JRVSUser:10,JRVSUser:25,IntenseUser:50,RAGFocusedUser:20]
                     [--provider extractive | --fake-llm PATH] [--out FILE.json]
                     [--fail-on-errors]

For each corpus size: starts the server on 127.0.0.1 with a new data dir (LLM provider
`extractive` by default: JRVS's targets are "without an LLM"), ingests corpus.documents(N)
through POST /api/rag/document, then runs each scenario (CLASS[+CLASS...]:USERS) for
--duration seconds after ramp-up, sampling the server's RSS and CPU and Locust's CPU. The
scenarios run one after another on the same server (conversations accumulate, as in use).

--fail-on-errors: exit 1 if any request failed (non-2xx or malformed JSON) or any scenario made
no request at all; the CI smoke test (scripts/load_smoke.sh) uses it.
"""
import argparse
import contextlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import harness  # noqa: E402

JRVS_SCENARIOS = "JRVSUser:10,JRVSUser:25,IntenseUser:50,RAGFocusedUser:20"


def parse_scenarios(text):
    out = []
    for item in text.split(","):
        classes, users = item.rsplit(":", 1)
        out.append((classes.split("+"), int(users)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--docs", default="100", help="comma-separated corpus sizes")
    ap.add_argument("--duration", type=int, default=60, help="seconds per scenario")
    ap.add_argument("--scenarios", default=JRVS_SCENARIOS)
    ap.add_argument("--provider", default="extractive",
                    help="llm.provider; 'ollama' with --ollama-url to use tests/fakes' fake_llm")
    ap.add_argument("--ollama-url", default=None)
    ap.add_argument("--fake-llm", default=None,
                    help="path of tests/fakes' fake_llm: chat goes to it (Ollama protocol)")
    ap.add_argument("--out", default=None, help="write the results JSON here")
    ap.add_argument("--fail-on-errors", action="store_true")
    args = ap.parse_args()

    env = {}
    if args.ollama_url:
        env["JRVS_LLM_OLLAMA_URL"] = args.ollama_url
    results = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "provider": args.provider, "duration_s": args.duration,
               "cores": os.cpu_count(), "load_average_start": os.getloadavg(), "runs": []}
    ok = True
    for n_docs in [int(x) for x in args.docs.split(",")]:
        with contextlib.ExitStack() as stack:
            if args.fake_llm:
                fake = stack.enter_context(harness.FakeLlm(args.fake_llm))
                env.update(fake.env)
                results["provider"] = "ollama (fake_llm)"
            server = stack.enter_context(
                harness.JrvsServer(args.binary, provider=args.provider, extra_env=env))
            t0 = time.monotonic()
            stored = corpus.ingest(server.url, corpus.documents(n_docs))
            ingest_s = time.monotonic() - t0
            stats = corpus.get_json(server.url, "/api/stats")
            harness.log("ingested %d documents (%d chunks) in %.1f s; RSS %.1f MB" % (
                stored, stats.get("chunks", 0), ingest_s,
                harness.rss_bytes(server.pid) / 2**20))
            for classes, users in parse_scenarios(args.scenarios):
                r = harness.run_locust(server.url, classes, users, args.duration, server.pid)
                r.update({"corpus_docs": n_docs, "corpus_chunks": stats.get("chunks", 0),
                          "ingest_s": ingest_s})
                results["runs"].append(r)
                harness.log("%s x%d: %d requests, %d failed, %.1f req/s, avg %.2f ms, "
                            "P95 %.0f ms, P99 %.0f ms (in the server: avg %.2f ms, P95 %.1f ms), "
                            "server CPU %.0f%%, locust CPU %.0f%%, RSS %.1f MB" % (
                                "+".join(classes), users, r["requests"], r["failures"], r["rps"],
                                r["avg_ms"], r["p95_ms"], r["p99_ms"],
                                r.get("server_avg_ms", 0), r.get("server_p95_ms", 0),
                                r["server_cpu_pct"], r["locust_cpu_pct"],
                                r["server_rss_mb_max"]))
                if r["failures"] or r["requests"] == 0:
                    ok = False
                    for f in r.get("failure_samples", []):
                        harness.log("failure: %s" % f)
                    if r["requests"] == 0:
                        harness.log("no request made; locust said:\n" +
                                    r.get("locust_output", ""))
            if server.proc.poll() is not None:
                harness.log("the server exited during the run (status %s)" % server.proc.poll())
                ok = False
        if server.exit_status != 0:
            harness.log("the server did not stop cleanly (status %s):\n%s" % (
                server.exit_status, server.log_tail))
            ok = False
    results["load_average_end"] = os.getloadavg()
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
        harness.log("wrote " + args.out)
    if args.fail_on_errors and not ok:
        harness.log("FAILED: some requests failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
