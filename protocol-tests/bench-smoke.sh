#!/usr/bin/env bash
# Smoke round of the benchmark harness (issue 7): every workload of enrolld-bench runs briefly
# against a server started with ENROLLD_RATE_LIMIT=off, and its JSON report must show completed
# operations and no errors. NOT a timed test: it asserts no speed. The full run, which writes
# docs/benchmarks.md, is protocol-tests/bench-full.sh.
#
#   ENROLLD_BIN=target/debug/enrolld ENROLLD_BENCH_BIN=target/debug/enrolld-bench \
#     protocol-tests/bench-smoke.sh
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
. "$(dirname "$0")/lib.sh"
need python3

BENCH_BIN=${ENROLLD_BENCH_BIN:-target/debug/enrolld-bench}
case $BENCH_BIN in
  /*) ;;
  *) BENCH_BIN=$REPO_ROOT/$BENCH_BIN ;;
esac
[ -x "$BENCH_BIN" ] || fail "enrolld-bench not found at $BENCH_BIN (cargo build, or set ENROLLD_BENCH_BIN)"

# check_report FILE WHAT PYTHON_CONDITION...: the JSON report in FILE satisfies every condition
# (python expressions over `r`, the parsed report); a failure shows the report.
check_report() {
  local file=$1 what=$2
  shift 2
  python3 - "$file" "$@" <<'EOF' || fail "$what: report check failed: $(cat "$file")"
import json, sys
r = json.load(open(sys.argv[1]))
for cond in sys.argv[2:]:
    if not eval(cond):
        print(f"condition not met: {cond}", file=sys.stderr)
        sys.exit(1)
EOF
  pass "$what: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(", ".join(f"{k}={r[k]}" for k in ("completed","ops_per_sec","error_count","crl_entries_listed","crl_generation_ms","floor_per_sec") if k in r))' "$file")"
}

section "in-process: crypto floor and a CRL of 2,000 entries"
"$BENCH_BIN" floor --seconds 0.1 >"$WORK/floor.json" 2>"$WORK/floor.err" ||
  fail "enrolld-bench floor failed: $(cat "$WORK/floor.err")"
check_report "$WORK/floor.json" "floor" \
  'r["cores"] >= 1' \
  'all(v > 0 for v in r["per_core_per_sec"].values())' \
  'all(v > 0 for v in r["floor_per_sec"].values())'

"$BENCH_BIN" crl --entries 2000 >"$WORK/crl.json" 2>"$WORK/crl.err" ||
  fail "enrolld-bench crl failed: $(cat "$WORK/crl.err")"
check_report "$WORK/crl.json" "crl --entries 2000" \
  'r["crl_entries_listed"] == 2000' \
  'r["crl_signature_verified"] is True' \
  'r["crl_der_bytes"] > 2000 * 20' \
  'r["store"]["bytes_per_certificate"] > 0'

"$BENCH_BIN" scep-floor --seconds 0.05 >"$WORK/scep-floor.json" 2>"$WORK/scep-floor.err" ||
  fail "enrolld-bench scep-floor failed: $(cat "$WORK/scep-floor.err")"
check_report "$WORK/scep-floor.json" "scep-floor" \
  'all(v > 0 for v in r["per_core_per_sec"].values())' \
  'all(v > 0 for v in r["per_enrolment_cpu_ms"].values())' \
  'all(v > 0 for v in r["floor_per_sec"].values())'

section "a server with rate limits off"
export ENROLLD_RATE_LIMIT=off
start_server "$WORK/data"
unset ENROLLD_RATE_LIMIT
assert_contains "$(cat "$SERVER_LOG")" "rate limits are OFF" "the server says its rate limits are off"

# drive WORKLOAD ARGS...: a short round at concurrency 2; the report goes to $WORK/WORKLOAD.json.
drive() {
  local w=$1
  shift
  "$BENCH_BIN" "$w" --url "$BASE_URL" --ca-bundle "$SERVER_DIR/ca-bundle.pem" \
    --admin-token "$SERVER_DIR/admin-token" --server-pid "$SERVER_PID" -c 2 "$@" \
    >"$WORK/$w.json" 2>"$WORK/$w.err" ||
    fail "enrolld-bench $w failed: $(cat "$WORK/$w.err")"
  check_report "$WORK/$w.json" "$w" \
    'r["completed"] > 0' \
    'r["error_count"] == 0 and r["errors"] == {}' \
    'r["ops_per_sec"] > 0' \
    'r["latency_us"]["p50"] > 0 and r["latency_us"]["p99"] >= r["latency_us"]["p50"]' \
    'r["connections"] == r["concurrency"]' \
    'r["server"]["peak_rss_kib"] > 0 and r["server"]["cpu_seconds"] >= 0'
}

section "OCSP (GET, good and revoked, SHA-1 and SHA-256 CertIDs)"
drive ocsp -s 3 --good 2 --revoked 2

section "EST simpleenroll"
drive est -s 3 --pool 400

section "ACME full orders on pre-authorised names"
drive acme -s 3 --pool 400
check_report "$WORK/acme.json" "acme: four JWS requests per order" \
  'r["http_requests"] >= 4 * r["completed"]'

section "SCEP PKCSReq on the plain-HTTP listener (one-time challenges from the admin API)"
drive scep -s 3 --pool 300 --keys 2 --scep-url "$STATUS_URL/scep"
check_report "$WORK/scep.json" "scep: every reply a SUCCESS with one certificate for the requester's key" \
  'r["certificates_checked"]["good"] == r["completed"]' \
  'r["certificates_checked"]["failed"] == {}' \
  'r["certificates_checked"]["repeated_serials"] == 0' \
  'r["enrolments_per_sec"] > 0' \
  'r["server"]["cpu_ms_per_enrolment"] > 0'

stop_server
echo "bench smoke passed"
