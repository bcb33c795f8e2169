-- Change the first name of a user, ids spread uniformly over the seeded users.
-- The value differs on every request: the gateway skips the downstream write when a
-- PATCH changes nothing, which would turn this into a read benchmark.
--   direct:  PATCH /api/v1/accounts/{id} {"account":{"first_name":..}}
--   gateway: PATCH /scim/v2/Users/{id}   PatchOp Replace name.givenName
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

local ids
local counter = 0

function init(args)
   ids = bench.load_users()
   bench.seed_random()
end

function request()
   counter = counter + 1
   local id = ids[math.random(#ids)]
   local name = bench.json_string(string.format("G%s-t%d-%d", bench.tag, tid or 0, counter))
   local body
   if bench.gateway then
      body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
         .. '"Operations":[{"op":"Replace","path":"name.givenName","value":' .. name .. '}]}'
   else
      body = '{"account":{"first_name":' .. name .. '}}'
   end
   return wrk.format("PATCH", bench.users_path .. "/" .. bench.urlencode(id), nil, body)
end
