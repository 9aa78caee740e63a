#!/usr/bin/env bash
# Mail through a real relay (tests/support/smtpd.py: Debian's aiosmtpd, STARTTLS on a test CA's
# certificate), with the enrolld binary: a relay that is down at start-up is a warning and the
# server serves; 100 pickup links queued for mail survive `kill -9` and arrive once each after
# the restart; no pickup link reaches the server's log (at debug level); a template that does
# not render, and a plaintext relay off this machine without allow_plaintext, stop the start.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"
need openssl curl
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null ||
  fail "Debian's python3-aiosmtpd is not installed (.ci/run installs it)"
export RUST_LOG=debug

section "a test CA and the relay's certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=mail test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$WORK/relay.key" -out "$WORK/relay.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$WORK/relay.ext"
openssl x509 -req -in "$WORK/relay.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 2 -extfile "$WORK/relay.ext" -out "$WORK/relay.pem" 2>/dev/null
pass "relay certificate for localhost"

RELAY_PORT=$(free_port)
RELAY_PID=
start_relay() {
  /usr/bin/python3 "$REPO_ROOT/tests/support/smtpd.py" --dir "$WORK/mail" --port "$RELAY_PORT" \
    --tls starttls --cert "$WORK/relay.pem" --key "$WORK/relay.key" >"$WORK/relay.out" 2>"$WORK/relay.err" &
  RELAY_PID=$!
  local deadline=$((SECONDS + 20))
  until grep -q '^listening' "$WORK/relay.out"; do
    kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay exited: $(cat "$WORK/relay.err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "the relay did not start"
    sleep 0.1
  done
}
trap '[ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null; cleanup' EXIT
mails() { find "$WORK/mail" -name '*.eml' 2>/dev/null | wc -l; }

cat >"$WORK/enrolld.toml" <<TOML
[mail]
relay = "localhost:$RELAY_PORT"
security = "starttls"
from = "Corp PKI <pki@corp.example>"
ca_file = "$WORK/ca.pem"
retry_initial_secs = 1
retry_max_secs = 2
TOML

section "the relay is down at start-up: a warning, and the server serves"
start_server "$WORK/data" --config "$WORK/enrolld.toml"
deadline=$((SECONDS + 30))
until grep -q "mail relay does not answer" "$SERVER_LOG"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no warning about the relay"
  sleep 0.2
done
pass "the log warns that the relay does not answer"

section "100 pickup links queued for mail, then kill -9"
rows=$(for i in $(seq 1 100); do printf '{"kind":"person","external_id":"M-%03d","display_name":"Person %03d","email":"m%03d@corp.example"},' "$i" "$i" "$i"; done)
code=$(http "$WORK/bulk" -X POST -H "Authorization: Bearer $(admin_token)" -H 'Content-Type: application/json' \
  --data-binary "[${rows%,}]" "$BASE_URL/api/v1/subjects/bulk")
assert_status 200 "$code" "$WORK/bulk" "100 people registered"
ids=$(grep -o '"id":"[^"]*"' "$WORK/bulk.body" | cut -d'"' -f4)
[ "$(echo "$ids" | wc -l)" = 100 ] || fail "expected 100 subject ids, got: $(head -c 300 "$WORK/bulk.body")"
n=0
for id in $ids; do
  code=$(http "$WORK/link" -X POST -H "Authorization: Bearer $(admin_token)" -H 'Content-Type: application/json' \
    --data-binary '{"kind":"pickup","deliver":"email"}' "$BASE_URL/api/v1/subjects/$id/credentials")
  [ "$code" = 201 ] || fail "mailed pickup link for $id: HTTP $code $(cat "$WORK/link.body")"
  if grep -q '/pickup/' "$WORK/link.body"; then fail "the API answer holds the link: $(cat "$WORK/link.body")"; fi
  n=$((n + 1))
done
assert_eq 100 "$n" "100 links queued for mail, none shown by the API"
code=$(http "$WORK/metrics" -H "Authorization: Bearer $(admin_token)" "$BASE_URL/metrics")
assert_contains "$(cat "$WORK/metrics.body")" 'enrolld_mail_outbox{status="queued"} 100' "100 mails queued"
kill9_server
pass "enrolld killed with 100 mails queued"

section "the relay is back, enrolld restarts: every mail arrives, once"
start_relay
start_server "$WORK/data" --config "$WORK/enrolld.toml"
deadline=$((SECONDS + 120))
until [ "$(mails)" -ge 100 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "only $(mails) of 100 mails arrived"
  sleep 0.5
done
sleep 3
assert_eq 100 "$(mails)" "100 mails arrived, no more"
assert_eq 100 "$(cat "$WORK"/mail/*.eml | grep -i '^Message-ID:' | sort -u | wc -l)" "100 distinct Message-IDs"
assert_eq 100 "$(cat "$WORK"/mail/*.json | grep -o '"rcpt_tos": \["[^"]*"' | sort -u | wc -l)" "100 distinct recipients"
assert_eq 100 "$(grep -l '"tls": true' "$WORK"/mail/*.json | wc -l)" "every mail went under STARTTLS"
code=$(http "$WORK/metrics" -H "Authorization: Bearer $(admin_token)" "$BASE_URL/metrics")
assert_contains "$(cat "$WORK/metrics.body")" 'enrolld_mail_outbox{status="sent"} 100' "the outbox counts 100 sent"
assert_contains "$(cat "$WORK/metrics.body")" 'enrolld_mail_outbox{status="queued"} 0' "and none queued"

section "no pickup link in the server's log"
# The links' secrets, from the mails' plain-text parts (quoted-printable may fold them: the
# part after the link id's dot is matched on its first 16 characters).
secrets=$(cat "$WORK"/mail/*.eml | tr -d '=\r' | grep -o '/pickup/[A-Za-z0-9_-]*\.[A-Za-z0-9_-]\{16\}' | sort -u | sed 's/.*\.//')
[ "$(echo "$secrets" | wc -l)" -ge 100 ] || fail "found $(echo "$secrets" | wc -l) link secrets in the mails"
for sec in $secrets; do
  if cat "$WORK"/server.*.log | grep -q -- "$sec"; then fail "a pickup link's secret is in the server log"; fi
done
pass "none of 100 link secrets is in the debug log"
stop_server

section "start-up refusals"
mkdir -p "$WORK/templates"
printf 'Hello {{nmae}}\n' >"$WORK/templates/pickup.en.txt"
printf 'templates_dir = "%s"\n' "$WORK/templates" >>"$WORK/enrolld.toml"
status=0
out=$(timeout 30 "$ENROLLD_BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --config "$WORK/enrolld.toml" 2>&1) || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "a broken template did not stop the start (exit $status)"
assert_contains "$out" "pickup.en.txt does not render" "the error names the template"
assert_contains "$out" "{{nmae}}" "and what is wrong in it"

cat >"$WORK/plain.toml" <<'TOML'
[mail]
relay = "smtp.corp.example:25"
security = "none"
from = "pki@corp.example"
TOML
status=0
out=$(timeout 30 "$ENROLLD_BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --config "$WORK/plain.toml" 2>&1) || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "a plaintext relay off this machine did not stop the start (exit $status)"
assert_contains "$out" "allow_plaintext" "the error says how to opt in"
