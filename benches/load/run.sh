#!/usr/bin/env bash
# Load benchmark: a bare axum server (no auth) vs the axum example, each
# pinned to core 0 with one Tokio worker, driven with wrk pinned to core 1.
#   (a) one valid JWT repeated, (b) 10,000 distinct valid JWTs rotated,
#   (c) one API key.
# Each scenario drives the bare server with the very same wrk command (the
# bare server ignores the credential), so the load generator's own cost —
# large for the Lua script of (b) — is the same on both sides. Each runs RUNS
# times for DURATION, alternating servers; the medians are reported with
# p50/p99 latency and the ratio to the bare server.
#
#   bash benches/load/run.sh              # RUNS=3 DURATION=5s CONNECTIONS=32
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet --workspace --bins --examples

work=$(mktemp -d)
pids=()
# Servers are started inside $(…) subshells, so their pids come back in files.
cleanup() {
  for pid in "${pids[@]}" $(cat "$work"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for "$2" to appear in file "$1" (a deadline, not a sleep).
wait_for_line() {
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

start_server() { # name binary [env...]; prints the base URL
  local name=$1 binary=$2; shift 2
  env TOKENGUARD_BIND=127.0.0.1:0 TOKIO_WORKER_THREADS=1 RUST_LOG=warn "$@" \
    taskset -c "$SERVER_CORE" "$binary" >"$work/$name.out" 2>"$work/$name.err" &
  echo $! >"$work/$name.pid"
  wait_for_line "$work/$name.out" "listening on"
  sed -n 's/^listening on //p' "$work/$name.out" | head -n 1
}

echo "minting 10,000 tokens…" >&2
target/release/tokenguard-issuer --tokens 10000 --out "$work/tokens.txt" --scope read >"$work/issuer.out" &
pids+=($!)
wait_for_line "$work/issuer.out" "^ready"
issuer=$(sed -n 's/^issuer //p' "$work/issuer.out")
store="sqlite://$work/keys.db"
api_key=$(target/release/tokenguard keys create --store "$store" --subject load --scope read --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
head -n 1 "$work/tokens.txt" >"$work/one-token.txt"

bare=$(start_server bare target/release/examples/bare_api)
guarded=$(start_server axum target/release/examples/axum_api TOKENGUARD_ISSUER="$issuer" TOKENGUARD_KEY_STORE="$store")

run_wrk() { # label [wrk args...]: runs the scenario against both servers
  local label=$1; shift
  for side in bare guarded; do
    local url=$bare; [ "$side" = guarded ] && url=$guarded
    # Warm up: fills caches (JWKS, verified tokens) like a running service.
    taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d2s "$@" "$url/recordings" >/dev/null
  done
  for run in $(seq 1 "$RUNS"); do
    for side in bare guarded; do
      local url=$bare; [ "$side" = guarded ] && url=$guarded
      taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url/recordings" \
        >"$work/$label.$side.$run.txt"
    done
  done
}

run_wrk jwt_one -H "Authorization: Bearer $(cat "$work/one-token.txt")"
TOKENS_FILE="$work/tokens.txt" run_wrk jwt_10k -s benches/load/rotate.lua
run_wrk api_key -H "Authorization: Token token=$api_key"

# Every request must have succeeded: wrk reports non-2xx responses.
if grep -l "Non-2xx" "$work"/*.txt; then echo "some requests failed" >&2; exit 1; fi

python3 - "$work" "$RUNS" "$CONNECTIONS" <<'PY'
import re, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
def to_us(text):
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.search(r"(us|ms|s)$", text).group(1)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]
def read(label, side):
    rates, p50s, p99s = [], [], []
    for run in range(1, runs + 1):
        text = open(f"{work}/{label}.{side}.{run}.txt").read()
        rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)))
        p50s.append(to_us(re.search(r"\s50%\s+(\S+)", text).group(1)))
        p99s.append(to_us(re.search(r"\s99%\s+(\S+)", text).group(1)))
    return statistics.median(rates), statistics.median(p50s), statistics.median(p99s)
rows = [("(a) one JWT repeated", "jwt_one"), ("(b) 10,000 distinct JWTs rotated", "jwt_10k"),
        ("(c) one API key", "api_key")]
print(f"| scenario | bare req/s | tokenguard req/s | ratio | bare p50 / p99 | tokenguard p50 / p99 |")
print("|---|---:|---:|---:|---:|---:|")
for name, label in rows:
    b_rate, b_p50, b_p99 = read(label, "bare")
    g_rate, g_p50, g_p99 = read(label, "guarded")
    print(f"| {name} | {b_rate:,.0f} | {g_rate:,.0f} | {g_rate / b_rate:.1%} "
          f"| {b_p50:.0f} / {b_p99:.0f} µs | {g_p50:.0f} / {g_p99:.0f} µs |")
print(f"\nmedians of {runs} runs; servers on one core, one Tokio worker; wrk -t1 -c{{conn}} on the other core".replace("{conn}", sys.argv[3]))
PY
