#!/usr/bin/env bash
# `make bench`: measures jrvs on this machine and writes bench/results/<timestamp>.json plus a
# Markdown summary on stdout. Every figure is a median over several runs and, where a ceiling
# exists, a ratio against it measured in the same run (nginx's static 200 for /health).
#
#   scripts/perf.sh [--quick] [--only health|ingest|search|micro|ir|locust|chat|scale] [--runs N]
#                   [--duration S]
#
# Everything listens on 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# JRVS_BIN / JRVS_BENCH_DIR: measure another build (e.g. a before/after pair).
BIN=${JRVS_BIN:-build/release/src/app/jrvs}
BENCH_DIR=${JRVS_BENCH_DIR:-build/release/bench}
RUNS=3
DURATION=10
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) RUNS=1; DURATION=3 ;;
    --only) ONLY="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: run scripts/setup.sh" >&2; exit 2; }

WORK=$(mktemp -d /tmp/jrvs-perf.XXXXXX)
RAW="$WORK/raw"
mkdir -p "$RAW"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_jrvs DATA_DIR -> sets JRVS_PID and JRVS_URL
start_jrvs() {
  local data="$1"; shift
  local log="$WORK/jrvs.$RANDOM.log"
  JRVS_LLM_OLLAMA_URL=http://127.0.0.1:9 "$BIN" serve --data-dir "$data" --port 0 \
    --log-level warn "$@" > "$log" 2>&1 &
  JRVS_PID=$!
  PIDS+=("$JRVS_PID")
  # Up to 10 minutes: a data dir of ~1M documents takes more than 30 s to load (the index and the
  # in-memory BM25 copies are built before the server listens).
  for _ in $(seq 1 6000); do
    if grep -q "listening on" "$log" || ! kill -0 "$JRVS_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  JRVS_URL=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$JRVS_URL" ] || { echo "jrvs did not start:" >&2; cat "$log" >&2; exit 1; }
}
stop_jrvs() { kill -TERM "$JRVS_PID" 2>/dev/null || true; wait "$JRVS_PID" 2>/dev/null || true; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# run_wrk NAME URL [wrk args...]: one wrk run saved as $RAW/NAME.N.txt
run_wrk() {
  local name="$1" url="$2"; shift 2
  local n=0
  while [ -e "$RAW/$name.$n.txt" ]; do n=$((n + 1)); done
  wrk --latency "$@" "$url" > "$RAW/$name.$n.txt" 2>&1
}

echo "perf: runs=$RUNS duration=${DURATION}s work=$WORK" >&2

if want health; then
  echo "perf: /health vs nginx static 200 (wrk -t2 -c64)" >&2
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx;
  scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"status":"healthy"}'; }
  }
}
NGINX
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  start_jrvs "$WORK/health-data"
  sleep 0.5
  echo "{\"idle_rss_kb\": $(rss_kb "$JRVS_PID")}" > "$RAW/idle_rss.json"
  for i in $(seq 1 "$RUNS"); do
    run_wrk nginx "http://127.0.0.1:$NGINX_PORT/health" -t2 -c64 -d"${DURATION}s"
    run_wrk health "$JRVS_URL/health" -t2 -c64 -d"${DURATION}s"
  done
  stop_jrvs
  kill "$NGINX_PID" 2>/dev/null || true
fi

if want ingest || want search; then
  echo "perf: ingestion of ~1 KB documents through POST /api/rag/document (wrk -t2 -c16)" >&2
  start_jrvs "$WORK/kb-data"
  for i in $(seq 1 "$RUNS"); do
    run_wrk ingest "$JRVS_URL" -t2 -c16 -d"${DURATION}s" -s bench/wrk/ingest.lua
  done
  stop_jrvs
  # The search figures at exactly 10,000 documents (the ingest runs above leave a count that
  # depends on their speed): a generated Zipf corpus through `jrvs ingest`, then `serve` once
  # its background index work is over (CPU time stops growing).
  docs=10000
  python3 bench/make_zipf_docs.py --out "$WORK/zipf-search" --count "$docs"
  "$BIN" ingest -r --data-dir "$WORK/search-data" --log-level warn "$WORK/zipf-search" > /dev/null
  rm -rf "$WORK/zipf-search"
  start_jrvs "$WORK/search-data"
  prev=-1
  for _ in $(seq 1 600); do
    cpu=$(awk '{print $14 + $15}' "/proc/$JRVS_PID/stat")
    [ "$cpu" -le $((prev + 5)) ] && break
    prev=$cpu
    sleep 1
  done
  curl -s "$JRVS_URL/api/stats" > "$RAW/kb_stats.json"
  echo "{\"rss_kb\": $(rss_kb "$JRVS_PID")}" > "$RAW/kb_rss.json"
  if want search || [ -z "$ONLY" ]; then
    echo "perf: /api/search and /api/rag/retrieve at $docs documents (wrk -t2 -c32)" >&2
    for i in $(seq 1 "$RUNS"); do
      run_wrk search "$JRVS_URL" -t2 -c32 -d"${DURATION}s" -s bench/wrk/search.lua
      run_wrk retrieve "$JRVS_URL" -t2 -c32 -d"${DURATION}s" -s bench/wrk/retrieve.lua
      # The same server's /health right after, as the reference for this machine's noise: the
      # report gives search / health per run (the host's other tenants move both).
      run_wrk search_ref "$JRVS_URL/health" -t2 -c32 -d"${DURATION}s"
    done
  fi
  stop_jrvs
