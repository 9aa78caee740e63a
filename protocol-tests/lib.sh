# shellcheck shell=bash
# Shared helpers for the real-client protocol tests. Source it from a test script that runs
# under `set -euo pipefail`; it is not a test itself (run.sh skips it).
#
# What it gives a script:
#   - a scratch directory $WORK, removed on exit together with every server started here;
#   - start_server / stop_server / kill9_server: one enrolld at a time, bound to 127.0.0.1:0,
#     its port read from the start-up banner (no port guessing, so no races);
#   - http, est_post, make_credential: curl with the server's CA bundle;
#   - fail, pass and assert_*: every failed check prints what was expected and what was seen,
#     plus the tail of the server log, and exits non-zero.
#
# The binary is $ENROLLD_BIN (default target/debug/enrolld, relative to the repository root).

shopt -s inherit_errexit
# A command that fails outside an assertion still says where, instead of exiting silently.
set -E
trap 'echo "FAIL: exit status $? at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENROLLD_BIN=${ENROLLD_BIN:-target/debug/enrolld}
case $ENROLLD_BIN in
  /*) ;;
  *) ENROLLD_BIN=$REPO_ROOT/$ENROLLD_BIN ;;
esac

# The current server: set by start_server, cleared by stop_server / kill9_server.
SERVER_PID=
SERVER_DIR=
SERVER_LOG=
SERVER_PORT=
BASE_URL=
EST_URL=
STATUS_URL=
# Every server process started by this script, so the exit trap can reap them all.
ALL_SERVER_PIDS=()
# Every client process started by run_client (certbot, lego …), reaped the same way, so a
# client that still holds a challenge port never outlives the script.
ALL_CLIENT_PIDS=()

# --- reporting ------------------------------------------------------------------------------

# fail MESSAGE: report a failed check, show the end of the server log, exit 1.
fail() {
  echo "FAIL: $*" >&2
  if [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ]; then
    echo "--- last lines of the server log ($SERVER_LOG) ---" >&2
    tail -n 25 "$SERVER_LOG" | sed 's/\x1b\[[0-9;]*m//g' >&2
    echo "--- end of server log ---" >&2
  fi
  exit 1
}

# pass MESSAGE: report a passed check.
pass() {
  echo "ok - $*"
}

# section TITLE: a heading in the output, so a failure is easy to place.
section() {
  echo
  echo "# $*"
}

# --- assertions -----------------------------------------------------------------------------

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
  if [ "$1" != "$2" ]; then
    fail "$3: expected [$1], got [$2]"
  fi
  pass "$3"
}

# assert_ne UNEXPECTED ACTUAL WHAT
assert_ne() {
  if [ "$1" = "$2" ]; then
    fail "$3: expected something other than [$1]"
  fi
  pass "$3"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
  case $1 in
    *"$2"*) pass "$3" ;;
    *) fail "$3: expected to find [$2] in [$1]" ;;
  esac
}

# assert_not_contains HAYSTACK NEEDLE WHAT
assert_not_contains() {
  case $1 in
    *"$2"*) fail "$3: did not expect [$2] in [$1]" ;;
    *) pass "$3" ;;
  esac
}

# assert_status EXPECTED ACTUAL OUT WHAT: an HTTP status from `http`; OUT is its output prefix,
# whose body is shown on mismatch.
assert_status() {
  local expected=$1 actual=$2 out=$3 what=$4
  if [ "$expected" != "$actual" ]; then
    local body=""
    [ -f "$out.body" ] && body=$(head -c 600 "$out.body")
    if [ "$actual" = "000" ]; then
      fail "$what: expected HTTP $expected, but curl did not complete the request ($(cat "$out.curlerr" 2>/dev/null))"
    fi
    fail "$what: expected HTTP $expected, got HTTP $actual; body: $body"
  fi
  pass "$what (HTTP $actual)"
}

# header OUT NAME: the value of response header NAME (case-insensitive), CR stripped.
header() {
  local out=$1 name=$2
  tr -d '\r' <"$out.headers" | awk -v n="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')" '
    { line = $0; i = index(line, ":"); if (i == 0) next
      if (tolower(substr(line, 1, i - 1)) == n) { v = substr(line, i + 1); sub(/^[ \t]+/, "", v); print v } }'
}

# assert_file_contains FILE NEEDLE WHAT: like assert_contains, but a failure shows only the
# end of FILE (client logs are long).
assert_file_contains() {
  [ -f "$1" ] || fail "$3: $1 does not exist"
  if grep -qF -- "$2" "$1"; then
    pass "$3"
  else
    fail "$3: expected to find [$2] in $1, whose last lines are:
$(tail -n 15 "$1")"
  fi
}

# assert_file_lacks FILE NEEDLE WHAT
assert_file_lacks() {
  [ -f "$1" ] || fail "$3: $1 does not exist"
  if grep -qF -- "$2" "$1"; then
    fail "$3: did not expect [$2] in $1: $(grep -F -m 3 -- "$2" "$1")"
  fi
  pass "$3"
}

# assert_header OUT NAME EXPECTED_SUBSTRING WHAT
assert_header() {
  local value
  value=$(header "$1" "$2")
  [ -n "$value" ] || fail "$4: response has no $2 header; headers: $(tr -d '\r' <"$1.headers" | tr '\n' '|')"
  assert_contains "$value" "$3" "$4"
}

# --- environment ----------------------------------------------------------------------------

# need TOOL...: the tools must exist; a missing tool is a failure, never a skip.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is not installed"
  done
}

need curl openssl base64 awk sed mktemp
[ -x "$ENROLLD_BIN" ] || fail "enrolld binary not found at $ENROLLD_BIN (build it with cargo build, or set ENROLLD_BIN)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/enrolld-protocol.XXXXXX")

cleanup() {
  local pid
  for pid in "${ALL_CLIENT_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      # `timeout` passes the signal on to the client it runs.
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${ALL_SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
# Turn signals into an ordinary exit so the EXIT trap still reaps servers and scratch files.
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the server -----------------------------------------------------------------------------

# start_server DATA_DIR [EXTRA_ARGS...]: runs `enrolld serve` on 127.0.0.1:0 and waits until
# /healthz answers. Without --config the embedded default also serves CRL, OCSP and CA
# certificates over plain HTTP, here on 127.0.0.1:0 too. Sets SERVER_PID, SERVER_DIR,
# SERVER_LOG, SERVER_PORT, BASE_URL, EST_URL, and STATUS_URL (the status base URL certificates
# name, from the banner).
start_server() {
  local dir=$1
  shift
  [ -z "$SERVER_PID" ] || fail "start_server: a server (pid $SERVER_PID) is already running"
  SERVER_DIR=$dir
  SERVER_LOG=$WORK/server.$(basename "$dir").$((${#ALL_SERVER_PIDS[@]} + 1)).log
  # Created here, not by the background job's redirection, so it exists before we read it.
  : >"$SERVER_LOG"
  local plain=(--http-listen 127.0.0.1:0)
  case " $* " in *" --config "*) plain=() ;; esac
  "$ENROLLD_BIN" serve --data-dir "$dir" --listen 127.0.0.1:0 "${plain[@]}" "$@" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  ALL_SERVER_PIDS+=("$SERVER_PID")

  # The banner prints the base URL with the port actually bound.
  local deadline=$((SECONDS + 30))
  SERVER_PORT=
  while [ -z "$SERVER_PORT" ]; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "enrolld exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || fail "enrolld did not print its base URL within 30 s"
    SERVER_PORT=$(sed -n 's|^ *base URL: *https://[^:/]*:\([0-9][0-9]*\).*|\1|p' "$SERVER_LOG" | head -n 1)
    [ -n "$SERVER_PORT" ] || sleep 0.1
  done
  BASE_URL=https://localhost:$SERVER_PORT
  EST_URL=$BASE_URL/.well-known/est
  STATUS_URL=$(sed -n 's|^ *CRL: *\(.*\)/crl/issuing.crl$|\1|p' "$SERVER_LOG" | head -n 1)

  local code
  while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "enrolld exited during start-up"
    code=$(curl_tls -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/healthz" || true)
    [ "$code" = 200 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "/healthz did not answer 200 within 30 s (last: $code)"
    sleep 0.1
  done
  pass "server up on port $SERVER_PORT (data dir $(basename "$dir"))"
}

# stop_server: SIGTERM, then require a clean exit (status 0) within 10 seconds.
stop_server() {
  [ -n "$SERVER_PID" ] || fail "stop_server: no server running"
  kill -TERM "$SERVER_PID"
  local deadline=$((SECONDS + 10))
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "enrolld did not exit within 10 s of SIGTERM"
    sleep 0.1
  done
  local rc=0
  wait "$SERVER_PID" || rc=$?
  [ "$rc" = 0 ] || fail "enrolld exited with status $rc after SIGTERM (expected 0)"
  pass "server stopped by SIGTERM with exit status 0"
  SERVER_PID=
}

# kill9_server: SIGKILL, no chance to flush anything.
kill9_server() {
  [ -n "$SERVER_PID" ] || fail "kill9_server: no server running"
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# --- HTTP -----------------------------------------------------------------------------------

# curl_tls ARGS...: curl trusting only the current server's CA bundle, straight to 127.0.0.1.
curl_tls() {
  curl --noproxy '*' --cacert "$SERVER_DIR/ca-bundle.pem" \
    --resolve "localhost:$SERVER_PORT:127.0.0.1" "$@"
}

# http OUT CURL_ARGS...: one request; body in OUT.body, headers in OUT.headers, curl's own
# errors in OUT.curlerr. Prints the status code (000 when curl could not complete it).
http() {
  local out=$1
  shift
  rm -f "$out.body" "$out.headers" "$out.curlerr"
  curl_tls -sS --max-time 60 -o "$out.body" -D "$out.headers" -w '%{http_code}' "$@" \
    2>"$out.curlerr" || true
}

# est_post OUT PATH DER_FILE [CURL_ARGS...]: POSTs the base64 of DER_FILE to $EST_URL/PATH as
# application/pkcs10. Prints the status code.
est_post() {
  local out=$1 path=$2 der=$3
  shift 3
  base64 "$der" >"$out.req"
  http "$out" -X POST -H 'Content-Type: application/pkcs10' --data-binary "@$out.req" "$@" \
    "$EST_URL/$path"
}

# admin_token: the bootstrap admin bearer token of the current server.
admin_token() {
  tr -d '\r\n' <"$SERVER_DIR/admin-token"
}

# make_credential JSON: creates an EST enrolment credential, prints "username:password".
make_credential() {
  local out=$WORK/credential code user pass
  code=$(http "$out" -X POST -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/json' --data-binary "$1" "$BASE_URL/api/v1/est/credentials")
  [ "$code" = 201 ] || fail "creating credential $1: expected HTTP 201, got $code: $(head -c 400 "$out.body")"
  user=$(sed -n 's/.*"username":"\([^"]*\)".*/\1/p' "$out.body")
  pass=$(sed -n 's/.*"password":"\([^"]*\)".*/\1/p' "$out.body")
  [ -n "$user" ] && [ -n "$pass" ] || fail "credential response lacks username/password: $(cat "$out.body")"
  printf '%s:%s\n' "$user" "$pass"
}

