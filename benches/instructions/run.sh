#!/usr/bin/env bash
# Instruction counts (valgrind callgrind) of one verification through
# tokenguard next to the bare aws-lc signature check on a pre-parsed key.
# Counts are repeatable whatever else the machine does, unlike wall time on
# a shared VM; see BENCHMARKS.md for what they mean.
#
#   bash benches/instructions/run.sh [N]      (needs valgrind; N defaults to 200)
set -euo pipefail
cd "$(dirname "$0")"
n="${1:-200}"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/tokenguard-instructions"
count() {
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect='tokenguard_instructions::*_loop' \
    --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$n" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-7s %16s %16s %8s\n' alg "bare (instr/op)" "tokenguard" ratio
for alg in rs256 es256 eddsa; do
  bare=$(count bare "$alg")
  ours=$(count tokenguard "$alg")
  awk -v a="$alg" -v b="$bare" -v t="$ours" -v n="$n" \
    'BEGIN { printf "%-7s %16d %16d %7.3fx\n", a, b / n, t / n, t / b }'
done
cached=$(count cached rs256)
awk -v c="$cached" -v n="$n" 'BEGIN { printf "cache hit (verify of a verified RS256 token): %d instructions\n", c / n }'
