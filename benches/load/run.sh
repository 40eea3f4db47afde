#!/usr/bin/env bash
# Load benchmark: a bare axum server (no auth, the example's routing table)
# vs the axum example, both pinned to core 0 with one Tokio worker each,
# driven with wrk pinned to core 1:
#   (a) one valid JWT repeated, (b) 10,000 distinct valid JWTs rotated,
#   (c) one API key.
# Every scenario drives the bare server with the very same wrk command (the
# bare server ignores the credential), so the load generator's own cost —
# small since the Lua script of (b) formats its requests once — is the same on both sides.
#
# MODE=side-by-side (default): each run drives both servers at the same time
# for DURATION, one wrk each, so the two servers share core 0 and whatever
# the machine does during the run (other tenants, frequency, interrupts)
# weighs on both alike; the ratio is that run's tokenguard/bare throughput,
# i.e. the inverse ratio of their CPU cost per request. Which wrk starts
# first alternates between runs. Req/s are per server, each on about half a
# core. MODE=alternating drives one server at a time on a core of its own
# (bare, tokenguard, bare, …): absolute numbers, but on a shared VM
# consecutive runs of the same server differ by up to ±15 %.
# RUNS runs per scenario; the medians are reported with p50/p99 latency.
#
#   bash benches/load/run.sh            # MODE=side-by-side RUNS=5 DURATION=5s CONNECTIONS=32
#
# A/B of two builds: BARE_BIN=path/to/an/earlier/axum_api puts that binary,
# with the example's environment, in the bare server's place, so the ratio
# is this build (or GUARDED_BIN) against that one. SCENARIOS picks some of
# jwt_one jwt_10k api_key.
set -euo pipefail
cd "$(dirname "$0")/../.."

MODE=${MODE:-side-by-side}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
BARE_BIN=${BARE_BIN:-target/release/examples/bare_api}
GUARDED_BIN=${GUARDED_BIN:-target/release/examples/axum_api}
SCENARIOS=${SCENARIOS:-jwt_one jwt_10k api_key}

case "$MODE" in side-by-side | alternating) ;; *) echo "MODE is side-by-side or alternating" >&2; exit 2 ;; esac
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
source benches/load/common.sh

bare=$(start_server bare taskset -c "$SERVER_CORE" "$BARE_BIN")
guarded=$(start_server axum taskset -c "$SERVER_CORE" "$GUARDED_BIN")

wrk_to() { # side label run [wrk args...]: one wrk run against one server
  local side=$1 label=$2 run=$3; shift 3
  local url=$bare; [ "$side" = guarded ] && url=$guarded
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url/recordings" \
    >"$work/$label.$side.$run.txt"
}

run_wrk() { # label [wrk args...]: runs the scenario against both servers
  local label=$1; shift
  # Warm up: fills caches (JWKS, verified tokens) like a running service.
  for url in "$bare" "$guarded"; do
    taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s "$@" "$url/recordings" >/dev/null
  done
  for run in $(seq 1 "$RUNS"); do
    local first=bare second=guarded
    [ $((run % 2)) = 0 ] && first=guarded second=bare
    if [ "$MODE" = side-by-side ]; then
      wrk_to "$first" "$label" "$run" "$@" &
      local pid=$!
      wrk_to "$second" "$label" "$run" "$@"
      wait "$pid"
    else
      wrk_to "$first" "$label" "$run" "$@"
      wrk_to "$second" "$label" "$run" "$@"
    fi
  done
}

for scenario in $SCENARIOS; do
  wrk_scenario "$scenario"
  run_wrk "$scenario" "${wrk_args[@]}"
done

# Every request must have succeeded: wrk reports non-2xx responses.
if grep -l "Non-2xx" "$work"/*.txt; then echo "some requests failed" >&2; exit 1; fi

python3 - "$work" "$RUNS" "$CONNECTIONS" "$MODE" <<'PY'
import re, statistics, sys
work, runs, connections, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def to_us(text):
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.search(r"(us|ms|s)$", text).group(1)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]
def read(label, side):
    """Per-run req/s, and the medians of p50 and p99 latency."""
    rates, p50s, p99s = [], [], []
    for run in range(1, runs + 1):
        text = open(f"{work}/{label}.{side}.{run}.txt").read()
        rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)))
        p50s.append(to_us(re.search(r"\s50%\s+(\S+)", text).group(1)))
        p99s.append(to_us(re.search(r"\s99%\s+(\S+)", text).group(1)))
    return rates, statistics.median(p50s), statistics.median(p99s)
rows = [("(a) one JWT repeated", "jwt_one"), ("(b) 10,000 distinct JWTs rotated", "jwt_10k"),
        ("(c) one API key", "api_key")]
print(f"| scenario | bare req/s | tokenguard req/s | ratio | bare p50 / p99 | tokenguard p50 / p99 |")
print("|---|---:|---:|---:|---:|---:|")
import os
for name, label in rows:
    if not os.path.exists(f"{work}/{label}.bare.1.txt"):
        continue
    b_rates, b_p50, b_p99 = read(label, "bare")
    g_rates, g_p50, g_p99 = read(label, "guarded")
    # Side by side, each run's ratio is a fair comparison on its own; the
    # median of those is steadier than a ratio of medians.
    ratio = statistics.median(g / b for g, b in zip(g_rates, b_rates))
    print(f"| {name} | {statistics.median(b_rates):,.0f} | {statistics.median(g_rates):,.0f} | {ratio:.1%} "
          f"| {b_p50:.0f} / {b_p99:.0f} µs | {g_p50:.0f} / {g_p99:.0f} µs |")
print(f"\n{mode}: medians of {runs} runs (ratio: median of the runs' ratios); servers on one core, "
      f"one Tokio worker each; wrk -t1 -c{connections} per server on the other core")
PY