# get_certificate OUT SERIAL: GET /api/v1/certificates/SERIAL; prints the status code.
get_certificate() {
  http "$1" -H "Authorization: Bearer $(admin_token)" "$BASE_URL/api/v1/certificates/$2"
}

# json_string FILE KEY: the value of a top-level string field of a flat JSON document.
json_string() {
  sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"
}

# --- certificates ---------------------------------------------------------------------------

# certs_from_pkcs7 OUT_PEM: decodes a base64 certs-only body on stdin into PEM certificates.
certs_from_pkcs7() {
  local tmp=$1.p7.der
  base64 -d >"$tmp" || fail "certs-only body is not valid base64"
  openssl pkcs7 -inform DER -in "$tmp" -print_certs -out "$1" 2>"$1.err" ||
    fail "certs-only body is not a PKCS#7 structure: $(cat "$1.err")"
}

# cert_count PEM: how many certificates the file holds.
cert_count() {
  grep -c -- '-----BEGIN CERTIFICATE-----' "$1" || true
}

# serial_of PEM: the serial in lower-case hex, as the admin API names it.
serial_of() {
  openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr '[:upper:]' '[:lower:]'
}

# pubkey_of_cert PEM / pubkey_of_key KEY: the SubjectPublicKeyInfo as PEM, for comparison.
pubkey_of_cert() {
  openssl x509 -in "$1" -noout -pubkey
}
pubkey_of_key() {
  openssl pkey -in "$1" -pubout
}

