# Sourced by the live-loop load scripts. storefront_lua NAME EVENTS SIMILAR
# PER_REQUEST writes $WORK/NAME.lua, a wrk script of a storefront's requests
# on the products of $WORK/events.csv and customers c0..c$((CUSTOMERS-1)):
# a share EVENTS of POST /v1/events (one customer's views, carts and
# purchases: PER_REQUEST of them when EVENTS is 1, else 1 to PER_REQUEST),
# a share SIMILAR of similar products, the rest customer recommendations.
# Needs WORK and CUSTOMERS.
storefront_lua() {
  {
    echo 'math.randomseed(42)'
    echo 'local ids = {'
    tail -n +2 "$WORK/events.csv" | cut -d, -f2 | sort -u | sed 's/.*/"&",/'
    echo '}'
    cat <<LUA
local function product() return ids[math.random(1, #ids)] end
local function customer() return "c" .. math.random(0, $CUSTOMERS - 1) end
local json = {["Content-Type"] = "application/json"}
local kinds = {"view", "view", "view", "cart", "purchase"}
request = function()
  local x = math.random()
  if x < $2 then
    local c = customer()
    local e = {}
    local n = $4
    if $2 < 1 then n = math.random(1, $4) end
    for i = 1, n do
      e[i] = '{"customer_id":"' .. c .. '","product_id":"' .. product() .. '","event":"' .. kinds[math.random(1, #kinds)] .. '"}'
    end
    return wrk.format("POST", "/v1/events", json, "[" .. table.concat(e, ",") .. "]")
  elseif x < $2 + $3 then
    return wrk.format("GET", "/v1/products/" .. product() .. "/similar?count=10")
  end
  return wrk.format("GET", "/v1/customers/" .. customer() .. "/recommendations?count=10")
end
LUA
  } > "$WORK/$1.lua"
}
