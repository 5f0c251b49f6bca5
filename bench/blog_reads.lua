-- wrk script for bench/blog.py: POST mark-read reports from distinct anonymous readers.
-- Each request carries a new client_id cookie (a UUID made of the thread number and a counter)
-- with the read ticket bench/blog.py made for it (a file of "client_id ticket" lines per
-- thread), and the CSRF cookie + X-CSRFToken header, exactly as the post page's script sends them.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  path = args[1]
  csrf_cookie = args[2]
  csrf_token = args[3]
  readers = {}
  for entry in io.lines(args[4] .. id .. ".txt") do
    local client, ticket = entry:match("^(%S+) (%S+)$")
    table.insert(readers, { client = client, ticket = ticket })
  end
  sent = 0
  created = 0
  duplicate = 0
  failed = 0
end

function request()
  sent = sent + 1
  local reader = readers[(sent - 1) % #readers + 1]
  return wrk.format("POST", path, {
    ["Cookie"] = "csrftoken=" .. csrf_cookie .. "; client_id=" .. reader.client,
    ["X-CSRFToken"] = csrf_token,
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "ticket=" .. reader.ticket)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    duplicate = duplicate + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local c, d, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    d = d + thread:get("duplicate")
    f = f + thread:get("failed")
  end
  io.write(string.format("REPORTS created=%d duplicate=%d failed=%d\n", c, d, f))
end