fi

# Retrieval at scale (docs/PERFORMANCE.md, "Retrieval at scale"): for each size in SCALE_DOCS
# (default 3300 and 33000 generated ~1 KB documents, ~10k and ~100k chunks), `jrvs ingest` of
# the files (docs/s), then `jrvs serve` on the result: resident memory after loading, minus an
# idle server's; /api/rag/retrieve latency on one connection (P50/P95/P99 from wrk) and /api/search
# throughput; then the in-process ceiling (bench/retrieval_scale_bench.cc) on the same data.
# SCALE_CORPUS=text uses real text instead (bench/make_text_chunks.py --docs: one document per
# 512-character window of /usr/share/doc, ~314k available on this machine; SCALE_TEXT_ROOTS="/usr/share/doc
# /usr/share/man /usr/lib/python3 /usr/lib/python3.11 /usr/include" gives 990,797).
# Not part of a plain `make bench` (it takes minutes): run with --only scale. SCALE_KEEP=DIR keeps
# each data dir as DIR/scale-<docs> instead of deleting it. SCALE_DATA=DIR measures an existing
# data dir (e.g. one kept before) instead: no corpus is made or ingested, DIR is left in place, and
# the ingest fields of the result are null (set SCALE_CORPUS to label it).
if [ "$ONLY" = "scale" ]; then
  start_jrvs "$WORK/idle-data"
  sleep 0.5
  IDLE_KB=$(rss_kb "$JRVS_PID")
  stop_jrvs
  if [ -n "${SCALE_DATA:-}" ]; then
    [ -f "$SCALE_DATA/jrvs.db" ] || { echo "perf: SCALE_DATA: no jrvs.db in $SCALE_DATA" >&2; exit 2; }
    SCALE_DOCS=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect("file:%s/jrvs.db?mode=ro" % sys.argv[1], uri=True)
      .execute("SELECT count(*) FROM documents").fetchone()[0])' "$SCALE_DATA")
  fi
  for docs in ${SCALE_DOCS:-3300 33000}; do
    echo "perf: scale: $docs documents" >&2
    data="$WORK/scale-$docs"
    t0=""
    t1=""
    if [ -n "${SCALE_DATA:-}" ]; then
      data="$SCALE_DATA"
    elif [ "${SCALE_CORPUS:-zipf}" = text ]; then
      roots=()
      for r in ${SCALE_TEXT_ROOTS:-/usr/share/doc}; do roots+=(--root "$r"); done
      python3 bench/make_text_chunks.py "${roots[@]}" --out "$WORK/chunks-$docs.txt" \
        --count "$docs" --docs "$WORK/zipf-$docs"
      rm -f "$WORK/chunks-$docs.txt"
    else
      python3 bench/make_zipf_docs.py --out "$WORK/zipf-$docs" --count "$docs"
    fi
    if [ -z "${SCALE_DATA:-}" ]; then
      t0=$(date +%s.%N)
      "$BIN" ingest -r --data-dir "$data" --log-level warn "$WORK/zipf-$docs" > /dev/null
      t1=$(date +%s.%N)
      rm -rf "$WORK/zipf-$docs"
    fi
    start_jrvs "$data"
    # A saved index may hold an unmerged delta (see rag/faiss_index.h): measure once the
    # background merge is over, i.e. once the server's CPU time stops growing.
    prev=-1
    for _ in $(seq 1 600); do
      cpu=$(awk '{print $14 + $15}' "/proc/$JRVS_PID/stat")
      [ "$cpu" -le $((prev + 5)) ] && break
      prev=$cpu
      sleep 1
    done
    LOADED_KB=$(rss_kb "$JRVS_PID")
    for i in $(seq 1 "$RUNS"); do
      run_wrk "scale_retrieve_$docs" "$JRVS_URL" -t1 -c1 -d"${DURATION}s" -s bench/wrk/retrieve.lua
      run_wrk "scale_search_$docs" "$JRVS_URL" -t2 -c32 -d"${DURATION}s" -s bench/wrk/search.lua
    done
    curl -s "$JRVS_URL/api/stats" > "$RAW/scale_stats_$docs.json"
    SERVED_KB=$(rss_kb "$JRVS_PID")
    stop_jrvs
    if [ -x "$BENCH_DIR/retrieval_scale_bench" ]; then
      JRVS_SCALE_DATA="$data" "$BENCH_DIR/retrieval_scale_bench" \
        --benchmark_out="$RAW/scale_bench_$docs.json" --benchmark_out_format=json > /dev/null
    fi
    python3 - "$RAW" "$docs" "$t0" "$t1" "$IDLE_KB" "$LOADED_KB" "$SERVED_KB" "$(uptime)" \
      "${SCALE_CORPUS:-zipf}" <<'PY'
