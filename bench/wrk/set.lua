-- GET /set?k=<prefix><i>&v=<100 bytes> for i drawn uniformly from [0, N) (the same key set as
-- get.lua). Every key's request is prebuilt in init(): the per-request cost is a table lookup,
-- the same for meshkv-node and for nginx (which answers any path with 200).
-- Usage: wrk ... -s bench/wrk/set.lua URL -- [N=100000] [PREFIX=key:] [VALUE_BYTES=100]
local reqs, n = {}, 0

function init(args)
  n = tonumber(args[1]) or 100000
  local prefix = args[2] or "key:"
  local size = tonumber(args[3]) or 100
  for i = 0, n - 1 do
    -- "w<i>-" then filler up to exactly `size` bytes: URL-safe, no encoding needed.
    local head = "w" .. i .. "-"
    local v = head .. string.rep("y", size - #head)
    reqs[i + 1] = wrk.format("GET", "/set?k=" .. prefix .. i .. "&v=" .. v)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return reqs[math.random(n)]
end
