-- GET /get?k=<prefix><i> for i drawn uniformly from [0, N) by LuaJIT's PRNG; the same script
-- drives meshkv-node and nginx (which answers any path), so the client cost is identical.
-- Request strings are built once per thread in init(), so a request costs a table lookup;
-- above 200,000 keys (the 1M latency runs) they are built on first use and kept, so wrk
-- starts at once instead of spending seconds in init().
-- Usage: wrk ... -s bench/wrk/get.lua URL -- [N=100000] [PREFIX=key:]
local reqs, n, prefix = {}, 0, "key:"

function init(args)
  n = tonumber(args[1]) or 100000
  prefix = args[2] or prefix
  if n <= 200000 then
    for i = 0, n - 1 do
      reqs[i + 1] = wrk.format("GET", "/get?k=" .. prefix .. i)
    end
  end
  -- A distinct stream per thread (init runs once in each thread's own Lua state).
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  local i = math.random(n)
  local r = reqs[i]
  if r == nil then
    r = wrk.format("GET", "/get?k=" .. prefix .. (i - 1))
    reqs[i] = r
  end
  return r
end
