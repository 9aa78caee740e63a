#!/usr/bin/env bash
# The full benchmark run of issue 7: builds the release binaries, measures the crypto floor,
# a CRL of 100,000 entries and a store of STARTUP_ENTRIES certificates in-process, then starts
# `enrolld serve` with ENROLLD_RATE_LIMIT=off and runs the OCSP, EST and ACME workloads at
# C=16 and C=64, and writes the figures into docs/benchmarks.md (between the "generated"
# markers; text outside them is kept). Not a test: run.sh skips it. About 11 minutes on
# 2 cores.
#
#   protocol-tests/bench-full.sh
#   RUN_SECONDS=15 STARTUP_ENTRIES=1000000 BENCH_NO_BUILD=1 BENCH_OUT=docs/benchmarks.md \
#     protocol-tests/bench-full.sh
#   BENCH_ONLY=peers RUN_SECONDS=5 BENCH_OUT=/tmp/peers.md protocol-tests/bench-full.sh
#
# BENCH_ONLY=peers runs only what the peer comparison needs: enrolld's pre-authorised ACME
# rows, then the http-01 part (enrolld, Pebble, Caddy); the report leaves out what was not run.
# BENCH_PEERS=0 skips the peers.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_SECONDS=${RUN_SECONDS:-15}
STARTUP_ENTRIES=${STARTUP_ENTRIES:-1000000}
CRL_ENTRIES=${CRL_ENTRIES:-100000}
BENCH_OUT=${BENCH_OUT:-docs/benchmarks.md}
BENCH_ONLY=${BENCH_ONLY:-}
case $BENCH_ONLY in
  '' | peers) ;;
  *) echo "BENCH_ONLY must be empty or 'peers'" >&2; exit 2 ;;
esac

