"""Shared pieces of the load drivers: a `jrvs serve` process, /proc sampling, one Locust run.

Everything listens on 127.0.0.1 only; every process started here is stopped by the caller's
`with` block or by its timeout, even when the driver fails. Standard library only; Locust is
run as the `locust` executable (Debian's python3-locust), so this runs under any python3.
"""
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCUSTFILE = os.path.join(HERE, "locustfile.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("load: " + msg, file=sys.stderr, flush=True)


# ---- /proc sampling -------------------------------------------------------------------------

def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    """User + system CPU time of pid (its threads included), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


class Sampler:
    """Samples RSS, open fds and CPU time of pids once per `interval` seconds on a thread."""

    def __init__(self, pids, interval=1.0, extra=None):
        self.pids = dict(pids)  # name -> pid
        self.interval = interval
        self.extra = extra  # optional callable -> dict merged into each sample
        self.samples = []  # [{"t": s, "<name>_rss": b, "<name>_fds": n, "<name>_cpu": s}]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _take(self):
        s = {"t": time.monotonic()}
        for name, pid in self.pids.items():
            try:
                s[name + "_rss"] = rss_bytes(pid)
                s[name + "_fds"] = open_fds(pid)
                s[name + "_cpu"] = cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass  # the process ended; the caller notices through its exit status
        if self.extra:
            try:
                s.update(self.extra())
            except OSError:
                pass  # e.g. the server is stopping; the sample keeps the /proc figures
        self.samples.append(s)

    def _run(self):
        while not self._stop.is_set():
            self._take()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._take()

    def series(self, key):
        return [s[key] for s in self.samples if key in s]

    def cpu_percent(self, name):
        """Mean CPU use of `name` over the sampled window, in % of one core."""
        pts = [(s["t"], s[name + "_cpu"]) for s in self.samples if name + "_cpu" in s]
        if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
            return 0.0
        return 100.0 * (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


def scrape_gauges(url, names, timeout=5):
    """Values of unlabelled series `names` in the server's /metrics (absent names left out)."""
    import urllib.request
    with urllib.request.urlopen(url + "/metrics", timeout=timeout) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] in names:
            out[parts[0]] = float(parts[1])
    return out


def scrape_request_histogram(url, timeout=5):
    """http_request_duration_seconds of /metrics summed over routes other than /metrics:
    ({upper bound s: cumulative count}, count, sum s)."""
    import urllib.request
    with urllib.request.urlopen(url + "/metrics", timeout=timeout) as r:
        text = r.read().decode()
    buckets, count, total = {}, 0.0, 0.0
    for line in text.splitlines():
        if not line.startswith("http_request_duration_seconds") or 'route="/metrics"' in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("http_request_duration_seconds_bucket"):
            le = re.search(r'le="([^"]+)"', name).group(1)
            le = float("inf") if le == "+Inf" else float(le)
            buckets[le] = buckets.get(le, 0.0) + float(value)
        elif name.startswith("http_request_duration_seconds_count"):
            count += float(value)
        elif name.startswith("http_request_duration_seconds_sum"):
            total += float(value)
    return buckets, count, total


def server_latency(before, after):
    """Server-side latency of the requests between two scrape_request_histogram() results:
    avg and P50/P95/P99 in ms, interpolated within buckets as Prometheus' histogram_quantile."""
    b0, c0, s0 = before
    b1, c1, s1 = after
    n = c1 - c0
    if n <= 0:
        return {}
    bounds = sorted(b1)
    cum = [b1[le] - b0.get(le, 0.0) for le in bounds]
    out = {"server_avg_ms": 1000.0 * (s1 - s0) / n}
    for q in (50, 95, 99):
        rank = n * q / 100.0
        prev_le, prev_c = 0.0, 0.0
        for le, c in zip(bounds, cum):
            if c >= rank:
                if le == float("inf"):
                    v = prev_le
                else:
                    v = prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c
                                                    else 1.0)
                out["server_p%d_ms" % q] = 1000.0 * v
                break
            prev_le, prev_c = le, c
    return out


# ---- the server -----------------------------------------------------------------------------

