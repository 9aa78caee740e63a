#!/usr/bin/env bash
# EST and ACME throughput of two enrolld builds in one run, alternating, with the same load
# driver and crypto floors measured right before and after each row (docs/benchmarks.md,
# "Two builds side by side"). Not a test: it asserts no speed.
#
#   protocol-tests/bench-compare.sh OLD_BIN NEW_BIN [ROUNDS] [SECONDS]
#
# OLD_BIN and NEW_BIN are `enrolld` release binaries; ENROLLD_BENCH_BIN (default
# target/release/enrolld-bench) drives both. Raw reports stay in $BENCH_OUT
# (default target/bench-compare).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
NEW=$2
ROUNDS=${3:-2}
SECONDS_PER_RUN=${4:-6}
BENCH=${ENROLLD_BENCH_BIN:-target/release/enrolld-bench}
OUT=${BENCH_OUT:-target/bench-compare}
rm -rf "$OUT"
mkdir -p "$OUT"
export ENROLLD_RATE_LIMIT=off

# serve BIN DIR LOG: starts the server on free ports, sets PID and URL.
serve() {
  local bin=$1 dir=$2 log=$3 extra=()
  # Builds with a plain-HTTP status listener open it on 8080 by default: take a free port.
  if "$bin" serve --help 2>/dev/null | grep -q -- --http-listen; then
    extra=(--http-listen 127.0.0.1:0)
  fi
  "$bin" serve --listen 127.0.0.1:0 "${extra[@]}" --data-dir "$dir" >"$log" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 1 300); do
    URL=$(sed -n 's|^ *base URL: *\(https://[^ ]*\).*|\1|p' "$log" | head -n 1)
    [ -n "$URL" ] && break
    sleep 0.1
  done
  [ -n "$URL" ] || { echo "server did not start: $(tail -n 20 "$log")" >&2; exit 1; }
  URL=${URL/127.0.0.1/localhost}
}

for round in $(seq 1 "$ROUNDS"); do
  for build in old new; do
    bin=$OLD
    [ "$build" = new ] && bin=$NEW
    dir=$(mktemp -d)
    serve "$bin" "$dir/data" "$OUT/server-$build-$round.log"
    for w in est acme; do
      case $w in
        est) pool=$((SECONDS_PER_RUN * 7000)) ;;
        acme) pool=$((SECONDS_PER_RUN * 2500)) ;;
      esac
      "$BENCH" floor --seconds 1 >"$OUT/floor-before-$w-$build-$round.json"
      "$BENCH" "$w" --url "$URL" --ca-bundle "$dir/data/ca-bundle.pem" \
        --admin-token "$dir/data/admin-token" --server-pid "$PID" \
        -c 64 -s "$SECONDS_PER_RUN" --pool "$pool" >"$OUT/$w-$build-$round.json"
      "$BENCH" floor --seconds 1 >"$OUT/floor-after-$w-$build-$round.json"
    done
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    rm -rf "$dir"
  done
done

python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, sys, os
out, rounds = sys.argv[1], int(sys.argv[2])
def load(name):
    return json.load(open(os.path.join(out, name + ".json")))
key = {"est": "est_enrol", "acme": "acme_order"}
print("| round | build | workload | ops/s | p99 ms | errors | share of the floors beside it | server CPU s per 1,000 ops |")
print("|---:|---|---|---:|---:|---:|---:|---:|")
for rnd in range(1, rounds + 1):
    for build in ("old", "new"):
        for w in ("est", "acme"):
            r = load(f"{w}-{build}-{rnd}")
            fl = sum(load(f"floor-{when}-{w}-{build}-{rnd}")["floor_per_sec"][key[w]] for when in ("before", "after")) / 2
            sv = r.get("server", {})
            print(f"| {rnd} | {build} | {w} | {r['ops_per_sec']:,.0f} | {r['latency_us']['p99'] / 1000:.1f} | "
                  f"{r['error_count']} | {100 * r['ops_per_sec'] / fl:.1f} % | {sv.get('cpu_seconds_per_1000_ops', '?')} |")
EOF
