-- Shared by every bench/wrk script: counts responses outside 2xx in each wrk thread
-- (wrk's own "Non-2xx or 3xx" line counts a 302 to /login as a success) and prints
-- one machine-readable line in done(), which bench/_server.py:run_wrk parses.
--
-- A script that needs its own setup() must call report_setup(thread) from it.

local threads = {}

function report_setup(thread)
   table.insert(threads, thread)
end

function setup(thread)
   report_setup(thread)
end

-- Per wrk thread (each thread runs its own Lua state).
non_2xx = 0
statuses = {}

function response(status, headers, body)
   if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local non = 0
   local by_status = {}
   for _, thread in ipairs(threads) do
      non = non + (thread:get("non_2xx") or 0)
      for code, count in pairs(thread:get("statuses") or {}) do
         by_status[code] = (by_status[code] or 0) + count
      end
   end
   local codes = {}
   for code, count in pairs(by_status) do
      codes[#codes + 1] = string.format('"%d":%d', code, count)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"non_2xx":%d,"non_2xx_statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, e.connect, e.read, e.write, e.status, e.timeout, non, table.concat(codes, ",")))
end
