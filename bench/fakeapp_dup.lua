-- wrk script for bench/fakeapp_dup.sh: POST /products repeating req_ids that already exist
-- (PREFIX-0 .. PREFIX-(N-1)), so every request takes fakeapp's duplicate path
-- (an upserting findAndModify that finds the stored product) and answers 200 with it.
-- Usage: wrk -s bench/fakeapp_dup.lua URL -- PREFIX N
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "dup"
  n = tonumber(args[2] or "100")
  counter = tid * 7919
  not_200 = 0
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"bench product","price":9.5,"req_id":"%s-%d"}',
    prefix, counter % n)
  return wrk.format("POST", "/products", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("not_200")
  end
  io.write(string.format("BENCH requests=%d non_200=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.0f\n",
    summary.requests, bad, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests / (summary.duration / 1e6)))
end
