-- Shared by the wrk scripts: the benchmark vocabulary (bench/wrk/vocab.txt, most frequent word
-- first, made by bench/make_vocab.py) and a sampler drawing the word of rank r with probability
-- proportional to 1/r (Zipf's law, s = 1), as in real text. Paths are relative to the repository
-- root, where scripts/perf.sh runs wrk.
local M = {}

local words = {}
for line in io.lines("bench/wrk/vocab.txt") do words[#words + 1] = line end
local cumulative = {}
local total = 0
for r = 1, #words do
  total = total + 1 / r
  cumulative[r] = total
end

-- A word drawn with Zipf's law (uses math.random: seed it first).
function M.word()
  local u = math.random() * total
  local lo, hi = 1, #words
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cumulative[mid] < u then lo = mid + 1 else hi = mid end
  end
  return words[lo]
end

M.size = #words
return M
