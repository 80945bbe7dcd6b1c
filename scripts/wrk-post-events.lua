-- Load a running `brokerguard serve` with Debian's wrk: each request POSTs one line of an event log to
-- /v1/events, in the log's order, and each connection waits PACE_MS milliseconds between requests, so
-- that the rate is about connections × 1000 / (PACE_MS + latency).
--
--   brokerguard simulate --scenario demo --out events.jsonl --truth truth.json
--   BK=<an ingest key> EVENTS=events.jsonl PACE_MS=10 \
--     wrk -t1 -c56 -d10s --latency -s scripts/wrk-post-events.lua http://127.0.0.1:8080
--
-- Use one thread (-t1): each wrk thread reads the log from its start, and a second thread would send
-- the same ids again (answered as duplicates). Start the server on an empty data directory, with a
-- lateness long enough for the reordering that concurrent connections cause in a sparse log.
local lines = {}
for l in io.lines(os.getenv("EVENTS") or "events.jsonl") do
  lines[#lines + 1] = l
end
local i = 0
local pace = tonumber(os.getenv("PACE_MS") or "10")

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BK") or "")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  i = i + 1
  if i > #lines then
    i = 1
  end
  return wrk.format(nil, "/v1/events", nil, lines[i])
end

function delay()
  return pace
end