class JrvsServer:
    """`jrvs serve` on 127.0.0.1:<ephemeral> with a fresh data dir and the extractive LLM.

    Use as a context manager; stops the server with SIGTERM (SIGKILL after 10 s) on exit and
    removes the data dir unless keep_dir is set."""

    def __init__(self, binary, provider="extractive", extra_env=None, extra_args=()):
        self.binary = binary
        self.provider = provider
        self.extra_env = extra_env or {}
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.dir = None
        self.exit_status = None
        self.log_tail = ""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jrvs-load.")
        env = dict(os.environ)
        env.update({"JRVS_LLM_PROVIDER": self.provider,
                    # Never reach a real model server from a load test.
                    "JRVS_LLM_OLLAMA_URL": env.get("JRVS_LLM_OLLAMA_URL", "http://127.0.0.1:9")})
        env.update(self.extra_env)
        self.log_path = os.path.join(self.dir, "server.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", os.path.join(self.dir, "data"), "--port", "0",
             "--log-level", "warn"] + self.extra_args,
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = re.search(r"listening on (http://[0-9.:]+)", f.read())
            if m:
                self.url = m.group(1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if not self.url:
            self.__exit__(None, None, None)
            raise RuntimeError("jrvs did not start: " + open(self.log_path).read()[-2000:])
        self._wait_healthy()
        return self

    def _wait_healthy(self):
        import urllib.request
        import urllib.error
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("jrvs /health never answered 200")

    @property
    def pid(self):
        return self.proc.pid

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # A clean SIGTERM stop exits 0; anything else (a crash, LeakSanitizer's report in
        # sanitizer builds) is kept for the caller with the log's tail.
        self.exit_status = self.proc.returncode if self.proc else None
        if hasattr(self, "_log"):
            self._log.close()
            if self.exit_status:
                with open(self.log_path, errors="replace") as f:
                    self.log_tail = f.read()[-4000:]
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class FakeLlm:
    """tests/fakes' `fake_llm` (Ollama protocol) on 127.0.0.1:<ephemeral>, as a context manager.

    `env` gives the variables that point `jrvs serve` at it (provider ollama, model
    "load-model"). The reply streams word by word after ttft_ms, token_delay_ms apart."""

    def __init__(self, binary, ttft_ms=20, token_delay_ms=2):
        self.cmd = [binary, "--port", "0", "--models", "load-model", "--ttft-ms", str(ttft_ms),
                    "--token-delay-ms", str(token_delay_ms), "--reply",
                    "A fixed answer of a dozen words from the fake model for load tests [1]."]
        self.proc = None
        self.env = {}

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\d+)", line)
        if not m:
            self.__exit__(None, None, None)
            raise RuntimeError("fake_llm did not start: %r" % line)
        self.env = {"JRVS_LLM_PROVIDER": "ollama", "JRVS_LLM_MODEL": "load-model",
                    "JRVS_LLM_OLLAMA_URL": "http://127.0.0.1:%s" % m.group(1)}
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- one Locust run -------------------------------------------------------------------------

def locust_binary():
    exe = shutil.which("locust")
    if not exe:
        raise FileNotFoundError("locust not found: install python3-locust (scripts/setup.sh)")
    return exe


def run_locust(host, classes, users, seconds, server_pid, spawn_rate=None):
    """Runs Locust headless for `seconds` after ramp-up; returns a result dict.

    The statistics are reset when all users are running (--reset-stats), so ramp-up does not
    count. The result holds Locust's aggregated figures (ms), the per-route rows, the server's
    own view of the same window (server_avg/p50/p95/p99_ms from its /metrics histogram: time
    inside the server, so the gap to Locust's figures is client and scheduling time), and the
    server's and Locust's own RSS and CPU over the run (Locust runs in one process: near 100%
    CPU means Locust, not the server, limits the request rate)."""
    spawn_rate = spawn_rate or max(1, users)  # all users within ~1 s
    ramp = users / spawn_rate
    workdir = tempfile.mkdtemp(prefix="jrvs-locust.")
    try:
        return _run_locust_in(workdir, host, classes, users, seconds, server_pid, spawn_rate,
                              ramp)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_locust_in(workdir, host, classes, users, seconds, server_pid, spawn_rate, ramp):
    prefix = os.path.join(workdir, "locust")
    cmd = [locust_binary(), "-f", LOCUSTFILE, "--headless", "--host", host,
           "--users", str(users), "--spawn-rate", str(spawn_rate),
           "--run-time", "%ds" % int(seconds + ramp + 1), "--reset-stats", "--csv", prefix,
           "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"] + list(classes)
    log("locust %s users=%d for %ds" % ("+".join(classes), users, seconds))
    out_path = os.path.join(workdir, "locust.out")
    hist_before = None
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        time.sleep(ramp + 0.5)  # Locust resets its statistics when ramp-up ends
        hist_before = scrape_request_histogram(host)
        try:
            with Sampler({"server": server_pid, "locust": proc.pid}) as sampler:
                proc.wait(timeout=seconds + ramp + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("locust did not finish: " + open(out_path).read()[-3000:])
    result = parse_stats(prefix + "_stats.csv")
    result.update(server_latency(hist_before, scrape_request_histogram(host)))
    result.update({
        "classes": list(classes), "users": users, "spawn_rate": spawn_rate,
        "duration_s": seconds, "locust_exit_code": proc.returncode,
        "server_rss_mb_max": max(sampler.series("server_rss") or [0]) / 2**20,
        "server_rss_mb_end": (sampler.series("server_rss") or [0])[-1] / 2**20,
        "server_cpu_pct": sampler.cpu_percent("server"),
        "locust_cpu_pct": sampler.cpu_percent("locust"),
    })
    if result["requests"] == 0:
        result["locust_output"] = open(out_path).read()[-3000:]
    fail_path = prefix + "_failures.csv"
    if os.path.exists(fail_path):
        with open(fail_path) as f:
            result["failure_samples"] = list(csv.DictReader(f))[:20]
    return result


def _num(row, key):
    try:
        return float(row.get(key) or 0)
    except ValueError:
        return 0.0


def parse_stats(path):
    """Locust's _stats.csv -> {requests, failures, rps, avg_ms, p50_ms, p95_ms, p99_ms, ...}."""
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    out = {"requests": 0, "failures": 0, "routes": {}}

    def fields(row):
        n = int(_num(row, "Request Count"))
        f = int(_num(row, "Failure Count"))
        return {"requests": n, "failures": f, "rps": _num(row, "Requests/s"),
                "avg_ms": _num(row, "Average Response Time"), "p50_ms": _num(row, "50%"),
                "p95_ms": _num(row, "95%"), "p99_ms": _num(row, "99%"),
                "max_ms": _num(row, "Max Response Time"),
                "error_rate": (f / n) if n else 0.0}

    for row in rows:
        if row.get("Name") == "Aggregated":
            out.update(fields(row))
        else:
            out["routes"][row.get("Name", "?")] = fields(row)
    return out