import json, sys
raw, docs, t0, t1, idle, loaded, served, load, corpus = sys.argv[1:]
seconds = float(t1) - float(t0) if t0 else None  # None: an existing data dir (SCALE_DATA)
json.dump({"documents": int(docs), "corpus": corpus, "ingest_seconds": seconds,
           "ingest_docs_per_s": int(docs) / seconds if seconds else None, "idle_rss_kb": int(idle),
           "loaded_rss_kb": int(loaded), "served_rss_kb": int(served), "uptime": load.strip()},
          open("%s/scale_%s.json" % (raw, docs), "w"))
PY
    if [ -n "${SCALE_DATA:-}" ]; then
      :  # not ours: left in place
    elif [ -n "${SCALE_KEEP:-}" ]; then
      # Keep the data dir for a closer look (profiling, A/B runs): moved out of the work dir.
      mkdir -p "$SCALE_KEEP"
      rm -rf "$SCALE_KEEP/scale-$docs"
      mv "$WORK/scale-$docs" "$SCALE_KEEP/scale-$docs"
      echo "perf: kept $SCALE_KEEP/scale-$docs" >&2
    else
      rm -rf "$WORK/scale-$docs"
    fi
  done
fi

if want micro; then
  echo "perf: Google Benchmark micro-benchmarks" >&2
  # vector_index_bench runs for minutes (100k-vector HNSW builds): run it on its own (docs/PERFORMANCE.md).
  for b in store_bench text_bench extract_bench; do
    if [ -x "$BENCH_DIR/$b" ]; then
      "$BENCH_DIR/$b" --benchmark_repetitions="$RUNS" --benchmark_report_aggregates_only=true \
        --benchmark_out="$RAW/micro_$b.json" --benchmark_out_format=json > /dev/null
    fi
  done
fi

if want ir; then
  echo "perf: retrieval quality on CISI" >&2
  python3 bench/ir_eval.py --jrvs "$BIN" --sweep --json "$RAW/ir.json" >&2
fi

if want chat; then
  # Chat (docs/PERFORMANCE.md "Chat"): extractive chat at 50 connections, jrvs's own overhead per
  # chat against the fake LLM, and /health while 200 chats stream. Needs the fake_llm binary.
  echo "perf: chat (bench/chat_load.py)" >&2
  FAKE_LLM=${JRVS_FAKE_LLM:-build/release/tests/fakes/fake_llm}
  [ -x "$FAKE_LLM" ] || { echo "build the fake_llm target first" >&2; exit 2; }
  python3 bench/chat_load.py --jrvs "$BIN" --fake-llm "$FAKE_LLM" --runs "$RUNS" \
    --duration "$DURATION" --json "$RAW/chat.json" > /dev/null  # summary on stderr
fi

REPORT_ARGS=()
if want locust; then
  # JRVS's four Locust scenarios (scripts/load.sh runs the same on its own): 60 s each, 15 s
  # with --quick, on 100 and 10,000 synthetic documents; updates docs/PERFORMANCE.md's table.
  echo "perf: Locust scenarios (tests/load/run_scenarios.py)" >&2
  LOCUST_SECONDS=60
  [ "$RUNS" = 1 ] && [ "$DURATION" = 3 ] && LOCUST_SECONDS=15
  timeout 3600 python3 tests/load/run_scenarios.py --binary "$BIN" --docs 100,10000 \
    --duration "$LOCUST_SECONDS" --out "$RAW/locust.json"
  REPORT_ARGS=(--doc docs/PERFORMANCE.md)
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="bench/results/$STAMP.json"
python3 bench/perf_report.py "$RAW" --out "$OUT" --runs "$RUNS" --duration "$DURATION" \
  "${REPORT_ARGS[@]}"
echo "perf: wrote $OUT" >&2
