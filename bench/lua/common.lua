-- Shared by the wrk workloads of bench/run: SDK-like request headers, a count of every
-- answer that is not 2xx (so a run that measured errors is flagged, not reported), and
-- one machine-readable summary line with p50/p90/p99/p99.9 from wrk's own histogram.
--
-- wrk runs this file in one Lua state per thread plus one for setup()/done(); the
-- per-thread counters are globals read back with thread:get() in done().

local M = {}

-- What the Huawei Cloud Python SDK sends (values are realistic, the signature is not
-- checked: the benchmark upstream does not verify, and the proxy runs in passthrough).
M.headers = {
  ["Authorization"] = "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, "
    .. "SignedHeaders=content-type;host;user-agent;x-domain-id;x-sdk-date, "
    .. "Signature=3f1c8d0e6b5a4e2f9c7d1b0a8e6f4d2c3b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e",
  ["X-Sdk-Date"] = "20261203T163000Z",
  ["X-Domain-Id"] = "0123456789abcdef0123456789abcdef",
  ["Content-Type"] = "application/json",
  ["User-Agent"] = "huaweicloud-usdk-python/3.0",
}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  last_bad_status = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    last_bad_status = status
  end
end

function done(summary, latency, requests)
  local bad, last_bad = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local s = t:get("last_bad_status") or 0
    if s ~= 0 then last_bad = s end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,'
      .. '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"mean_us":%.1f,'
      .. '"non2xx":%d,"last_bad_status":%d,'
      .. '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    bad, last_bad, e.connect, e.read, e.write, e.timeout))
end

return M
