-- wrk script of bench/peer.py: one request shape per scenario.
--   wrk ... -s peer.lua URL -- MODE AUTH BODY FILE CHECK THREADS
-- "-" stands for an empty argument.
--   MODE  get    GET, no body
--         post   POST the form BODY, the same each time
--         cycle  POST BODY with TOKEN replaced by the lines of FILE in turn
--         chain  POST BODY with TOKEN replaced by a refresh token: first the
--                lines of FILE (shared out among the THREADS threads: one
--                per connection, plus one for the request wrk makes before
--                the run to check the script), then the refresh_token of
--                each answer (no token is sent twice while answers carry one)
--   AUTH  the Authorization header
--   CHECK a Lua pattern every answer's body must match; answers that are
--         not 200 or do not match are counted and printed as "bench-bad: N"
-- Answers are read by Lua only in the modes chain and with CHECK (wrk skips
-- the body otherwise, which is cheaper).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

bad = 0
local body, check, requests, queue, last
local cursor = 0

local function arg(value)
  if value == "-" then return nil end
  return value
end

function init(args)
  local mode = args[1]
  wrk.headers["Authorization"] = arg(args[2])
  body, check = arg(args[3]), arg(args[5])
  if mode ~= "get" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  local lines = {}
  if arg(args[4]) then
    for line in io.lines(args[4]) do lines[#lines + 1] = line end
  end
  if mode == "cycle" then
    requests = {}
    for i, token in ipairs(lines) do
      requests[i] = wrk.format(nil, nil, nil, (body:gsub("TOKEN", token)))
    end
  elseif mode == "chain" then
    queue = {}
    for i = id + 1, #lines, tonumber(args[6]) do queue[#queue + 1] = lines[i] end
  else
    wrk.body = body
    request = nil -- a static request: wrk builds it once
  end
  if not queue and not check then response = nil end
end

function request()
  if requests then
    cursor = cursor % #requests + 1
    return requests[cursor]
  end
  -- A chain whose answer had no refresh token has ended: its connection
  -- sends the last token again, an error that is counted.
  last = table.remove(queue) or last
  return wrk.format(nil, nil, nil, (body:gsub("TOKEN", last)))
end

function response(status, headers, answer)
  local ok = status == 200
  if queue then
    local token = answer:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then queue[#queue + 1] = token else ok = false end
  end
  if check and not answer:find(check) then ok = false end
  if not ok then bad = bad + 1 end
end

function done(summary, latency, requests_)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("bench-bad: %d\n", total))
end
