#!/usr/bin/env bash
# EST under an OCSP flood with nonces (docs/benchmarks.md, "EST under an OCSP flood"). For
# each LABEL=SERVER_BINARY given (default: current=target/release/enrolld), on a fresh data
# directory, with ENROLLD_RATE_LIMIT=off (no per-address limit: the flood stands for many
# addresses):
#   1. EST simpleenroll alone: EST_C clients for RUN_SECONDS;
#   2. the same while `enrolld-bench ocsp --nonce` floods the server with OCSP_C clients, every
#      request a POST with a fresh nonce, so every answer is signed. EST starts once the flood
#      runs, and the run fails unless the flood outlasts it.
# The JSON reports go to $BENCH_RESULTS (default target/bench-ocsp-flood), a summary table to
# stdout. Not a test: run.sh skips it. About 2 minutes per server on 2 cores.
#
#   cargo build --release --bin enrolld --bin enrolld-bench
#   protocol-tests/bench-ocsp-flood.sh before=/tmp/enrolld-before after=target/release/enrolld
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_SECONDS=${RUN_SECONDS:-10}
EST_C=${EST_C:-16}
OCSP_C=${OCSP_C:-64}
FLOOD_SECONDS=${FLOOD_SECONDS:-$((RUN_SECONDS * 6))}
export ENROLLD_BIN=${ENROLLD_BIN:-target/release/enrolld}
BENCH_BIN=${ENROLLD_BENCH_BIN:-target/release/enrolld-bench}
# shellcheck source=protocol-tests/lib.sh
. protocol-tests/lib.sh
need python3
case $BENCH_BIN in
  /*) ;;
  *) BENCH_BIN=$REPO_ROOT/$BENCH_BIN ;;
esac
[ -x "$BENCH_BIN" ] || fail "enrolld-bench not found at $BENCH_BIN"
OUT=${BENCH_RESULTS:-$REPO_ROOT/target/bench-ocsp-flood}
mkdir -p "$OUT"
export ENROLLD_RATE_LIMIT=off

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=("current=$ENROLLD_BIN")
labels=()
for run in "${runs[@]}"; do
  label=${run%%=*}
  bin=${run#*=}
  case $bin in
    /*) ;;
    *) bin=$REPO_ROOT/$bin ;;
  esac
  [ -x "$bin" ] || fail "no server binary at $bin"
  labels+=("$label")
  ENROLLD_BIN=$bin
  section "$label: $bin"
  start_server "$WORK/data-$label"
  drive=(--url "$BASE_URL" --ca-bundle "$SERVER_DIR/ca-bundle.pem"
    --admin-token "$SERVER_DIR/admin-token" --server-pid "$SERVER_PID")
  est=(est "${drive[@]}" -c "$EST_C" -s "$RUN_SECONDS" --pool $((RUN_SECONDS * 6000)))

  echo "--- EST alone"
  "$BENCH_BIN" "${est[@]}" >"$OUT/$label-est-alone.json" 2>"$OUT/$label-est-alone.err" ||
    fail "EST alone: $(tail -n 5 "$OUT/$label-est-alone.err")"

  echo "--- EST under the flood"
  "$BENCH_BIN" ocsp --nonce "${drive[@]}" -c "$OCSP_C" -s "$FLOOD_SECONDS" \
    >"$OUT/$label-flood.json" 2>"$OUT/$label-flood.err" &
  flood=$!
  ALL_SERVER_PIDS+=("$flood")
  # The flood's own setup (16 enrolments, 8 revocations) ends with its "prepared" line.
  until grep -q prepared "$OUT/$label-flood.err"; do
    kill -0 "$flood" 2>/dev/null || fail "flood exited: $(tail -n 5 "$OUT/$label-flood.err")"
    sleep 0.2
  done
  "$BENCH_BIN" "${est[@]}" >"$OUT/$label-est-flood.json" 2>"$OUT/$label-est-flood.err" ||
    fail "EST under the flood: $(tail -n 5 "$OUT/$label-est-flood.err")"
  kill -0 "$flood" 2>/dev/null || fail "the flood ended before EST did: raise FLOOD_SECONDS"
  wait "$flood" || fail "flood: $(tail -n 5 "$OUT/$label-flood.err")"
  stop_server
done

section "summary"
python3 - "$OUT" "${labels[@]}" <<'PY' | tee "$OUT/summary.md"
import json, sys
out, labels = sys.argv[1], sys.argv[2:]
load = lambda n: json.load(open(f"{out}/{n}.json"))
print("| server | EST alone /s | p99 ms | EST under the flood /s | p99 ms | errors | share of alone | OCSP (nonce) answers /s during the flood | OCSP p99 ms | OCSP errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
for l in labels:
    a, f, o = load(f"{l}-est-alone"), load(f"{l}-est-flood"), load(f"{l}-flood")
    print(f"| {l} | {a['ops_per_sec']:,.0f} | {a['latency_us']['p99'] / 1000:.1f} "
          f"| {f['ops_per_sec']:,.0f} | {f['latency_us']['p99'] / 1000:.1f} | {f['error_count']} "
          f"| {100 * f['ops_per_sec'] / a['ops_per_sec']:.0f} % "
          f"| {o['ops_per_sec']:,.0f} | {o['latency_us']['p99'] / 1000:.1f} | {o['error_count']} |")
PY
pass "reports in $OUT"
