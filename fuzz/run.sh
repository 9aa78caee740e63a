#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60); exits non-zero if any
# target crashes (or fails to build). Usage: fuzz/run.sh [SECONDS] [TARGET...]
#
# Toolchain: cargo-fuzz needs nightly-only flags (-Zsanitizer, sancov passes); on the stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. AddressSanitizer works; set FUZZ_SANITIZER=none
# if it does not on your machine. Overflow checks and debug assertions are on (-a).
#
# The targets are built once and then run directly (not through `cargo fuzz run`, which would
# rebuild enrolld every time a file under src/ changes while the script runs).
#
# New inputs go to target/corpus/<target>/ (ignored by git); the committed seeds in
# corpus/<target>/ are only read. Crashes land in artifacts/<target>/.
set -u
cd "$(dirname "$0")"

secs=${1:-60}
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(csr est_body jws acme_payload admin_json ocsp form dns san scep multipart); fi
export RUSTC_BOOTSTRAP=1
flags=(-a -s "${FUZZ_SANITIZER:-address}")

cargo fuzz build "${flags[@]}" || { echo "fuzz build failed" >&2; exit 2; }
bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

mkdir -p target/logs
failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t" "corpus/$t"
    log="target/logs/$t.log"
    echo "== $t: ${secs}s"
    mkdir -p "artifacts/$t"
    "$bin/$t" -artifact_prefix="artifacts/$t/" "target/corpus/$t" "corpus/$t" \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -max_len=65536 \
        -timeout=10 >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ $rc -eq 0 ]; then status=ok; else status="CRASH (rc=$rc, see $log, artifacts/$t/)"; failed+=("$t"); fi
    line=$(printf '%-13s %-6s execs=%-9s exec/s=%-7s cov=%-6s corpus=%s' "$t" "$status" "${runs:-?}" "${execs:-?}" "${cov:-?}" "${corp:-?}")
    summary+=("$line")
    echo "$line"
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]}" >&2
    exit 1
fi
