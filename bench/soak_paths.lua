-- wrk script for bench/soak.py: GETs spread over the site's pages, read from a file of paths
-- (one a line), each thread starting at its own offset.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    table.insert(paths, line)
  end
  n = id * 7919
end

function request()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end
