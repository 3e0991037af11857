-- wrk script for scripts/perf.sh batch: `-- batch` posts one fixed /v1/checks
-- body of 1,000 distinct users; `-- single` posts /v1/check for the same
-- 1,000 users in turn, the requests built once at start so the Lua cost per
-- request stays small.
local users = 1000
local function item(i)
  return string.format('{"user":"user-%04d","route":"/api/orders","method":"POST","cost":1}', i)
end
local headers = { ["Content-Type"] = "application/json" }
local requests = {}
local n = 0

function init(args)
  if args[1] == "batch" then
    local items = {}
    for i = 1, users do items[i] = item(i) end
    requests[1] = wrk.format("POST", "/v1/checks", headers,
      '{"checks":[' .. table.concat(items, ",") .. ']}')
  else
    for i = 1, users do requests[i] = wrk.format("POST", "/v1/check", headers, item(i)) end
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end