if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  cargo build --release --locked --bins
fi
export ENROLLD_BIN=${ENROLLD_BIN:-target/release/enrolld}
BENCH_BIN=${ENROLLD_BENCH_BIN:-target/release/enrolld-bench}
# shellcheck source=protocol-tests/lib.sh
. protocol-tests/lib.sh
need python3 du nproc lscpu free
case $BENCH_BIN in
  /*) ;;
  *) BENCH_BIN=$REPO_ROOT/$BENCH_BIN ;;
esac
[ -x "$BENCH_BIN" ] || fail "enrolld-bench not found at $BENCH_BIN"

R=$WORK/results
mkdir -p "$R"
COMMANDS=$R/commands.txt
: >"$COMMANDS"

# bench NAME ARGS...: runs enrolld-bench ARGS, keeps its JSON in $R/NAME.json and the command.
bench() {
  local name=$1
  shift
  echo "enrolld-bench $*" | sed "s|$WORK|\$WORK|g" >>"$COMMANDS"
  echo "--- $name: enrolld-bench $*"
  "$BENCH_BIN" "$@" >"$R/$name.json" 2>"$R/$name.err" ||
    fail "enrolld-bench $name failed: $(tail -n 20 "$R/$name.err")"
  cat "$R/$name.json"
}

section "machine"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "nproc: $(nproc)"
  echo "kernel: $(uname -sr)"
  echo "rustc: $(rustc --version 2>/dev/null || echo '?')"
  echo "filesystem of the data directory: $(df -T "$WORK" | awk 'NR==2 {print $2}')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$R/machine.txt"
lscpu | head -n 20 >"$R/lscpu.txt"
free -h >"$R/memory.txt"
cat "$R/machine.txt"

if [ "$BENCH_ONLY" != peers ]; then
  section "in-process: floor, CRL, store at size"
  bench floor floor --seconds 2
  bench crl crl --entries "$CRL_ENTRIES"
  bench store crl --entries "$STARTUP_ENTRIES" --revoked 1000
fi

section "server (rate limits off)"
export ENROLLD_RATE_LIMIT=off
start_server "$WORK/data"
echo "ENROLLD_RATE_LIMIT=off enrolld serve --data-dir \$WORK/data --listen 127.0.0.1:0" >>"$COMMANDS"

issued=0
workloads=(ocsp est acme)
# The peers are compared with enrolld's pre-authorised ACME rows of the same run.
[ "$BENCH_ONLY" != peers ] || workloads=(acme)
for c in 16 64; do
  for w in "${workloads[@]}"; do
    extra=()
    case $w in
      # Enough prepared work that no client runs out: EST credentials cost the server a
      # store write each, so they are made for a rate well above what was measured so far.
      est) extra=(--pool $((RUN_SECONDS * 8000))) ;;
      acme) extra=(--pool $((RUN_SECONDS * 3000))) ;;
    esac
    # The machine's speed drifts (a shared VM: the floor moved by a quarter within minutes),
    # so EST and ACME rows are also compared with floors measured right before and after them.
    [ "$w" = ocsp ] || bench "floor-before-$w-c$c" floor --seconds 1
    bench "$w-c$c" "$w" --url "$BASE_URL" --ca-bundle "$SERVER_DIR/ca-bundle.pem" \
      --admin-token "$SERVER_DIR/admin-token" --server-pid "$SERVER_PID" \
      -c "$c" -s "$RUN_SECONDS" "${extra[@]}"
    [ "$w" = ocsp ] || bench "floor-after-$w-c$c" floor --seconds 1
    # Certificates this run added to the store (OCSP's are its setup enrolments).
    n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["good_serials"]+r["revoked_serials"] if r["workload"]=="ocsp-get" else r["completed"])' "$R/$w-c$c.json")
    issued=$((issued + n))
  done
done

if [ "$BENCH_ONLY" = peers ]; then
  stop_server
else
  section "server: store size and restart"
  # Setup work stays in the store too: EST credentials that were never used, EAB keys, accounts.
  store_bytes=$(du -sb "$SERVER_DIR/store" | cut -f1)
  stop_server
  t0=$(date +%s.%N)
  start_server "$WORK/data"
  t1=$(date +%s.%N)
  stop_server
  python3 - "$R/server.json" "$store_bytes" "$issued" "$t0" "$t1" <<'EOF'
import json, sys
out, store_bytes, issued, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
json.dump({"store_bytes": store_bytes, "certificates_issued": issued,
           "store_bytes_per_certificate": round(store_bytes / max(issued, 1)),
           "restart_to_healthz_seconds": round(t1 - t0, 2)}, open(out, "w"))
EOF
  cat "$R/server.json"
  echo
fi

section "ACME with http-01: enrolld, Pebble and Caddy (peers)"
# Like with like: the same driver proves each name over http-01 on a port it serves, and one
# mock DNS (pebble-challtestsrv) resolves every name to 127.0.0.1 for every validator. Caddy
# 2.6.2 validates on port 80 and has no resolver setting (`resolvers` came in 2.7), so it runs
# in a private mount namespace whose /etc/resolv.conf names the mock DNS on 127.0.0.1:53; the
# machine's own /etc is never changed.
if [ "${BENCH_PEERS:-1}" = 1 ] && ! command -v pebble >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq pebble >/dev/null 2>&1 || echo "could not install Debian's pebble"
fi
if [ "${BENCH_PEERS:-1}" = 1 ] && ! command -v caddy >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # Debian's package starts a caddy.service on :80 after installing; a policy-rc.d that
  # refuses service starts keeps it from running (removed again at once, or by the exit trap).
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d; cleanup' EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  apt-get install -y -qq caddy >/dev/null 2>&1 || echo "could not install Debian's caddy"
  if [ -n "$policy" ]; then
    rm -f "$policy"
    trap cleanup EXIT
  fi
fi
if [ "${BENCH_PEERS:-1}" = 1 ] && command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; then
  port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
  # bindable PORT: nothing listens on 127.0.0.1:PORT, TCP or UDP.
  bindable() {
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", int(sys.argv[1])))
EOF
  }
  # Caddy needs: the binary, root (port 80, a mount namespace), 80 and 53 free on 127.0.0.1.
  caddy_skip=
  if ! command -v caddy >/dev/null 2>&1; then
    caddy_skip="caddy is not installed"
  elif [ "$(id -u)" != 0 ]; then
    caddy_skip="not root (Caddy validates on port 80 and runs in a mount namespace)"
  elif ! command -v unshare >/dev/null 2>&1 || ! unshare --mount true 2>/dev/null; then
    caddy_skip="no mount namespace (unshare --mount)"
  elif ! bindable 80; then
    caddy_skip="port 80 on 127.0.0.1 is taken"
  elif ! bindable 53; then
    caddy_skip="port 53 on 127.0.0.1 is taken (Caddy's resolver reaches the mock DNS there)"
  fi
  dns_port=$(port)
  dns_binds=127.0.0.1:$dns_port
  [ -n "$caddy_skip" ] || dns_binds=$dns_binds,127.0.0.1:53
  pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "$dns_binds" \
    -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$(port)" >"$WORK/challtestsrv.log" 2>&1 &
  ALL_SERVER_PIDS+=("$!")
  echo "pebble-challtestsrv -dns01 127.0.0.1:\$DNS_PORT$([ -n "$caddy_skip" ] || echo ',127.0.0.1:53') (every name → 127.0.0.1)" >>"$COMMANDS"
  http01_port=$(port)

  # enrolld: EAB keys allow the names only after an http-01 challenge (test-only validator).
  printf '[acme.validation]\nhttp_port = %s\nallow_private_addresses = true\ndns_resolver = "127.0.0.1:%s"\n' \
    "$http01_port" "$dns_port" >"$WORK/http01.toml"
  export ENROLLD_RATE_LIMIT=off
  start_server "$WORK/data-http01" --config "$WORK/http01.toml"
  echo "ENROLLD_RATE_LIMIT=off enrolld serve --config http01.toml  # [acme.validation] http_port, allow_private_addresses, dns_resolver = the mock DNS" >>"$COMMANDS"
  for c in 16 64; do
    bench "acme-http01-c$c" acme --url "$BASE_URL" --ca-bundle "$SERVER_DIR/ca-bundle.pem" \
      --admin-token "$SERVER_DIR/admin-token" --server-pid "$SERVER_PID" \
      -c "$c" -s "$RUN_SECONDS" --pool $((RUN_SECONDS * 1500)) --http01-port "$http01_port"
  done
  stop_server

  # Pebble and Caddy serve TLS with a certificate from a throw-away CA.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/peer-ca.key" \
    -out "$WORK/peer-ca.crt" -subj /CN=bench-peer-CA -days 2 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/pebble.key" \
    -out "$WORK/pebble.csr" -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$WORK/pebble.ext"
  openssl x509 -req -in "$WORK/pebble.csr" -CA "$WORK/peer-ca.crt" -CAkey "$WORK/peer-ca.key" \
    -CAcreateserial -out "$WORK/pebble.crt" -days 2 -extfile "$WORK/pebble.ext" 2>/dev/null

  # Pebble 2.4.0 (Debian).
  pebble_port=$(port)
  cat >"$WORK/pebble.json" <<EOF2
{"pebble": {"listenAddress": "127.0.0.1:$pebble_port", "managementListenAddress": "127.0.0.1:$(port)",
 "certificate": "$WORK/pebble.crt", "privateKey": "$WORK/pebble.key", "httpPort": $http01_port,
 "tlsPort": $(port), "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF2
  # run_pebble NAME AUTHZREUSE C [DRIVER ARGS...]: a fresh Pebble per run (2.4.0 can deadlock
  # under concurrent load; a stalled run ends in request timeouts and reports how far it got).
  run_pebble() {
    local name=$1 reuse=$2 c=$3 pid
    shift 3
    : >"$WORK/$name.log" # exists before the wait below reads it
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=$reuse \
      pebble -config "$WORK/pebble.json" -dnsserver "127.0.0.1:$dns_port" >"$WORK/$name.log" 2>&1 &
    pid=$!
    ALL_SERVER_PIDS+=("$pid")
    echo "PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=$reuse pebble -config pebble.json -dnsserver <mock DNS>" >>"$COMMANDS"
    local deadline=$((SECONDS + 20))
    until grep -q "Listening on" "$WORK/$name.log"; do
      kill -0 "$pid" 2>/dev/null || fail "pebble exited: $(tail -n 5 "$WORK/$name.log")"
      [ "$SECONDS" -lt "$deadline" ] || fail "pebble did not start"
      sleep 0.1
    done
    bench "$name" acme --url "https://localhost:$pebble_port" --ca-bundle "$WORK/peer-ca.crt" \
      --directory /dir --no-eab --http01-port "$http01_port" --server-pid "$pid" \
      --request-timeout 5 -c "$c" -s "$RUN_SECONDS" --pool $((RUN_SECONDS * 1500)) "$@"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  }
  run_pebble pebble-http01-c4 0 4
  run_pebble pebble-http01-c16 0 16
  run_pebble pebble-reuse-c4 100 4 --names 4
  run_pebble pebble-reuse-c16 100 16 --names 4

  # Caddy (Debian): its `acme_server` handler (smallstep's ACME code) on an internal CA named
  # "bench", served over TLS on 127.0.0.1 with the throw-away certificate; admin API off.
  # It proves every name over http-01 on port 80, which the driver answers.
  if [ -z "$caddy_skip" ]; then
    caddy version | head -n 1 >"$R/caddy-version.txt"
    caddy_port=$(port)
    printf 'nameserver 127.0.0.1\n' >"$WORK/caddy-resolv.conf"
    # run_caddy NAME C: a fresh Caddy with fresh data (CA, ACME database) per run, like Pebble.
    run_caddy() {
      local name=$1 c=$2 pid home=$WORK/$1
      mkdir -p "$home/data" "$home/config"
      cat >"$home/caddy.json" <<EOF2
{"admin": {"disabled": true},
 "storage": {"module": "file_system", "root": "$home/data/caddy"},
 "apps": {
  "pki": {"certificate_authorities": {"bench": {"name": "bench", "install_trust": false}}},
  "tls": {"certificates": {"load_files": [{"certificate": "$WORK/pebble.crt", "key": "$WORK/pebble.key"}]}},
  "http": {"servers": {"acme": {"listen": ["127.0.0.1:$caddy_port"], "automatic_https": {"disable": true},
   "tls_connection_policies": [{}],
   "routes": [{"handle": [{"handler": "acme_server", "ca": "bench"}]}]}}}}}
EOF2
      # The namespace's bind mount goes away with the process; exec keeps $! the caddy pid.
      # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
      HOME=$home XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config \
        unshare --mount sh -c 'mount --bind "$1" /etc/resolv.conf && exec caddy run --config "$2"' \
        sh "$WORK/caddy-resolv.conf" "$home/caddy.json" >"$WORK/$name.log" 2>&1 &
      pid=$!
      ALL_SERVER_PIDS+=("$pid")
      echo "unshare --mount sh -c 'mount --bind caddy-resolv.conf /etc/resolv.conf && exec caddy run --config caddy.json'  # Caddy $(cat "$R/caddy-version.txt"); resolv.conf: nameserver 127.0.0.1 (the mock DNS); HOME, XDG_DATA_HOME, XDG_CONFIG_HOME under \$WORK" >>"$COMMANDS"
      local deadline=$((SECONDS + 20))
      until curl -sf --noproxy '*' --cacert "$WORK/peer-ca.crt" --max-time 2 -o /dev/null \
        "https://localhost:$caddy_port/acme/bench/directory"; do
        kill -0 "$pid" 2>/dev/null || fail "caddy exited: $(tail -n 5 "$WORK/$name.log")"
        [ "$SECONDS" -lt "$deadline" ] || fail "caddy did not start"
        sleep 0.1
      done
      bench "$name" acme --url "https://localhost:$caddy_port" --ca-bundle "$WORK/peer-ca.crt" \
        --directory /acme/bench/directory --no-eab --http01-port 80 --server-pid "$pid" \
        --request-timeout 5 -c "$c" -s "$RUN_SECONDS" --pool $((RUN_SECONDS * 1500))
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    }
    run_caddy caddy-http01-c16 16
    run_caddy caddy-http01-c64 64
  else
    echo "Caddy skipped: $caddy_skip"
    echo "$caddy_skip" >"$R/caddy-skipped.txt"
  fi
else
  echo "peers skipped (BENCH_PEERS=0, or pebble / pebble-challtestsrv not installed)"
fi

section "docs"
cp "$R/machine.txt" "$R/machine.final.txt"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/machine.final.txt"
# The raw reports outlive the scratch directory (a failing report leaves them to rerun it:
# python3 protocol-tests/bench-report.py target/bench-results docs/benchmarks.md 15).
mkdir -p target && rm -rf target/bench-results && cp -r "$R" target/bench-results
python3 protocol-tests/bench-report.py "$R" "$BENCH_OUT" "$RUN_SECONDS"
pass "wrote $BENCH_OUT"
