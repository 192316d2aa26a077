-- wrk script for the HTTP benchmark; prints one machine-readable line at
-- the end.
--
--   BENCH_TOKENS=1 wrk -t N ... -s requests.lua URL -- PATH TOKENFILE N
--   wrk -t N ... -H 'Cookie: ...' -s requests.lua URL -- PATH
-- With a token file, each request carries the next unused line of it as its
-- Authorization header (a fresh Kerberos token per request, made by
-- tokens.c); thread k of N uses lines k, k+N, k+2N, ... A thread that runs
-- out starts over (those requests are replays, refused with 401) and counts
-- it, so the driver can retry with more tokens. Without one, every request
-- is the same (wrk builds it once: add the session cookie with -H).

local threads = {}
local with_tokens = os.getenv("BENCH_TOKENS") == "1"

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   wrk.path = args[1]
   exhausted = 0
   if not with_tokens then
      return
   end
   -- Streamed, not loaded: a table of a million tokens would make the
   -- garbage collector pause wrk and inflate the latencies it measures.
   token_file = args[2]
   nthreads = tonumber(args[3])
   lines = io.lines(token_file)
   for _ = 1, id do
      lines()
   end
end

-- The next token for this thread (every nthreads-th line), starting over
-- when the file runs out.
local function next_token()
   local token = lines()
   if token == nil then
      exhausted = exhausted + 1
      lines = io.lines(token_file)
      for _ = 1, id do
         lines()
      end
      token = lines()
   end
   for _ = 2, nthreads do
      lines()
   end
   return token
end

if with_tokens then
   function request()
      return wrk.format("GET", nil, { Authorization = next_token() })
   end
end

function done(summary, latency, requests)
   local exhausted = 0
   for _, thread in ipairs(threads) do
      exhausted = exhausted + (thread:get("exhausted") or 0)
   end
   io.write(string.format(
      "wrk-result requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d exhausted=%d\n",
      summary.requests, summary.duration, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), exhausted))
end
