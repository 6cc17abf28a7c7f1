-- Timer start/stop through the API, alternating, one user per wrk thread.
--
-- Run with as many threads as connections (-tN -cN): each thread then has one
-- connection, so its requests are strictly sequential and its user's timer is
-- started, stopped, started... WRK_TOKENS holds one API token per thread
-- (comma-separated), WRK_PROJECT_ID the project the timers run on.
-- The next request follows the last answer: after a refused start (a timer was
-- already running) comes a stop, so one stray timer costs one counted non-2xx.

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")

local tokens = {}
for token in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do
   tokens[#tokens + 1] = token
end
local next_token = 1

function setup(thread)
   report_setup(thread)
   if #tokens == 0 then
      error("WRK_TOKENS is empty")
   end
   thread:set("token", tokens[(next_token - 1) % #tokens + 1])
   next_token = next_token + 1
end

local start_request, stop_request
local running = false  -- what the last answer says about this thread's timer

function init(args)
   local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }
   local body = string.format('{"project_id": %d}', tonumber(os.getenv("WRK_PROJECT_ID") or "1"))
   start_request = wrk.format("POST", "/api/v1/timer/start", headers, body)
   stop_request = wrk.format("POST", "/api/v1/timer/stop", headers, "")
end

function request()
   if running then
      return stop_request
   end
   return start_request
end

local count_response = response
function response(status, headers, body)
   count_response(status, headers, body)
   if status == 201 then
      running = true           -- started
   elseif status == 200 then
      running = false          -- stopped
   elseif status == 409 then
      running = true           -- start refused: a timer is already running
   elseif status == 404 then
      running = false          -- stop refused: no timer is running
   end
end
