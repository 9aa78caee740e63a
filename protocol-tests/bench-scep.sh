#!/usr/bin/env bash
# SCEP (RFC 8894) PKCSReq enrolments per second of enrolld and of micromdm's scepserver 2.1.0
# (Debian's `scep` package) side by side in one run, with the same driver, concurrency and
# duration (issue 14); each server's CPU per enrolment from /proc, and the server-side crypto
# cost of one enrolment (`enrolld-bench scep-floor`, before and after the rows) beside them.
# Not a test: it asserts no speed, and run.sh skips it. About 2.5 minutes on 2 cores.
#
#   protocol-tests/bench-scep.sh
#   RUN_SECONDS=10 CONCURRENCY="16 64" BENCH_NO_BUILD=1 BENCH_OUT=/tmp/scep.md \
#     protocol-tests/bench-scep.sh
#
# Rows, one after the other, each on a fresh server (fresh data directory or depot):
#   enrolld      `enrolld serve` with the embedded default configuration (P-256 CA, RSA-2048
#                RA) and ENROLLD_RATE_LIMIT=off; SCEP on its plain-HTTP listener; one
#                one-time challenge per enrolment from the admin API.
#   enrolld-rsa  the same after `enrolld init --key-type rsa2048`: an RSA-2048 CA, so the
#                certificate signature is of scepserver's kind.
#   scepserver   `scepserver ca -init -keySize 2048` (RSA-2048 instead of its 4096-bit
#                default, to match enrolld's RA key), then `scepserver -depot D -port P
#                -challenge S`; its CA key is also its RA key. Afterwards the depot's
#                index.txt is read: certificates written and distinct serials among them.
# SCEP_SERVERS picks rows (default "enrolld enrolld-rsa scepserver").
#
# The driver sends the same messages to every server: PKCSReq from RSA-2048 requesters,
# AES-256-CBC, SHA-256, made before the clock starts (docs/benchmarks.md, "SCEP").
# The report goes between the "bench-scep.sh" markers of $BENCH_OUT (default
# docs/benchmarks.md; added at the end when they are missing); raw reports stay in
# $BENCH_RAW (default target/bench-scep).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_SECONDS=${RUN_SECONDS:-10}
CONCURRENCY=${CONCURRENCY:-16 64}
BENCH_OUT=${BENCH_OUT:-docs/benchmarks.md}
BENCH_RAW=${BENCH_RAW:-target/bench-scep}
SCEP_SERVERS=${SCEP_SERVERS:-enrolld enrolld-rsa scepserver}
# Messages prepared per row: more than the server completes, so no client runs out (the
# report says so if one did). scepserver completes about 200/s here: a smaller pool saves
# preparation time, which is most of a row's wall time.
POOL=$((RUN_SECONDS * ${POOL_PER_SECOND:-2500} + 200))
SCEPSERVER_POOL=$((RUN_SECONDS * ${SCEPSERVER_POOL_PER_SECOND:-800} + 200))

