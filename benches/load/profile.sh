#!/usr/bin/env bash
# Where the time goes under load: both servers side by side on core 0 as in
# run.sh, one scenario driven by wrk on core 1, each server sampled by
# `perf record -e cpu-clock` (a software event: shared VMs often expose no
# hardware counters). Prints CPU time per request, in µs, by shared object
# and by function: the example's, the bare server's and the difference,
# largest difference first. Needs perf (Debian: linux-perf).
#
#   SCENARIO=jwt_10k bash benches/load/profile.sh   # or jwt_one, api_key; DURATION=10 TOP=30
#
# Sampling slows both servers (the ratio drops by a few points); read the
# per-request differences, not the throughput. A function's name can differ
# between the two binaries when it is inlined differently (the handler,
# for one): compare the rows by dso, then by function.
set -euo pipefail
cd "$(dirname "$0")/../.."

SCENARIO=${SCENARIO:-jwt_10k}
DURATION=${DURATION:-10}
TOP=${TOP:-30}
FREQUENCY=4999
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is needed: apt-get install -y linux-perf" >&2; exit 1; }
source benches/load/common.sh

bare=$(start_server bare taskset -c 0 target/release/examples/bare_api)
guarded=$(start_server axum taskset -c 0 target/release/examples/axum_api)
wrk_scenario "$SCENARIO"

for url in "$bare" "$guarded"; do # warm-up, as in run.sh
  taskset -c 1 wrk -t1 -c32 -d2s "${wrk_args[@]}" "$url/recordings" >/dev/null
done
waits=()
for side in bare axum; do
  perf record -q -e cpu-clock -F "$FREQUENCY" -o "$work/$side.perf" -p "$(cat "$work/$side.pid")" \
    -- sleep "$DURATION" 2>/dev/null &
  waits+=($!)
done
taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" "${wrk_args[@]}" "$bare/recordings" >"$work/bare.wrk" &
waits+=($!)
taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" "${wrk_args[@]}" "$guarded/recordings" >"$work/axum.wrk"
wait "${waits[@]}"
if grep -l "Non-2xx" "$work"/*.wrk; then echo "some requests failed" >&2; exit 1; fi

for side in bare axum; do
  for sort in dso sym; do
    perf report -i "$work/$side.perf" --no-children -n -q --stdio -g none --sort "$sort" \
      >"$work/$side.$sort.txt" 2>/dev/null
  done
done

python3 - "$work" "$FREQUENCY" "$TOP" "$SCENARIO" <<'PY'
import collections, re, sys
work, frequency, top, scenario = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def requests(side):
    return int(re.search(r"(\d+) requests in", open(f"{work}/{side}.wrk").read()).group(1))
def per_request_us(side, sort):
    """Samples of each row, as CPU µs per request."""
    samples = collections.Counter()
    for line in open(f"{work}/{side}.{sort}.txt"):
        match = re.match(r"\s*[\d.]+%\s+(\d+)\s+(.*\S)", line)
        if match:
            samples[match.group(2)] += int(match.group(1))
    count = requests(side)
    return {name: n / count / frequency * 1e6 for name, n in samples.items()}
print(f"{scenario}: bare {requests('bare'):,} requests, tokenguard {requests('axum'):,} in the same window")
for sort, rows in (("dso", 8), ("sym", top)):
    bare, guarded = per_request_us("bare", sort), per_request_us("axum", sort)
    print(f"\n| {sort} | tokenguard µs/request | bare µs/request | difference |\n|---|---:|---:|---:|")
    if sort == "dso":
        print(f"| all | {sum(guarded.values()):.3f} | {sum(bare.values()):.3f} "
              f"| {sum(guarded.values()) - sum(bare.values()):+.3f} |")
    names = sorted(set(bare) | set(guarded), key=lambda n: bare.get(n, 0) - guarded.get(n, 0))
    for name in names[:rows]:
        b, g = bare.get(name, 0.0), guarded.get(name, 0.0)
        print(f"| `{name[:100]}` | {g:.3f} | {b:.3f} | {g - b:+.3f} |")
PY
