-- wrk script for bench/fakeapp.sh: POST /products with a unique req_id per request.
-- Usage: wrk -s bench/fakeapp.lua URL -- PREFIX
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "bench"
  counter = 0
  not_created = 0
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"bench product","price":%d.5,"req_id":"%s-%d-%d"}',
    counter % 1000, prefix, tid, counter)
  return wrk.format("POST", "/products", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    not_created = not_created + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("not_created")
  end
  io.write(string.format("BENCH requests=%d non_201=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.0f\n",
    summary.requests, bad, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests / (summary.duration / 1e6)))
end
