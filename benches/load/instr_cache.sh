#!/usr/bin/env bash
# User-space instructions per request, counted by callgrind: what
# tokenguard adds to the bare server, exactly and repeatably, where the
# load benchmark's req/s move by several percent between runs on a shared VM.
#
# The bare server and the axum example (the same ones as run.sh) each run
# under `valgrind --tool=callgrind` with counting off, get every request of
# the scenario once (caches filled), then REQUESTS counted requests over
# CONNECTIONS keep-alive connections at once, like wrk (benches/load/client.py):
#   (a) one valid JWT repeated, (b) 10,000 distinct valid JWTs rotated,
#   (c) one API key.
# With requests waiting, a server parks (waits in epoll) about as seldom as
# under load (once per ~20 requests measured with wrk), so what each park
# costs — tokio's timer wheel, ~1,100 instructions with one connection — is
# not counted once per request. Kernel work (sockets, wakeups) is not
# counted, nor memory latency: (b) runs slower than (a) in the load
# benchmark for that, not for instructions. Measured totals repeat within
# ~50 instructions for (a), ~110 for (b) and ~250 for (c) (the order in
# which connections are served varies).
# TOP=N also lists tokenguard's N costliest functions in the example,
# callees included (so nested ones overlap).
#
#   bash benches/load/instructions.sh      # REQUESTS=5000 CONNECTIONS=32 TOP=0, about 30 seconds
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=${REQUESTS:-5000}
CONNECTIONS=${CONNECTIONS:-32}
TOP=${TOP:-0}
SCENARIOS=${SCENARIOS:-jwt_one jwt_10k api_key}
BARE_BIN=${BARE_BIN:-target/release/examples/bare_api}
GUARDED_BIN=${GUARDED_BIN:-target/release/examples/axum_api}

command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install -y valgrind" >&2; exit 1; }
source benches/load/common.sh

count() { # scenario side binary client-args...: counts one server's instructions for REQUESTS requests
  local scenario=$1 side=$2 binary=$3; shift 3
  local url pid
  url=$(start_server "$scenario.$side" valgrind --tool=callgrind --instr-atstart=no --cache-sim=yes \
    --callgrind-out-file="$work/$scenario.$side.cg" "$binary")
  pid=$(cat "$work/$scenario.$side.pid")
  # Warm up: 10,000 requests, every credential of the scenario at least once,
  # so each counted request is a cache hit.
  python3 benches/load/client.py "$url" 10000 --connections "$CONNECTIONS" "$@"
  callgrind_control --instr=on "$pid" >/dev/null 2>&1
  python3 benches/load/client.py "$url" "$REQUESTS" --connections "$CONNECTIONS" "$@"
  callgrind_control --instr=off "$pid" >/dev/null 2>&1
  kill "$pid"
  wait_for_line "$work/$scenario.$side.err" "Collected"
}

for scenario in $SCENARIOS; do
  case "$scenario" in
    jwt_one) args=(--header "Bearer $(cat "$work/one-token.txt")") ;;
    jwt_10k) args=(--tokens "$work/tokens.txt") ;;
    api_key) args=(--header "Token token=$api_key") ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  count "$scenario" bare "$BARE_BIN" "${args[@]}"
  count "$scenario" guarded "$GUARDED_BIN" "${args[@]}"
done

mkdir -p /tmp/cgc; cp "$work"/*.cg /tmp/cgc/
python3 - "$work" "$REQUESTS" "$CONNECTIONS" "$TOP" $SCENARIOS <<'PY'
import re, subprocess, sys
work, requests, connections, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scenarios = sys.argv[5:]
names = {"jwt_one": "(a) one JWT repeated", "jwt_10k": "(b) 10,000 distinct JWTs rotated", "api_key": "(c) one API key"}
def count(path, inclusive=False):
    """The total, and instructions by function (callees included if `inclusive`)."""
    out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", path],
                         capture_output=True, text=True, check=True).stdout
    counts, total = {}, None
    for line in out.splitlines():
        match = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*?)(?: \[.*\])?$", line)
        if not match:
            continue
        value = int(match.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = value
        else:
            counts[match.group(2)] = counts.get(match.group(2), 0) + value
    return total, counts
print("| scenario | bare instructions/request | tokenguard instructions/request | added | ratio |")
print("|---|---:|---:|---:|---:|")
for scenario in scenarios:
    bare, guarded = (count(f"{work}/{scenario}.{side}.cg")[0] for side in ("bare", "guarded"))
    print(f"| {names[scenario]} | {bare / requests:,.0f} | {guarded / requests:,.0f} "
          f"| {(guarded - bare) / requests:+,.0f} | {bare / guarded:.1%} |")
print(f"\ncallgrind, user space only, {requests} requests per server over {connections} connections "
      "after a warm-up; ratio: bare/tokenguard")
for scenario in scenarios if top else []:
    print(f"\n{names[scenario]}: tokenguard's costliest functions (instructions per request, callees included)")
    _, by_function = count(f"{work}/{scenario}.guarded.cg", inclusive=True)
    ours = [(value, name) for name, value in by_function.items() if "tokenguard" in name]
    for value, name in sorted(ours, reverse=True)[:top]:
        print(f"{value / requests:8,.0f}  {name[:140]}")
PY
