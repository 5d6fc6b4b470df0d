#!/usr/bin/env bash
# CI load smoke (CTest `load_smoke`, label `load`): one 30 s Locust run of JRVS's three user
# classes together (JRVSUser, IntenseUser, RAGFocusedUser; 4 users each) against the real
# binary on 127.0.0.1 with 100 ingested documents and the extractive LLM. Fails on any failed
# request (non-2xx or malformed JSON), on a run without requests, or if the server does not
# exit 0 on SIGTERM. Asserts correctness under load, never speed.
#
#   scripts/load_smoke.sh JRVS_BINARY [SECONDS]
#
# Exit 77 (CTest: skipped) when Locust is not installed (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:?usage: load_smoke.sh JRVS_BINARY [SECONDS]}"
SECONDS_PER_RUN="${2:-30}"
if ! command -v locust >/dev/null; then
  echo "load_smoke: SKIPPED: locust not installed (apt-get install python3-locust)" >&2
  exit 77
fi
exec timeout $((SECONDS_PER_RUN + 150)) python3 tests/load/run_scenarios.py --binary "$BIN" \
  --docs 100 --duration "$SECONDS_PER_RUN" \
  --scenarios "JRVSUser+IntenseUser+RAGFocusedUser:12" --fail-on-errors
