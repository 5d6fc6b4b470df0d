-- wrk script: POST /api/rag/retrieve with three-word queries drawn with Zipf's law
-- from the corpus vocabulary (bench/wrk/zipf.lua): mostly common words, the hard case for BM25.
package.path = "bench/wrk/?.lua;" .. package.path
local zipf = require("zipf")
function init(args) math.randomseed(43) end
function request()
  local q = zipf.word() .. " " .. zipf.word() .. " " .. zipf.word()
  return wrk.format("POST", "/api/rag/retrieve", {["Content-Type"] = "application/json"},
                    '{"query":"' .. q .. '","k":5}')
end
-- wrk's --latency table stops at 50/75/90/99: print the 95th percentile too (perf_report.py).
function done(summary, latency, requests)
  io.write(string.format("Latency P95: %.3fms\n", latency:percentile(95) / 1000))
end
