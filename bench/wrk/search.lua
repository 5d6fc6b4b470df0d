-- wrk script: GET /api/search with three-word queries drawn with Zipf's law
-- from the corpus vocabulary (bench/wrk/zipf.lua): mostly common words, the hard case for BM25.
package.path = "bench/wrk/?.lua;" .. package.path
local zipf = require("zipf")
function init(args) math.randomseed(42) end
function request()
  local q = zipf.word() .. "%20" .. zipf.word() .. "%20" .. zipf.word()
  return wrk.format("GET", "/api/search?q=" .. q .. "&limit=5")
end
