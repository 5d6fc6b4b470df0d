#!/usr/bin/env python3
"""Chat load figures for docs/PERFORMANCE.md ("Chat"), Python 3 stdlib + wrk.

Starts its own `jrvs serve` (and the `fake_llm` server from tests/fakes) on 127.0.0.1, runs three
scenarios `--runs` times each and reports the median of the runs:

  (a) extractive: POST /api/chat answered by the extractive provider, 50 concurrent connections
      (wrk -t2 -c50, bench/chat_load.lua): P50/P95/P99 latency and requests/s.
  (b) overhead: POST /api/chat against the fake LLM (50 ms to first token, 20 ms per token),
      --overhead-users concurrent Python clients: jrvs's own time per request = the latency the
      client measured minus retrieval_ms + generation_ms from the response's timings (so it
      includes prompt building, storing the turn, HTTP and this client's own parsing).
  (c) isolation: /health latency (wrk -t1 -c4) while 200 SSE chats stream from a slow fake model
      (each restarted when it ends), with 256 slow workers so every stream runs at once.

Usage: bench/chat_load.py --jrvs build/release/src/app/jrvs
                          --fake-llm build/release/tests/fakes/fake_llm [--runs 3] [--duration 10]
                          [--only a|b|c] [--json out.json]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

DOCS = [
    ("Bees", "Honey bees communicate the direction of flowers with a waggle dance. The angle of "
             "the dance encodes the bearing of the sun. Bees also use scent to mark flowers."),
    ("Octopus", "Octopuses change colour with chromatophores, small sacs of pigment that muscles "
                "stretch open or squeeze shut in a fraction of a second."),
    ("Cats", "Cats purr by twitching the muscles of the larynx, which makes the vocal folds "
             "separate and vibrate both when the cat breathes in and out."),
    ("Sourdough", "A sourdough starter is a culture of wild yeast and lactic acid bacteria that "
                  "ferments flour and water, leavening bread and giving it a sour taste."),
    ("Trees", "The height of trees is limited by how high water can be lifted through the xylem "
              "before the tension breaks the water column."),
    ("Birds", "Migrating birds navigate with the sun, the stars and the earth's magnetic field, "
              "and learn landmarks along their route."),
    ("Sky", "The sky is blue because air scatters short blue wavelengths of sunlight much more "
            "than long red ones (Rayleigh scattering)."),
]


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Proc:
    """A child process whose stdout announces a port; stopped with SIGTERM."""

    def __init__(self, argv, env, pattern, log):
        self.log = open(log, "w+")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            self.log.seek(0)
            m = re.search(pattern, self.log.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError(f"{argv[0]} did not start:\n{self.log.read()}")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def start_fake(args, work, ttft, delay, reply):
    return Proc([args.fake_llm, "--port", "0", "--ttft-ms", str(ttft), "--token-delay-ms",
                 str(delay), "--reply", reply, "--threads", "2"],
                dict(os.environ), r"listening on (\d+)", os.path.join(work, f"fake{ttft}.log"))


def start_jrvs(args, work, name, env_extra):
    data = os.path.join(work, name)
    env = dict(os.environ)
    env.update(env_extra)
    return Proc([args.jrvs, "serve", "--data-dir", data, "--port", "0", "--log-level", "warn"],
                env, r"listening on http://[0-9.]+:(\d+)", os.path.join(work, name + ".log"))


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def add_docs(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for title, content in DOCS:
        status, body = request(conn, "POST", "/api/rag/document",
                               json.dumps({"title": title, "content": content}))
        if status != 201:
            raise RuntimeError(f"ingest failed: {status} {body[:200]}")
    conn.close()


def run_wrk(argv):
    out = subprocess.run(["wrk"] + argv, capture_output=True, text=True, check=True).stdout
    return out


def scenario_a(args, work):
    jrvs = start_jrvs(args, work, "a", {"JRVS_LLM_PROVIDER": "extractive"})
    try:
        add_docs(jrvs.port)
        runs = []
        for _ in range(args.runs):
            out = run_wrk(["-t2", "-c50", f"-d{args.duration}s", "-s",
                           os.path.join(HERE, "chat_load.lua"), f"http://127.0.0.1:{jrvs.port}"])
            vals = dict(re.findall(r"^(chat_\w+) ([\d.]+)$", out, re.M))
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            runs.append({"p50_ms": float(vals["chat_p50_us"]) / 1000,
                         "p95_ms": float(vals["chat_p95_us"]) / 1000,
                         "p99_ms": float(vals["chat_p99_us"]) / 1000,
                         "rps": rps, "non2xx": int(float(vals["chat_non2xx"]))})
    finally:
        jrvs.stop()
    return runs


def scenario_b(args, work):
    reply = "Bees dance to show where the flowers are, and the angle tells the bearing [1]."
    fake = start_fake(args, work, 50, 20, reply)
    jrvs = None
    try:
        jrvs = start_jrvs(args, work, "b", {
            "JRVS_LLM_PROVIDER": "ollama", "JRVS_LLM_OLLAMA_URL": f"http://127.0.0.1:{fake.port}",
            "JRVS_LLM_MODEL": "llama3.2:1b"})
        add_docs(jrvs.port)
        runs = []
        for _ in range(args.runs):
            overheads, latencies, errors, service, transport = [], [], [], [], []
            lock = threading.Lock()
            stop_at = time.time() + args.duration

            def user(i):
                conn = http.client.HTTPConnection("127.0.0.1", jrvs.port, timeout=30)
                n = 0
                while time.time() < stop_at:
                    body = json.dumps({"message": DOCS[n % len(DOCS)][1][:60] + "?",
                                       "session_id": f"bench-{i}-{n}"})
                    n += 1
                    t0 = time.perf_counter()
                    status, data = request(conn, "POST", "/api/chat", body)
                    ms = (time.perf_counter() - t0) * 1000
                    if status != 200:
                        with lock:
                            errors.append(status)
                        continue
                    t = json.loads(data)["timings"]
                    with lock:
                        latencies.append(ms)
                        overheads.append(ms - t["retrieval_ms"] - t["generation_ms"])
                        # Split at ChatService's total_ms (taken before the turn is stored):
                        # history + prompt building, then storing the turn (two SQLite writes),
                        # HTTP, queueing for a slow worker and this client.
                        service.append(t["total_ms"] - t["retrieval_ms"] - t["generation_ms"])
                        transport.append(ms - t["total_ms"])
                conn.close()

            threads = [threading.Thread(target=user, args=(i,)) for i in range(args.overhead_users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            runs.append({"requests": len(latencies), "errors": len(errors),
                         "latency_p50_ms": pct(latencies, 50),
                         "overhead_p50_ms": pct(overheads, 50),
                         "overhead_p95_ms": pct(overheads, 95),
                         "overhead_mean_ms": statistics.fmean(overheads) if overheads else None,
                         "service_p50_ms": pct(service, 50), "service_p95_ms": pct(service, 95),
                         "transport_p50_ms": pct(transport, 50),
                         "transport_p95_ms": pct(transport, 95)})
    finally:
        if jrvs:
            jrvs.stop()
        fake.stop()
    return runs


def scenario_c(args, work):
    reply = " ".join(["token"] * 100)
    fake = start_fake(args, work, 200, 100, reply)  # ~10 s per answer
    jrvs = None
    streaming = [0]
    lock = threading.Lock()
    stop = threading.Event()
    try:
        jrvs = start_jrvs(args, work, "c", {
            "JRVS_LLM_PROVIDER": "ollama", "JRVS_LLM_OLLAMA_URL": f"http://127.0.0.1:{fake.port}",
            "JRVS_LLM_MODEL": "llama3.2:1b", "JRVS_SERVER_SLOW_WORKERS": "256",
            "JRVS_SERVER_MAX_QUEUED_SLOW": "256"})
        add_docs(jrvs.port)

        def chatter(i):
            while not stop.is_set():
                conn = http.client.HTTPConnection("127.0.0.1", jrvs.port, timeout=60)
                try:
                    conn.request("POST", "/api/chat",
                                 body=json.dumps({"message": "tell me about bees",
                                                  "stream": True}),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    with lock:
                        streaming[0] += 1
                    while not stop.is_set() and r.read1(4096):
                        pass
                    with lock:
                        streaming[0] -= 1
                except OSError:
                    time.sleep(0.1)
                finally:
                    conn.close()

        threads = [threading.Thread(target=chatter, args=(i,), daemon=True) for i in range(200)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while time.time() < deadline and streaming[0] < 200:
            time.sleep(0.05)
        runs = []
        for _ in range(args.runs):
            before = streaming[0]
            out = run_wrk(["-t1", "-c4", f"-d{args.duration}s", "--latency",
                           f"http://127.0.0.1:{jrvs.port}/health"])
            lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
            runs.append({"health_p50_ms": to_ms(lat["50"]), "health_p99_ms": to_ms(lat["99"]),
                         "health_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                         "streams_open": min(before, streaming[0])})
    finally:
        stop.set()
        if jrvs:
            jrvs.stop()
        fake.stop()
    return runs


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def median_of(runs):
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys
            if all(isinstance(r[k], (int, float)) for r in runs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jrvs", required=True)
    ap.add_argument("--fake-llm", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--overhead-users", type=int, default=10)
    ap.add_argument("--only", choices=["a", "b", "c"])
    ap.add_argument("--json")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk missing: run scripts/setup.sh")
    work = tempfile.mkdtemp(prefix="jrvs-chat-load.")
    result = {"runs": args.runs, "duration_s": args.duration}
    try:
        for name, fn in (("a", scenario_a), ("b", scenario_b), ("c", scenario_c)):
            if args.only and args.only != name:
                continue
            print(f"chat_load: scenario ({name})", file=sys.stderr)
            runs = fn(args, work)
            result[name] = {"runs": runs, "median": median_of(runs)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    if "a" in result:
        m = result["a"]["median"]
        print(f"(a) extractive chat, 50 connections: P50 {m['p50_ms']:.2f} ms, P95 "
              f"{m['p95_ms']:.2f} ms, P99 {m['p99_ms']:.2f} ms, {m['rps']:.0f} req/s",
              file=sys.stderr)
    if "b" in result:
        m = result["b"]["median"]
        print(f"(b) jrvs overhead per chat (fake LLM 50 ms TTFT, 20 ms/token): P50 "
              f"{m['overhead_p50_ms']:.2f} ms, P95 {m['overhead_p95_ms']:.2f} ms (history+prompt P50 "
              f"{m['service_p50_ms']:.2f} ms; store+HTTP+queue+client P50 "
              f"{m['transport_p50_ms']:.2f} ms)",
              file=sys.stderr)
    if "c" in result:
        m = result["c"]["median"]
        print(f"(c) /health while {m['streams_open']:.0f} chats stream: P50 "
              f"{m['health_p50_ms']:.2f} ms, P99 {m['health_p99_ms']:.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
