-- wrk script for bench/chat_load.py, scenario (a): POST /api/chat (non-streaming) with questions
-- about the benchmark corpus, answered by the extractive provider. done() prints the latency
-- percentiles wrk's --latency table lacks (P95) in microseconds, one "name value" per line.
local questions = {
  "How do bees communicate the direction of flowers?",
  "What does the angle of the waggle dance encode?",
  "How do octopuses change colour?",
  "Why do cats purr?",
  "How does a sourdough starter work?",
  "What limits the height of trees?",
  "How do migrating birds navigate?",
  "What makes the sky blue?",
}
local n = 0
function request()
  n = n + 1
  local q = questions[(n % #questions) + 1]
  return wrk.format("POST", "/api/chat", {["Content-Type"] = "application/json"},
                    '{"message":"' .. q .. '"}')
end
function done(summary, latency, requests)
  io.write(string.format("chat_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("chat_p95_us %d\n", latency:percentile(95)))
  io.write(string.format("chat_p99_us %d\n", latency:percentile(99)))
  io.write(string.format("chat_requests %d\n", summary.requests))
  io.write(string.format("chat_non2xx %d\n", summary.errors.status))
  io.write(string.format("chat_seconds %f\n", summary.duration / 1e6))
end
