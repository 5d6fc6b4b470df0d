#!/usr/bin/env bash
# Locust load scenarios of JRVS's performance guide against jrvs (tests/load/run_scenarios.py):
# JRVSUser x10 and x25, IntenseUser x50, RAGFocusedUser x20, each on a 100-document and a
# 10,000-document synthetic corpus (tests/load/corpus.py), extractive LLM (no model). Writes
# bench/results/<timestamp>.json and regenerates the Locust table of docs/PERFORMANCE.md
# (between <!-- locust-table:begin/end --> markers) via bench/perf_report.py.
#
#   scripts/load.sh [--quick] [--duration S] [--docs 100,10000] [--binary PATH]
#                   [--fake-llm] [--no-doc]
#
# --quick: 15 s per scenario instead of 60. --fake-llm: also run the scenarios with chat answered
# by tests/fakes' fake_llm (Ollama protocol, 20 ms to first token, 2 ms per token).
# Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/release/src/app/jrvs
FAKE_LLM="${FAKE_LLM:-build/release/tests/fakes/fake_llm}"  # env FAKE_LLM overrides
DURATION=60
DOCS=100,10000
FAKE=0
DOC=(--doc docs/PERFORMANCE.md)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DURATION=15 ;;
    --duration) DURATION="$2"; shift ;;
    --docs) DOCS="$2"; shift ;;
    --binary) BIN="$2"; shift ;;
    --fake-llm) FAKE=1 ;;
    --no-doc) DOC=() ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$BIN" ] || { echo "build first: make build (or --binary PATH)" >&2; exit 2; }
command -v locust >/dev/null || { echo "locust missing: run scripts/setup.sh" >&2; exit 2; }

RAW=$(mktemp -d /tmp/jrvs-load.XXXXXX)
trap 'rm -rf "$RAW"' EXIT
timeout 3600 python3 tests/load/run_scenarios.py --binary "$BIN" --docs "$DOCS" \
  --duration "$DURATION" --out "$RAW/locust.json"
if [ "$FAKE" = 1 ]; then
  [ -x "$FAKE_LLM" ] || { echo "fake_llm not built: $FAKE_LLM" >&2; exit 2; }
  timeout 3600 python3 tests/load/run_scenarios.py --binary "$BIN" --docs "${DOCS%%,*}" \
    --duration "$DURATION" --fake-llm "$FAKE_LLM" --out "$RAW/locust_fake_llm.json"
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="bench/results/$STAMP.json"
python3 bench/perf_report.py "$RAW" --out "$OUT" --duration "$DURATION" "${DOC[@]}"
echo "load: wrote $OUT" >&2
