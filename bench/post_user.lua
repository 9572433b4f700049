-- POST /api/users with a unique email per request: run prefix (argument), thread, counter.
local counter = 0
local threads = {}
local prefix = "run"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or prefix
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"Load %d %d","email":"load-%s-%d-%d@example.com","password":"load password"}',
    id, counter, prefix, id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
