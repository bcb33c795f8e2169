-- Find one user by email, emails spread uniformly over the seeded users.
--   direct:  GET /api/v1/accounts?email=<email>&page=1&per_page=100
--   gateway: GET /scim/v2/Users?filter=userName eq "<email>"
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

local paths = {}

function init(args)
   local _, emails = bench.load_users()
   bench.seed_random()
   -- Build every path once, so the Lua side costs the same for both targets.
   for i, email in ipairs(emails) do
      if bench.gateway then
         paths[i] = bench.users_path .. "?filter="
            .. bench.urlencode('userName eq "' .. email .. '"')
      else
         paths[i] = bench.users_path .. "?email=" .. bench.urlencode(email)
            .. "&page=1&per_page=100"
      end
   end
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end
