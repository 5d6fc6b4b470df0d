-- wrk script: POST /api/rag/retrieve with queries drawn from a fixed vocabulary.
local words = {"system","library","information","retrieval","index","query","document",
  "search","model","language","network","memory","storage","vector","analysis","science"}
function init(args) math.randomseed(43) end
function request()
  local q = words[math.random(#words)] .. " " .. words[math.random(#words)] .. " " ..
            words[math.random(#words)]
  return wrk.format("POST", "/api/rag/retrieve", {["Content-Type"] = "application/json"},
                    '{"query":"' .. q .. '","k":5}')
end