# key_args KIND: the `openssl req -newkey` arguments for a key kind.
key_args() {
  case $1 in
    p256) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
    p384) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-384" ;;
    rsa1024) echo "-newkey rsa:1024" ;;
    rsa2048) echo "-newkey rsa:2048" ;;
    rsa3072) echo "-newkey rsa:3072" ;;
    ed25519) echo "-newkey ed25519" ;;
    *) fail "key_args: unknown key kind $1" ;;
  esac
}

# new_key_csr KIND BASE SUBJECT [REQ_ARGS...]: a fresh key in BASE.key and a DER CSR in BASE.der.
new_key_csr() {
  local kind=$1 base=$2 subj=$3 args
  shift 3
  args=$(key_args "$kind")
  # shellcheck disable=SC2086 # key_args is a word list on purpose
  openssl req -new $args -nodes -keyout "$base.key" -subj "$subj" "$@" \
    -outform DER -out "$base.der" 2>"$base.err" ||
    fail "openssl req could not make a $kind CSR: $(cat "$base.err")"
}

# csr_with_key KEY BASE SUBJECT [REQ_ARGS...]: a DER CSR for an existing key in BASE.der.
csr_with_key() {
  local key=$1 base=$2 subj=$3
  shift 3
  openssl req -new -key "$key" -subj "$subj" "$@" -outform DER -out "$base.der" 2>"$base.err" ||
    fail "openssl req could not make a CSR: $(cat "$base.err")"
}

