-- wrk script: GET /api/search with queries drawn from a fixed vocabulary.
local words = {"system","library","information","retrieval","index","query","document",
  "search","model","language","network","memory","storage","vector","analysis","science"}
function init(args) math.randomseed(42) end
function request()
  local q = words[math.random(#words)] .. "%20" .. words[math.random(#words)] .. "%20" ..
            words[math.random(#words)]
  return wrk.format("GET", "/api/search?q=" .. q .. "&limit=5")
end
