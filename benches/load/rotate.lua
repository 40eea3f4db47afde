-- wrk script: each request carries the next token of TOKENS_FILE (one per line),
-- so every token in the file is used in turn.
local tokens = {}
local next_index = 0

function init(args)
  local path = os.getenv("TOKENS_FILE")
  for line in io.lines(path) do
    tokens[#tokens + 1] = line
  end
end

function request()
  next_index = next_index % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[next_index] })
end
