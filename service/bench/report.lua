-- wrk script for service/bench/load.sh: optional If-None-Match header (WRK_IF_NONE_MATCH) and
-- one machine-readable result line at the end, so that the figures are not parsed from wrk's
-- rounded human output.
local etag = os.getenv("WRK_IF_NONE_MATCH")
if etag ~= nil and etag ~= "" then
  wrk.headers["If-None-Match"] = etag
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  -- requests/s, p50 and p99 in microseconds, requests, socket errors, HTTP status >= 400
  io.write(string.format("RESULT %.1f %d %d %d %d %d\n",
    summary.requests / seconds,
    latency:percentile(50), latency:percentile(99),
    summary.requests,
    e.connect + e.read + e.write + e.timeout,
    e.status))
end
