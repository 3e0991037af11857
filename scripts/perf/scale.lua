-- wrk script for scripts/perf.sh scale: POST /protected with X-User-ID drawn
-- at random, `-- uniform` among 1,000,000 users (each far below their limit)
-- or `-- hot` among 100 users (each asked for far above it).
local users = 1000000
local prefix = "u"

function init(args)
  if args[1] == "hot" then
    users = 100
    prefix = "hot"
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local headers = { ["X-User-ID"] = prefix .. math.random(1, users) }
  return wrk.format("POST", "/protected", headers)
end
