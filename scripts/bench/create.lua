-- Create a user with an email unique to this run, thread and request.
--   direct:  POST /api/v1/accounts {"account":{"email":..,"first_name":..,"last_name":..}}
--   gateway: POST /scim/v2/Users   {"schemas":[core User],"userName":..,"name":{..},"active":true}
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

local counter = 0

function request()
   counter = counter + 1
   local email = string.format("bench-%s-t%d-%d@example.com", bench.tag, tid or 0, counter)
   local family = "N" .. counter
   local body
   if bench.gateway then
      body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":'
         .. bench.json_string(email)
         .. ',"name":{"givenName":"Bench","familyName":' .. bench.json_string(family)
         .. '},"active":true}'
   else
      body = '{"account":{"email":' .. bench.json_string(email)
         .. ',"first_name":"Bench","last_name":' .. bench.json_string(family) .. '}}'
   end
   return wrk.format("POST", bench.users_path, nil, body)
end
