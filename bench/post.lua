-- wrk script: POST the file $BENCH_BODY with a JSON content type and, when set, the Extend signature
-- headers $BENCH_TS (x-extend-request-timestamp) and $BENCH_SIG (x-extend-request-signature).
-- Used by bench/load.py; the same bytes and headers go to every target.
wrk.method = "POST"
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local ts, sig = os.getenv("BENCH_TS"), os.getenv("BENCH_SIG")
if ts and sig then
  wrk.headers["x-extend-request-timestamp"] = ts
  wrk.headers["x-extend-request-signature"] = sig
end
