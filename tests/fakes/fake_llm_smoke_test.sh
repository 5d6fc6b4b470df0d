#!/bin/sh
# Smoke test of the fake_llm binary: starts on port 0, prints "listening on PORT", answers Ollama
# and OpenAI routes, and exits 0 on SIGTERM. Usage: fake_llm_smoke_test.sh /path/to/fake_llm
set -eu
bin="$1"
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" --port 0 --reply "alpha beta" --models "m1,m2" --embed-dim 3 >"$dir/out" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$dir/out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "no 'listening on' line"; cat "$dir/out"; exit 1; }
base="http://127.0.0.1:$port"
curl -fsS "$base/api/tags" | grep -q '"name":"m2"' || { echo "bad /api/tags"; exit 1; }
curl -fsS "$base/v1/models" | grep -q '"id":"m1"' || { echo "bad /v1/models"; exit 1; }
lines=$(curl -fsS "$base/api/chat" -d '{"model":"m1","messages":[]}' | wc -l)
[ "$lines" -eq 3 ] || { echo "expected 3 NDJSON lines, got $lines"; exit 1; }
curl -fsS "$base/v1/chat/completions" -d '{"model":"m1","stream":true,"messages":[]}' |
  grep -q '^data: \[DONE\]' || { echo "no [DONE] in SSE stream"; exit 1; }
curl -fsS "$base/api/embed" -d '{"model":"m2","input":["x"]}' |
  grep -Eq '^\{"model":"m2","embeddings":\[\[[^],]+,[^],]+,[^],]+\]\]' || { echo "bad /api/embed"; exit 1; }
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { echo "exit status $status after SIGTERM"; exit 1; }
echo "fake_llm smoke test passed"
