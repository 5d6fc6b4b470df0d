#!/usr/bin/env bash
# Soak / leak check (tests/load/soak.py): the mixed Locust scenario for a bounded time while the
# server's RSS and open fds are sampled every second; exit 1 on memory growth after warm-up,
# fd growth, or any failed request. CTest `load_soak` runs it for 60 s; run it longer by hand:
#
#   scripts/soak.sh [--binary PATH] [--seconds 60] [--users 12] [--docs 100] [--json FILE]
#                   [--no-rss-check]     (other options: tests/load/soak.py --help)
#
# Exit 77 (CTest: skipped) when Locust is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=("$@")
HAS_BINARY=0
SECS=60
for ((i = 0; i < ${#ARGS[@]}; i++)); do
  [ "${ARGS[$i]}" = "--binary" ] && HAS_BINARY=1
  [ "${ARGS[$i]}" = "--seconds" ] && SECS="${ARGS[$((i + 1))]}"
done
[ "$HAS_BINARY" = 1 ] || ARGS+=(--binary build/release/src/app/jrvs)
if ! command -v locust >/dev/null; then
  echo "soak: SKIPPED: locust not installed (apt-get install python3-locust)" >&2
  exit 77
fi
exec timeout $((SECS + 180)) python3 tests/load/soak.py "${ARGS[@]}"