# fingerprints PEM: the SHA-256 fingerprints of every certificate in the file, sorted.
fingerprints() {
  local dir c
  dir=$(mktemp -d "$WORK/fp.XXXXXX")
  awk -v d="$dir" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/" n ".pem") }' "$1"
  for c in "$dir"/*.pem; do
    [ -e "$c" ] || continue
    openssl x509 -in "$c" -noout -fingerprint -sha256
  done | sort
}

# ext_values PEM EXTENSION: the value lines of one extension (e.g. extendedKeyUsage), trimmed.
ext_values() {
  openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | sed '1d; s/^ *//'
}

# subject_of PEM: the subject as openssl prints it.
subject_of() {
  openssl x509 -in "$1" -noout -subject
}

# --- ACME -----------------------------------------------------------------------------------

# free_port: a TCP port on 127.0.0.1 that nothing uses right now, for a challenge responder
# whose port the server must know before it starts. It is drawn below the kernel's ephemeral
# range, so no outgoing connection or port-0 listener can take it before the client binds it.
free_port() {
  python3 - <<'PY' || fail "free_port: no free port found"
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
candidates = list(range(20000, low)) if low > 21000 else []
random.shuffle(candidates)
for port in candidates[:200] + [0]:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        break
else:
    raise SystemExit(1)
PY
}

# acme_test_config FILE HTTP_PORT: a server configuration whose validator checks http-01 on
# 127.0.0.1:HTTP_PORT (test-only settings; the server warns at start).
acme_test_config() {
  printf '[acme.validation]\nhttp_port = %s\nallow_private_addresses = true\n' "$2" >"$1"
}

