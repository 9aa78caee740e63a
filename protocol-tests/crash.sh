#!/usr/bin/env bash
# Crash consistency (issue 6): `enrolld-bench crash` runs concurrent EST enrolments and admin
# revocations against `enrolld serve`, kills it with SIGKILL at a random moment (50–800 ms into
# the workload), restarts it on the same data directory and checks the store against what the
# clients were told: every certificate received is there, unchanged, with the right status; no
# serial twice; no credential used twice; the CRL lists exactly the revoked serials.
#
#   protocol-tests/crash.sh          short round for CI: 50 kills, 4 clients pausing 50 ms (debug binaries)
#   protocol-tests/crash.sh --long   the hand-run round of docs/security.md: 500 kills, 8
#                                    clients pausing 100 ms between enrolments, release
#                                    binaries (cargo build --release first)
#
# CRASH_KILLS, CRASH_CONCURRENCY and CRASH_PACE_MS (each client's pause between enrolments)
# override either round; ENROLLD_BIN and ENROLLD_BENCH_BIN choose the binaries
# (tests/protocol.rs sets them to the ones cargo just built).
set -euo pipefail
KILLS=${CRASH_KILLS:-50}
CONCURRENCY=${CRASH_CONCURRENCY:-4}
PACE_MS=${CRASH_PACE_MS:-50}
BENCH_DEFAULT=target/debug/enrolld-bench
if [ "${1:-}" = --long ]; then
  KILLS=${CRASH_KILLS:-500}
  CONCURRENCY=${CRASH_CONCURRENCY:-8}
  # Each client pauses between enrolments so that the store stays small enough to scan whole
  # after each of the 500 restarts; requests still overlap every kill.
  PACE_MS=${CRASH_PACE_MS:-100}
  BENCH_DEFAULT=target/release/enrolld-bench
  ENROLLD_BIN=${ENROLLD_BIN:-target/release/enrolld}
fi
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

ENROLLD_BENCH_BIN=${ENROLLD_BENCH_BIN:-$BENCH_DEFAULT}
case $ENROLLD_BENCH_BIN in
  /*) ;;
  *) ENROLLD_BENCH_BIN=$REPO_ROOT/$ENROLLD_BENCH_BIN ;;
esac
[ -x "$ENROLLD_BENCH_BIN" ] || fail "enrolld-bench not found at $ENROLLD_BENCH_BIN (cargo build, or set ENROLLD_BENCH_BIN)"

START=$SECONDS
section "crash consistency: $KILLS kills, $CONCURRENCY clients, $PACE_MS ms pause"
rc=0
"$ENROLLD_BENCH_BIN" crash --enrolld "$ENROLLD_BIN" --data-dir "$WORK/data" \
  --rounds "$KILLS" --concurrency "$CONCURRENCY" --pace-ms "$PACE_MS" >"$WORK/report.json" 2>"$WORK/crash.log" || rc=$?
cat "$WORK/report.json"
if [ "$rc" != 0 ]; then
  echo "--- last lines of the tool's log ---" >&2
  tail -n 30 "$WORK/crash.log" >&2
  # shellcheck disable=SC2034 # fail() shows the end of it
  SERVER_LOG=$WORK/data.server.log
  fail "enrolld-bench crash exited with status $rc"
fi
pass "enrolld-bench crash exited 0"

report=$(cat "$WORK/report.json")
assert_contains "$report" "\"kills\":$KILLS," "$KILLS kills"
assert_contains "$report" '"violations":0,' "no violations"
received=$(sed -n 's/.*"certificates_received":\([0-9]*\).*/\1/p' "$WORK/report.json")
[ "${received:-0}" -gt 0 ] || fail "no certificate was received: the workload did not run"
pass "$received certificates received and checked after every restart"
revoked=$(sed -n 's/.*"revocations_acknowledged":\([0-9]*\).*/\1/p' "$WORK/report.json")
[ "${revoked:-0}" -gt 0 ] || fail "no revocation was acknowledged: the revocation path did not run"
pass "$revoked revocations acknowledged and checked"

echo
echo "crash.sh: all checks passed in $((SECONDS - START)) s"
