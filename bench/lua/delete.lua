-- Audited workload: DeleteVirtualMFADeviceV5 with a valid query (32-character user_id,
-- percent-encoded serial number) and Content-Length: 0, as the Python SDK sends it.
-- The benchmark upstream always answers 204, so every call is a successful deletion.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local headers = {}
for k, v in pairs(common.headers) do headers[k] = v end

local path = "/v5/virtual-mfa-devices"
  .. "?user_id=a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
  .. "&serial_number=iam%3A%3A0123456789abcdef0123456789abcdef%3Amfa%3Aphone-1"
-- Formatted in init(): wrk fills in the Host header only when a thread starts. The empty
-- body makes wrk.format send "Content-Length: 0" (it drops the header for no body).
local req
local common_init = init
function init(args)
  common_init(args)
  req = wrk.format("DELETE", path, headers, "")
end

function request()
  return req
end
