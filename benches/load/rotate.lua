-- wrk script: each request carries the next token of TOKENS_FILE (one per line),
-- so every token in the file is used in turn. The requests are formatted once,
-- in init: formatting one per request in Lua cost wrk more than the servers
-- spent answering it, and the scenario measured wrk.
local requests = {}
local next_index = 0

function init(args)
  local path = os.getenv("TOKENS_FILE")
  for line in io.lines(path) do
    requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
