-- wrk script: cycles through pre-signed Shopify orders/create requests.
--
--   wrk -s bench/shopify.lua URL -- <requests file> <id tag> <threads> [<stop after N answers>]
--
-- The file (bench/payloads.py writes it) holds "webhook-id TAB signature TAB body" lines.
-- Thread k of n sends lines k, k+n, k+2n, ...; every webhook id is prefixed with the run's
-- tag and, once a thread wraps around its lines, suffixed with the cycle number, so no id
-- repeats within a run (the signature covers the body only, so it stays valid).
-- done() prints one line "BENCH-JSON {...}" with the counts and latency percentiles.

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[3])
  tag = args[2]
  quota = tonumber(args[4] or "0")
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local id, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = { id, sig, body }
    end
    i = i + 1
  end
  pos, cycle, answered = 0, 0, 0
  statuses = {}
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = "orders/create",
    ["X-Shopify-Shop-Domain"] = "bench-shop.myshopify.com",
    ["X-Shopify-API-Version"] = "2025-10",
    ["X-Shopify-Triggered-At"] = "2025-11-28T10:00:00Z",
  }
end

function request()
  pos = pos + 1
  if pos > #reqs then
    pos, cycle = 1, cycle + 1
  end
  local r = reqs[pos]
  local id = tag .. r[1]
  if cycle > 0 then
    id = id .. "-" .. cycle
  end
  headers["X-Shopify-Webhook-Id"] = id
  headers["X-Shopify-Event-Id"] = id
  headers["X-Shopify-Hmac-Sha256"] = r[2]
  return wrk.format("POST", nil, headers, r[3])
end

function response(status, hdrs, body)
  local key = tostring(status)
  if status == 503 and (hdrs["Retry-After"] or hdrs["retry-after"]) then
    key = "503+retry-after"
  end
  statuses[key] = (statuses[key] or 0) + 1
  answered = answered + 1
  if quota > 0 and answered >= quota then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local parts = {}
  local merged, cycles = {}, 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses") or {}
    for k, v in pairs(s) do
      merged[k] = (merged[k] or 0) + v
    end
    cycles = math.max(cycles, thread:get("cycle") or 0)
  end
  for k, v in pairs(merged) do
    parts[#parts + 1] = string.format('"%s": %d', k, v)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "cycles": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, '
      .. '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, cycles,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, table.concat(parts, ", ")))
end