if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  cargo build --release --locked --bin enrolld --bin enrolld-bench
fi
export ENROLLD_BIN=${ENROLLD_BIN:-target/release/enrolld}
BENCH_BIN=${ENROLLD_BENCH_BIN:-target/release/enrolld-bench}
# shellcheck source=protocol-tests/lib.sh
. protocol-tests/lib.sh
need python3 scepserver nproc
case $BENCH_BIN in
  /*) ;;
  *) BENCH_BIN=$REPO_ROOT/$BENCH_BIN ;;
esac
[ -x "$BENCH_BIN" ] || fail "enrolld-bench not found at $BENCH_BIN"
rm -rf "$BENCH_RAW"
mkdir -p "$BENCH_RAW"
R=$(cd "$BENCH_RAW" && pwd)

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "nproc: $(nproc)"
  echo "scepserver: $(dpkg-query -W -f '${Package} ${Version}' scep 2>/dev/null || echo '?')"
  echo "filesystem of the data directories: $(df -T "$WORK" | awk 'NR==2 {print $2}')"
  echo "run seconds: $RUN_SECONDS, prepared messages per row: $POOL (scepserver: $SCEPSERVER_POOL)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$R/machine.txt"
cat "$R/machine.txt"

# drive NAME ARGS...: one enrolld-bench run; its JSON report goes to $R/NAME.json.
drive() {
  local name=$1
  shift
  echo "--- $name: enrolld-bench $*"
  "$BENCH_BIN" "$@" >"$R/$name.json" 2>"$R/$name.err" ||
    fail "enrolld-bench $name failed: $(tail -n 20 "$R/$name.err")"
  cat "$R/$name.json"
  echo
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

section "crypto cost of one enrolment (before the rows)"
drive scep-floor-before scep-floor --seconds 0.5

export ENROLLD_RATE_LIMIT=off
for c in $CONCURRENCY; do
  for server in $SCEP_SERVERS; do
    section "$server, C=$c"
    case $server in
      enrolld | enrolld-rsa)
        dir=$WORK/$server-c$c
        if [ "$server" = enrolld-rsa ]; then
          "$ENROLLD_BIN" init --data-dir "$dir" --key-type rsa2048 >"$R/$server-c$c-init.log" 2>&1 ||
            fail "enrolld init: $(tail -n 5 "$R/$server-c$c-init.log")"
        fi
        start_server "$dir"
        drive "$server-c$c" scep --url "$BASE_URL" --ca-bundle "$dir/ca-bundle.pem" \
          --admin-token "$dir/admin-token" --scep-url "$STATUS_URL/scep" \
          --server-pid "$SERVER_PID" -c "$c" -s "$RUN_SECONDS" --pool "$POOL"
        stop_server
        ;;
      scepserver)
        depot=$WORK/scepserver-c$c
        scepserver ca -init -depot "$depot" -keySize 2048 >/dev/null
        port=$(free_port)
        secret=bench-$(openssl rand -hex 12)
        scepserver -depot "$depot" -port "$port" -challenge "$secret" >"$R/scepserver-c$c.log" 2>&1 &
        pid=$!
        ALL_SERVER_PIDS+=("$pid")
        for _ in $(seq 1 100); do
          curl -sf -o /dev/null "http://127.0.0.1:$port/scep?operation=GetCACaps" && break
          kill -0 "$pid" 2>/dev/null || fail "scepserver exited: $(tail -n 5 "$R/scepserver-c$c.log")"
          sleep 0.1
        done
        drive "scepserver-c$c" scep --scep-url "http://127.0.0.1:$port/scep" \
          --challenge "$secret" --allow-sha1 \
          --server-pid "$pid" -c "$c" -s "$RUN_SECONDS" --pool "$SCEPSERVER_POOL"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        # What the depot holds: certificates written, and how many distinct serials.
        python3 - "$depot/index.txt" >"$R/scepserver-c$c-depot.json" <<'EOF'
import json, sys
lines = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
print(json.dumps({"index_lines": len(lines), "distinct_serials": len({l[3] for l in lines if len(l) > 3})}))
EOF
        cat "$R/scepserver-c$c-depot.json"
        ;;
      *) fail "unknown server $server" ;;
    esac
  done
done
unset ENROLLD_RATE_LIMIT

section "crypto cost of one enrolment (after the rows)"
drive scep-floor-after scep-floor --seconds 0.5
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/machine.txt"

section "report"
python3 - "$R" "$BENCH_OUT" "$CONCURRENCY" "$SCEP_SERVERS" <<'EOF'
import json, os, sys

raw, out, conc, servers = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
START = "<!-- bench-scep.sh: generated from here -->"
END = "<!-- bench-scep.sh: generated up to here -->"
NAMES = {"enrolld": "enrolld (P-256 CA)", "enrolld-rsa": "enrolld (RSA-2048 CA)", "scepserver": "scepserver 2.1.0"}

def load(name):
    p = os.path.join(raw, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None

def fmt(v, digits=0):
    return f"{v:,.{digits}f}"

L = []
a = L.append
a(START)
a("")
a("```")
a(open(os.path.join(raw, "machine.txt")).read().rstrip())
a("```")
a("")
a("| server | C | enrolments/s | p50 ms | p99 ms | failed | repeated serials | server cores busy | server CPU ms / enrolment | driver CPU s |")
a("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = {}
for c in conc:
    for s in servers:
        r = load(f"{s}-c{c}")
        if r is None:
            continue
        rows[(s, c)] = r
        sv = r.get("server", {})
        failed = r["error_count"] + sum(r["certificates_checked"]["failed"].values())
        note = " (clients ran out of messages)" if r["clients_out_of_work"] else ""
        a(f"| {NAMES.get(s, s)} | {c} | {fmt(r['enrolments_per_sec'])}{note} | "
          f"{r['latency_us']['p50'] / 1000:.1f} | {r['latency_us']['p99'] / 1000:.1f} | {failed} of {r['http_requests']} | "
          f"{r['certificates_checked']['repeated_serials']} | "
          f"{sv.get('cpu_cores_busy', '?')} | {sv.get('cpu_ms_per_enrolment', '?')} | {r.get('driver_cpu_seconds', '?')} |")
a("")
peer = "scepserver"
if any(k[0] == peer for k in rows):
    a("| C | server | enrolments/s ÷ scepserver's | p99 ÷ scepserver's | CPU per enrolment ÷ scepserver's |")
    a("|---:|---|---:|---:|---:|")
    for c in conc:
        p = rows.get((peer, c))
        if not p:
            continue
        for s in servers:
            r = rows.get((s, c))
            if s == peer or not r:
                continue
            ratio = r["enrolments_per_sec"] / p["enrolments_per_sec"] if p["enrolments_per_sec"] else float("inf")
            p99 = r["latency_us"]["p99"] / p["latency_us"]["p99"] if p["latency_us"]["p99"] else float("nan")
            cpu = (r["server"]["cpu_ms_per_enrolment"] / p["server"]["cpu_ms_per_enrolment"]
                   if p.get("server", {}).get("cpu_ms_per_enrolment") else float("nan"))
            a(f"| {c} | {NAMES.get(s, s)} | {ratio:.2f}× | {p99:.2f} | {cpu:.2f} |")
    a("")
    for c in conc:
        d = load(f"scepserver-c{c}-depot")
        if d:
            a(f"- scepserver, C={c}: {d['index_lines']:,} certificates in its depot's index.txt, "
              f"{d['distinct_serials']:,} distinct serials among them.")
    a("")
fb, fa = load("scep-floor-before"), load("scep-floor-after")
if fb and fa:
    a("Server-side crypto of one enrolment, aws-lc-rs, one core (`enrolld-bench scep-floor`; before / after the rows):")
    a("")
    a("| operation | per core per second | ms |")
    a("|---|---:|---:|")
    for k in fb["per_core_per_sec"]:
        b, e = fb["per_core_per_sec"][k], fa["per_core_per_sec"][k]
        a(f"| `{k}` | {fmt(b)} / {fmt(e)} | {1000 / b:.3f} / {1000 / e:.3f} |")
    a("")
    a("| per enrolment | CPU ms, one core | floor on all cores, /s |")
    a("|---|---:|---:|")
    for k in fb["per_enrolment_cpu_ms"]:
        a(f"| `{k}` | {fb['per_enrolment_cpu_ms'][k]} / {fa['per_enrolment_cpu_ms'][k]} | "
          f"{fmt(fb['floor_per_sec'][k])} / {fmt(fa['floor_per_sec'][k])} |")
    a("")
a("<details><summary>raw reports (JSON)</summary>")
a("")
a("```")
for name in sorted(os.listdir(raw)):
    if name.endswith(".json"):
        a(f"{name[:-5]}: " + json.dumps(json.load(open(os.path.join(raw, name))), sort_keys=True))
a("```")
a("</details>")
a("")
a(END)
generated = "\n".join(L) + "\n"
print(generated)

old = open(out).read() if os.path.exists(out) else "# Benchmarks\n"
if START in old and END in old:
    tail = old[old.index(END) + len(END):].lstrip("\n")
    new = old[: old.index(START)] + generated + ("\n" + tail if tail else "")
else:
    new = old.rstrip("\n") + "\n\n## SCEP\n\n" + generated
with open(out, "w") as f:
    f.write(new)
print(f"written to {out}")
EOF
