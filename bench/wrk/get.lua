-- GET /get?k=<prefix><i> for i drawn uniformly from [0, N) by LuaJIT's PRNG; the same script
-- drives meshkv-node and nginx (which answers any path), so the client cost is identical.
-- Request strings are built once per thread in init(), so a request costs a table lookup.
-- Usage: wrk ... -s bench/wrk/get.lua URL -- [N=100000] [PREFIX=key:]
local reqs, n = {}, 0

function init(args)
  n = tonumber(args[1]) or 100000
  local prefix = args[2] or "key:"
  for i = 0, n - 1 do
    reqs[i + 1] = wrk.format("GET", "/get?k=" .. prefix .. i)
  end
  -- A distinct stream per thread (init runs once in each thread's own Lua state).
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return reqs[math.random(n)]
end
