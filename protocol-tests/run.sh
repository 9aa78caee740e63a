#!/usr/bin/env bash
# Runs every protocol test script in this directory (all *.sh except lib.sh, run.sh and
# bench-full.sh), one after the other, and reports which failed. Exit status 0 only if all passed.
#
#   ENROLLD_BIN=path/to/enrolld protocol-tests/run.sh     (default: target/debug/enrolld)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."

failed=()
count=0
for script in "$here"/*.sh; do
  name=$(basename "$script")
  case $name in
    # bench-full.sh, bench-ocsp-flood.sh, bench-compare.sh and bench-scep.sh are benchmark runs
    # for docs/benchmarks.md: minutes long, not tests.
    lib.sh | run.sh | bench-full.sh | bench-ocsp-flood.sh | bench-compare.sh | bench-scep.sh) continue ;;
  esac
  count=$((count + 1))
  echo "=== $name"
  start=$SECONDS
  if bash "$script"; then
    echo "=== $name: passed ($((SECONDS - start)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
done

echo
if [ "$count" -eq 0 ]; then
  echo "no protocol test scripts found in $here"
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "${#failed[@]} of $count protocol test scripts failed: ${failed[*]}"
  exit 1
fi
echo "all $count protocol test scripts passed"
