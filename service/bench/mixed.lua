-- wrk script for service/bench/mixed.sh: each connection cycles through the read paths given in
-- WRK_PATHS (separated by `|`), and one machine-readable result line is printed at the end.
local paths = {}
for path in string.gmatch(os.getenv("WRK_PATHS") or "/healthz", "[^|]+") do
  table.insert(paths, path)
end
local next_path = 0

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  -- requests/s, p50, p99 and max in microseconds, requests, socket errors (connect, read, write,
  -- timeout), HTTP status >= 400
  io.write(string.format("RESULT %.1f %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency.max,
    summary.requests,
    e.connect, e.read, e.write, e.timeout,
    e.status, summary.bytes))
end
