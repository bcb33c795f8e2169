-- GET one user by id, ids spread uniformly over the seeded users.
--   direct:  GET /api/v1/accounts/{id}
--   gateway: GET /scim/v2/Users/{id}
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

local ids

function init(args)
   ids = bench.load_users()
   bench.seed_random()
end

function request()
   local id = ids[math.random(#ids)]
   return wrk.format("GET", bench.users_path .. "/" .. bench.urlencode(id))
end
