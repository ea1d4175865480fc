-- Pass-through workload: ListMFADevicesV5, GET /v5/mfa-devices (not audited).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

-- Formatted in init(): wrk fills in the Host header only when a thread starts.
local req
local common_init = init
function init(args)
  common_init(args)
  req = wrk.format("GET", "/v5/mfa-devices", common.headers)
end

function request()
  return req
end
