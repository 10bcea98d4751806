-- wrk script: every request is a different pre-signed event, sent once (bench/load.py --ledger).
-- Thread i reads the requests of $BENCH_REQUESTS-i.req (written by bench/presign.py: `<length>\n`
-- then a complete HTTP/1.1 request, per record) and sends them in order, never one twice. A thread
-- that runs out sends GET /exhausted instead (hookshift answers 404, counted as non-2xx) and the
-- summary says so: the run is then void (generate more requests per thread).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local path = os.getenv("BENCH_REQUESTS") .. "-" .. id .. ".req"
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  pending = {}
  local pos = 1
  while pos <= #data do
    local newline = data:find("\n", pos, true)
    local length = tonumber(data:sub(pos, newline - 1))
    pending[#pending + 1] = data:sub(newline + 1, newline + length)
    pos = newline + 1 + length
  end
  data = nil
  collectgarbage()
  count = #pending
  sent = 0
  exhausted = 0
  past_end = wrk.format("GET", "/exhausted")
end

function request()
  if sent < count then
    sent = sent + 1
    return pending[sent]
  end
  exhausted = exhausted + 1
  return past_end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("unique thread %d: sent %d of %d, past the end %d\n",
      thread:get("id"), thread:get("sent"), thread:get("count"), thread:get("exhausted")))
  end
end
