-- wrk script for the hit-counter benchmark.
--   BENCH_GET_SECONDS=<s> BENCH_NUMBERS_FILE=<path> wrk ... -s counter.lua <url>
-- Each thread sends GET / for BENCH_GET_SECONDS, then HEAD / (never counted) until wrk stops, so every
-- counted GET has been answered when wrk drops its in-flight requests at the end of -d. Every
-- answered number is kept; done() writes them, one per line, to BENCH_NUMBERS_FILE and prints one
-- line "BENCH_JSON {...}" with the counts and wrk's latency statistics (microseconds).
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local get_req, head_req, deadline
numbers = {}
gets_2xx = 0
heads_2xx = 0
statuses = {}

function init()
  local get_seconds = tonumber(os.getenv("BENCH_GET_SECONDS"))
  if not get_seconds then
    error("counter.lua: set BENCH_GET_SECONDS to the GET phase's length in seconds")
  end
  deadline = now() + get_seconds
  get_req = wrk.format("GET", "/", { Accept = "text/plain" })
  head_req = wrk.format("HEAD", "/")
end

function request()
  if now() < deadline then
    return get_req
  end
  return head_req
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    local n = body and string.match(body, "hit (%d+) times")
    if n then
      gets_2xx = gets_2xx + 1
      numbers[#numbers + 1] = n
    else
      heads_2xx = heads_2xx + 1
    end
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(assert(os.getenv("BENCH_NUMBERS_FILE"), "set BENCH_NUMBERS_FILE"), "w"))
  local gets, heads, by_status = 0, 0, {}
  for _, t in ipairs(threads) do
    gets = gets + t:get("gets_2xx")
    heads = heads + t:get("heads_2xx")
    for s, c in pairs(t:get("statuses")) do
      by_status[s] = (by_status[s] or 0) + c
    end
    local nums = t:get("numbers")
    if #nums > 0 then
      out:write(table.concat(nums, "\n"), "\n")
    end
  end
  out:close()
  local status_parts = {}
  for s, c in pairs(by_status) do
    status_parts[#status_parts + 1] = string.format('"%d":%d', s, c)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"durationUs":%d,"requests":%d,"bytes":%d,"gets2xx":%d,"heads2xx":%d,' ..
      '"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, summary.bytes, gets, heads, table.concat(status_parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
