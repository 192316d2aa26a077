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
   tokens = {}
   local nthreads = tonumber(args[3])
   local line_number = 0
   for line in io.lines(args[2]) do
      if line_number % nthreads == id then
         tokens[#tokens + 1] = line
      end
      line_number = line_number + 1
   end
   next_token = 1
end

if with_tokens then
   function request()
      if next_token > #tokens then
         next_token = 1
         exhausted = exhausted + 1
      end
      local token = tokens[next_token]
      next_token = next_token + 1
      return wrk.format("GET", nil, { Authorization = token })
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
