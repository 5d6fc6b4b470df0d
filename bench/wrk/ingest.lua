-- wrk script: POST /api/rag/document with a unique ~1 KB English-like document per request:
-- words drawn with Zipf's law from a 5,000-word vocabulary (bench/wrk/zipf.lua), so document
-- frequencies look like real text's. Documents never repeat, not even across wrk runs: each
-- thread draws a random run prefix (seeded from /dev/urandom and its id) and numbers its
-- documents; the words themselves are random, so no two runs ingest the same text.
package.path = "bench/wrk/?.lua;" .. package.path
local zipf = require("zipf")
local counter = 0
local tid = 0
local prefix = 0
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
function init(args)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f:read(4); f:close()
  local seed = tid
  for i = 1, 4 do seed = seed * 256 + bytes:byte(i) end
  math.randomseed(seed)
  prefix = math.random(1, 2000000000)
end
function request()
  counter = counter + 1
  local parts = {}
  local n = 0
  while n < 1000 do
    local w = zipf.word()
    parts[#parts + 1] = w
    n = n + #w + 1
    if math.random(12) == 1 then parts[#parts] = w .. "." end
  end
  local body = string.format('{"title":"doc %d-%d","content":"R%dT%dD%d %s"}', prefix, counter,
                             prefix, tid, counter, table.concat(parts, " "))
  return wrk.format("POST", "/api/rag/document", {["Content-Type"] = "application/json"}, body)
end