# make_eab_key JSON: creates an ACME EAB key (POST /api/v1/acme/eab); sets EAB_KID, EAB_HMAC.
make_eab_key() {
  local out=$WORK/eab code
  code=$(http "$out" -X POST -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/json' --data-binary "$1" "$BASE_URL/api/v1/acme/eab")
  [ "$code" = 201 ] || fail "creating EAB key $1: expected HTTP 201, got $code: $(head -c 400 "$out.body")"
  EAB_KID=$(json_string "$out.body" kid)
  EAB_HMAC=$(json_string "$out.body" hmac_key)
  [ -n "$EAB_KID" ] && [ -n "$EAB_HMAC" ] || fail "EAB key response lacks kid/hmac_key: $(cat "$out.body")"
}

# CLIENT_TIMEOUT: seconds one client command may take before it is killed and the test fails.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-60}

# run_client OUT COMMAND...: runs a client with no stdin, stdout and stderr in OUT, bounded by
# CLIENT_TIMEOUT, reaped by the exit trap if the script dies first. Returns its exit status.
# Proxies are bypassed: the server is on this machine.
run_client() {
  local out=$1 rc=0
  shift
  NO_PROXY=localhost,127.0.0.1 no_proxy=localhost,127.0.0.1 \
    timeout --kill-after=5 "$CLIENT_TIMEOUT" "$@" </dev/null >"$out" 2>&1 &
  local pid=$!
  ALL_CLIENT_PIDS+=("$pid")
  wait "$pid" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    fail "$1 did not finish within $CLIENT_TIMEOUT s; its last output:
$(tail -n 15 "$out")"
  fi
  return "$rc"
}

# leaf_of PEM OUT: the first certificate of PEM (a client's bundle) alone in OUT.
leaf_of() {
  openssl x509 -in "$1" -out "$2" 2>"$2.err" || fail "$1 holds no certificate: $(cat "$2.err")"
}

# check_device_cert PEM NAME KEY WHAT: an ACME `device` certificate for the DNS name NAME:
# chains to the bundle for TLS client use, EKU exactly clientAuth, subject CN=NAME, the one SAN
# DNS:NAME, not a CA, and it certifies the P-256 key in KEY.
check_device_cert() {
  local pem=$1 name=$2 key=$3 what=$4 verdict
  verdict=$(openssl verify -CAfile "$SERVER_DIR/ca-bundle.pem" -purpose sslclient "$pem" 2>&1) ||
    fail "$what: openssl verify -purpose sslclient failed: $verdict"
  assert_eq "$pem: OK" "$verdict" "$what: openssl verify -purpose sslclient"
  assert_eq "TLS Web Client Authentication" "$(ext_values "$pem" extendedKeyUsage)" \
    "$what: EKU is clientAuth only"
  assert_eq "subject=CN = $name" "$(subject_of "$pem")" "$what: subject is CN=$name"
  assert_eq "DNS:$name" "$(ext_values "$pem" subjectAltName)" "$what: the only SAN is DNS:$name"
  assert_contains "$(ext_values "$pem" basicConstraints)" "CA:FALSE" "$what: basicConstraints CA:FALSE"
  assert_contains "$(openssl x509 -in "$pem" -noout -text)" "ASN1 OID: prime256v1" "$what: P-256 key"
  assert_eq "$(pubkey_of_key "$key")" "$(pubkey_of_cert "$pem")" "$what: certifies the client's key"
}

# check_chain_from_ca CHAIN WHAT: every certificate in CHAIN (the issuer part a client saved)
# is one of the server's CA certificates.
check_chain_from_ca() {
  local fp bundle
  bundle=$(fingerprints "$SERVER_DIR/ca-bundle.pem")
  [ "$(cert_count "$1")" -ge 1 ] || fail "$2: $1 holds no certificate"
  while IFS= read -r fp; do
    case $'\n'$bundle$'\n' in
      *$'\n'"$fp"$'\n'*) ;;
      *) fail "$2: $1 holds a certificate that is not in ca-bundle.pem ($fp)" ;;
    esac
  done < <(fingerprints "$1")
  pass "$2"
}

# check_acme_record SERIAL STATUS PROFILE SUBJECT [REASON]: the admin API's view of a
# certificate issued over ACME.
check_acme_record() {
  local serial=$1 out=$WORK/record code
  code=$(get_certificate "$out" "$serial")
  assert_status 200 "$code" "$out" "admin API knows serial $serial"
  assert_eq acme "$(json_string "$out.body" channel)" "record $serial: channel"
  assert_eq "$2" "$(json_string "$out.body" status)" "record $serial: status"
  assert_eq "$3" "$(json_string "$out.body" profile)" "record $serial: profile"
  assert_eq "$4" "$(json_string "$out.body" subject)" "record $serial: subject"
  if [ $# -ge 5 ]; then
    assert_eq "$5" "$(json_string "$out.body" revocation_reason)" "record $serial: revocation reason"
  fi
}

# set_renewal_window SERIAL START END: moves the ARI (RFC 9773) window of one certificate
# (POST /api/v1/acme/renewal-window; RFC 3339 times).
set_renewal_window() {
  local out=$WORK/window code
  code=$(http "$out" -X POST -H "Authorization: Bearer $(admin_token)" -H 'Content-Type: application/json' \
    --data-binary "{\"serials\":[\"$1\"],\"start\":\"$2\",\"end\":\"$3\"}" "$BASE_URL/api/v1/acme/renewal-window")
  assert_status 200 "$code" "$out" "ARI window of $1 moved to $2 .. $3"
}
