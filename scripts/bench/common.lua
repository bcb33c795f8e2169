-- Shared by the wrk scripts of scripts/bench.sh (each loads it with dofile).
--
-- Environment, set by bench.sh:
--   BENCH_SIDE        "direct" (the legacy API) or "gateway" (SCIM through scim-gateway)
--   BENCH_API_KEY     X-Api-Key of the legacy API (direct side)
--   BENCH_TOKEN       bearer token of the gateway (gateway side)
--   BENCH_USERS_FILE  seeded users, one "<id> <email>" a line
--   BENCH_TAG         unique per wrk run, keeps created emails unique
--   BENCH_SCIM_BASE   SCIM base path of the gateway (default /scim/v2)

bench = {}

bench.side = os.getenv("BENCH_SIDE") or "direct"
assert(bench.side == "direct" or bench.side == "gateway",
       "BENCH_SIDE must be direct or gateway, not " .. bench.side)
bench.gateway = bench.side == "gateway"
bench.tag = os.getenv("BENCH_TAG") or tostring(os.time())

local scim_base = os.getenv("BENCH_SCIM_BASE") or "/scim/v2"
bench.users_path = bench.gateway and (scim_base .. "/Users") or "/api/v1/accounts"

if bench.gateway then
   local token = os.getenv("BENCH_TOKEN")
   assert(token and token ~= "", "BENCH_TOKEN is not set")
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Content-Type"] = "application/scim+json"
   wrk.headers["Accept"] = "application/scim+json"
else
   local key = os.getenv("BENCH_API_KEY")
   assert(key and key ~= "", "BENCH_API_KEY is not set")
   wrk.headers["X-Api-Key"] = key
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

-- Gives every thread a distinct `tid` (0, 1, ...) before its init() runs.
local next_tid = 0
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end

-- The seeded users as two arrays, ids and emails (same order).
function bench.load_users()
   local path = os.getenv("BENCH_USERS_FILE")
   assert(path and path ~= "", "BENCH_USERS_FILE is not set")
   local ids, emails = {}, {}
   for line in io.lines(path) do
      local id, email = line:match("^(%S+)%s+(%S+)%s*$")
      if id then
         ids[#ids + 1] = id
         emails[#emails + 1] = email
      end
   end
   assert(#ids > 0, "no users in " .. path)
   return ids, emails
end

-- Per-thread pseudo-random generator, reproducible for a given thread id.
function bench.seed_random()
   math.randomseed(7919 * ((tid or 0) + 1))
   for _ = 1, 10 do math.random() end
end

function bench.urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

-- JSON string literal (the values used here are plain ASCII; escape the two specials anyway).
function bench.json_string(s)
   return '"' .. s:gsub('[\\"]', '\\%0') .. '"'
end
