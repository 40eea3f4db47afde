# Sourced by run.sh, instructions.sh and profile.sh: builds the release binaries, makes a
# work directory (removed on exit, with every server in it), starts the test
# issuer with 10,000 signed tokens ($work/tokens.txt, the first one in
# $work/one-token.txt) and makes an API key ($api_key) in a SQLite store;
# `start_server` runs a server with the example's environment; `wrk_scenario`
# gives the wrk options of a scenario (run.sh, profile.sh).

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

echo "minting 10,000 tokens…" >&2
target/release/tokenguard-issuer --tokens 10000 --out "$work/tokens.txt" --scope read >"$work/issuer.out" &
pids+=($!)
wait_for_line "$work/issuer.out" "^ready"
issuer=$(sed -n 's/^issuer //p' "$work/issuer.out")
store="sqlite://$work/keys.db"
api_key=$(target/release/tokenguard keys create --store "$store" --subject load --scope read --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
head -n 1 "$work/tokens.txt" >"$work/one-token.txt"

# The example's environment; the bare server ignores it, an A/B baseline needs it.
example_env=(TOKENGUARD_ISSUER="$issuer" TOKENGUARD_KEY_STORE="$store")

start_server() { # name command...: runs the command (a server) with the example's environment; prints its base URL
  local name=$1; shift
  env TOKENGUARD_BIND=127.0.0.1:0 TOKIO_WORKER_THREADS=1 RUST_LOG=warn "${example_env[@]}" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  echo $! >"$work/$name.pid"
  wait_for_line "$work/$name.out" "listening on"
  sed -n 's/^listening on //p' "$work/$name.out" | head -n 1
}

wrk_scenario() { # scenario: sets wrk_args to the wrk options of jwt_one, jwt_10k or api_key
  case "$1" in
    jwt_one) wrk_args=(-H "Authorization: Bearer $(cat "$work/one-token.txt")") ;;
    jwt_10k) wrk_args=(-s benches/load/rotate.lua); export TOKENS_FILE="$work/tokens.txt" ;;
    api_key) wrk_args=(-H "Authorization: Token token=$api_key") ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}
