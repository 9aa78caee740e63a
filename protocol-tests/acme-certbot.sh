#!/usr/bin/env bash
# ACME (RFC 8555) against a real server with certbot (5.x, from PyPI); openssl checks every
# certificate and the admin API every record.
#
#   1. An EAB-bound account (RFC 8555 §7.3.4) orders a pre-authorised name: no challenge.
#   2. http-01 (§8.3) for a name the EAB key allows only after proof: certbot's standalone
#      responder on 127.0.0.1, the server's validator pointed there by test-only settings.
#   3. Profiles (draft-ietf-acme-profiles): --required-profile device is sent and honoured;
#      person, which the EAB key does not grant, is refused with invalidProfile.
#   4. ARI (RFC 9773): the admin API pulls one certificate's renewal window into the past;
#      a plain `certbot renew` renews exactly that one and skips the others.
#   5. Revocation (§7.6) signed by the account key and by the certificate key; a second
#      revocation is alreadyRevoked.
#   6. Refusals: names outside the EAB key (rejectedIdentifier, per name), no EAB, a bound EAB
#      key reused, a wrong EAB MAC (which must not spend the key).
#   7. Account lifecycle: contact update (§7.3.2), deactivation (§7.3.6) and an EAB key
#      withdrawn through the admin API: both accounts are refused afterwards.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"
need certbot python3 timeout

CB=$WORK/certbot
mkdir -p "$CB"
# The http-01 port: certbot's standalone responder listens there, the validator looks there.
HTTP_PORT=$(free_port)

# certbot_cmd DIR TAG SUBCOMMAND [ARGS...]: certbot with its state under DIR and this run's
# debug log in DIR/logs/TAG/letsencrypt.log; console output in DIR/TAG.out. An empty --config
# keeps the machine's /etc/letsencrypt/cli.ini and ~/.config/letsencrypt/cli.ini out of it.
certbot_cmd() {
  local dir=$1 tag=$2
  shift 2
  mkdir -p "$dir/logs"
  : >"$CB/cli.ini"
  run_client "$dir/$tag.out" certbot "$@" --non-interactive --config "$CB/cli.ini" \
    --config-dir "$dir/config" --work-dir "$dir/work" --logs-dir "$dir/logs/$tag"
}

# certbot_log DIR TAG: the debug log of one run.
certbot_log() {
  printf '%s\n' "$1/logs/$2/letsencrypt.log"
}

# certbot_ok DIR TAG SUBCOMMAND [ARGS...]: the command must succeed.
certbot_ok() {
  local dir=$1 tag=$2 rc=0
  shift 2
  certbot_cmd "$dir" "$tag" "$@" || rc=$?
  if [ "$rc" != 0 ]; then
    fail "certbot $1 ($tag) exited with status $rc; its output:
$(tail -n 12 "$dir/$tag.out")
problems in its log:
$(grep -hE 'urn:ietf:params:acme:error|Traceback|Error' "$(certbot_log "$dir" "$tag")" 2>/dev/null | tail -n 8)"
  fi
  pass "certbot $1 ($tag) succeeded"
}

# certbot_refused DIR TAG NEEDLE SUBCOMMAND [ARGS...]: the command must fail, and NEEDLE (an
# ACME problem type, or the client's own words) must be in its output or its debug log.
certbot_refused() {
  local dir=$1 tag=$2 needle=$3 rc=0
  shift 3
  certbot_cmd "$dir" "$tag" "$@" || rc=$?
  [ "$rc" != 0 ] || fail "certbot $1 ($tag) succeeded, but it must be refused ($needle)"
  pass "certbot $1 ($tag) fails (exit status $rc)"
  cat "$dir/$tag.out" "$(certbot_log "$dir" "$tag")" >"$dir/$tag.all" 2>/dev/null || true
  assert_file_contains "$dir/$tag.all" "$needle" "certbot $1 ($tag) reports $needle"
}

# certonly_args: how every certonly here talks to the server and answers http-01.
certonly_args() {
  CERTONLY=(certonly --server "$DIRECTORY" --standalone --http-01-address 127.0.0.1
    --http-01-port "$HTTP_PORT" --agree-tos --no-eff-email --email it@example.com
    --key-type ecdsa --elliptic-curve secp256r1)
}

# check_issued DIR NAME WHAT: the certificate certbot saved for NAME, and its record.
check_issued() {
  local live=$1/config/live/$2
  check_device_cert "$live/cert.pem" "$2" "$live/privkey.pem" "$3"
  check_chain_from_ca "$live/chain.pem" "$3: chain.pem holds the server's CA certificate"
  check_acme_record "$(serial_of "$live/cert.pem")" good device "$2"
}

# rfc3339_ago SECONDS: the UTC time SECONDS ago.
rfc3339_ago() {
  date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%SZ
}

START=$SECONDS
section "server with test-only http-01 validation on 127.0.0.1:$HTTP_PORT; $(certbot --version 2>&1)"
acme_test_config "$WORK/enrolld.toml" "$HTTP_PORT"
start_server "$WORK/data" --config "$WORK/enrolld.toml"
assert_file_contains "$SERVER_LOG" "TEST-ONLY" "the server warns about its test-only validation settings"
DIRECTORY=$BASE_URL/acme/directory
export REQUESTS_CA_BUNDLE=$SERVER_DIR/ca-bundle.pem
certonly_args

# One device-profile key: any name under corp.example as is, localhost only after http-01.
make_eab_key '{"profile":"device","allowed_identifiers":[{"type":"dns","value":"*.corp.example"},{"type":"dns","value":"localhost","challenge":true}]}'
KID_A=$EAB_KID
HMAC_A=$EAB_HMAC
A=$CB/a

section "1. EAB account and a pre-authorised name"
certbot_ok "$A" laptop1 "${CERTONLY[@]}" --eab-kid="$KID_A" --eab-hmac-key="$HMAC_A" -d laptop1.corp.example
assert_file_contains "$A/laptop1.out" "Account registered" "certbot registered an account"
assert_file_contains "$(certbot_log "$A" laptop1)" '"externalAccountBinding"' "newAccount carried the external account binding"
assert_file_lacks "$(certbot_log "$A" laptop1)" "challenge for" "no challenge for a pre-authorised name"
check_issued "$A" laptop1.corp.example "laptop1 (pre-authorised)"
SERIAL_LAPTOP1=$(serial_of "$A/config/live/laptop1.corp.example/cert.pem")

section "2. http-01 for a name allowed only after proof (certbot standalone on 127.0.0.1:$HTTP_PORT)"
certbot_ok "$A" localhost "${CERTONLY[@]}" -d localhost
assert_file_contains "$(certbot_log "$A" localhost)" "http-01 challenge for" "certbot answered an http-01 challenge"
check_issued "$A" localhost "localhost (http-01)"
SERIAL_LOCALHOST=$(serial_of "$A/config/live/localhost/cert.pem")

section "3. profiles"
PROFILES=$(curl_tls -sS "$DIRECTORY" |
  python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["meta"]["profiles"])))')
assert_contains " $PROFILES " " device " "the directory's meta.profiles offers device"
assert_contains " $PROFILES " " person " "the directory's meta.profiles offers person"
certbot_ok "$A" laptop2 "${CERTONLY[@]}" --required-profile device -d laptop2.corp.example
assert_file_contains "$(certbot_log "$A" laptop2)" '"profile": "device"' "certbot's newOrder asked for profile device"
check_issued "$A" laptop2.corp.example "laptop2 (--required-profile device)"
SERIAL_LAPTOP2=$(serial_of "$A/config/live/laptop2.corp.example/cert.pem")
certbot_refused "$A" laptop3-person "urn:ietf:params:acme:error:invalidProfile" \
  "${CERTONLY[@]}" --required-profile person -d laptop3.corp.example
[ ! -e "$A/config/live/laptop3.corp.example" ] || fail "certbot saved a certificate for the refused person order"
pass "no certificate for the refused person order"

section "4. ARI: the server asks for an early renewal of one certificate"
set_renewal_window "$SERIAL_LAPTOP2" "$(rfc3339_ago 7200)" "$(rfc3339_ago 3600)"
certbot_ok "$A" renew renew --no-random-sleep-on-renew
assert_file_contains "$(certbot_log "$A" renew)" "/acme/renewal-info/" "certbot asked the server's renewalInfo"
assert_file_contains "$A/renew.out" "live/laptop2.corp.example/fullchain.pem (success)" "laptop2 renewed"
for name in laptop1.corp.example localhost; do
  grep -F "live/$name/fullchain.pem" "$A/renew.out" | grep -qF "(skipped)" ||
    fail "certbot renew did not skip $name, whose renewal window is still ahead: $(cat "$A/renew.out")"
  pass "$name skipped (renewal window ahead)"
done
check_issued "$A" laptop2.corp.example "laptop2 renewed"
assert_ne "$SERIAL_LAPTOP2" "$(serial_of "$A/config/live/laptop2.corp.example/cert.pem")" "the renewal has a new serial"
check_acme_record "$SERIAL_LAPTOP2" good device laptop2.corp.example

section "5. revocation"
certbot_ok "$A" revoke-account revoke --server "$DIRECTORY" \
  --cert-path "$A/config/live/laptop1.corp.example/cert.pem" --reason keycompromise --no-delete-after-revoke
check_acme_record "$SERIAL_LAPTOP1" revoked device laptop1.corp.example keyCompromise

# The certbot revocation is visible to relying parties at once: OCSP (the URL the certificate
# names) says revoked with the reason, and the CRL lists the serial.
LAPTOP1=$A/config/live/laptop1.corp.example/cert.pem
curl_tls -s -o "$WORK/issuing.der" "$BASE_URL/ca/issuing.crt"
openssl x509 -inform DER -in "$WORK/issuing.der" -out "$WORK/issuing.pem"
ocsp_out=$(openssl ocsp -issuer "$WORK/issuing.pem" -cert "$LAPTOP1" \
  -url "$(openssl x509 -in "$LAPTOP1" -noout -ocsp_uri)" -CAfile "$SERVER_DIR/ca-bundle.pem" 2>&1 || true)
assert_contains "$ocsp_out" "$LAPTOP1: revoked" "certbot revocation: OCSP says revoked"
assert_contains "$ocsp_out" "Reason: keyCompromise" "certbot revocation: OCSP reason"
CDP=$(openssl x509 -in "$LAPTOP1" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p')
curl_tls -s -o "$WORK/acme.crl" "$CDP"
assert_contains "$(openssl crl -inform DER -in "$WORK/acme.crl" -noout -text)" \
  "Serial Number: $(openssl x509 -in "$LAPTOP1" -noout -serial | cut -d= -f2)" "certbot revocation: the CRL lists it"
# With --key-path certbot signs with the certificate's own key (a jwk JWS), not the account.
certbot_ok "$A" revoke-certkey revoke --server "$DIRECTORY" \
  --cert-path "$A/config/live/localhost/cert.pem" --key-path "$A/config/live/localhost/privkey.pem" \
  --reason superseded --no-delete-after-revoke
check_acme_record "$SERIAL_LOCALHOST" revoked device localhost superseded
certbot_refused "$A" revoke-again "urn:ietf:params:acme:error:alreadyRevoked" revoke --server "$DIRECTORY" \
  --cert-path "$A/config/live/laptop1.corp.example/cert.pem" --reason keycompromise --no-delete-after-revoke

section "6. refusals"
certbot_refused "$A" outside "urn:ietf:params:acme:error:rejectedIdentifier" \
  "${CERTONLY[@]}" -d laptop5.corp.example -d vpn.example
assert_file_contains "$A/outside.all" "Problem for vpn.example: urn:ietf:params:acme:error:rejectedIdentifier" \
  "the subproblem names vpn.example"
assert_file_lacks "$A/outside.all" "Problem for laptop5.corp.example" "no subproblem for the allowed laptop5.corp.example"
[ ! -e "$A/config/live/laptop5.corp.example" ] || fail "certbot saved a certificate for a refused order"

B=$CB/b
certbot_refused "$B" no-eab "requires external account binding" "${CERTONLY[@]}" -d kiosk.corp.example
certbot_refused "$B" reused-eab "urn:ietf:params:acme:error:unauthorized" \
  "${CERTONLY[@]}" --eab-kid="$KID_A" --eab-hmac-key="$HMAC_A" -d kiosk.corp.example
assert_file_contains "$B/reused-eab.all" "already bound" "the reused EAB key is reported as already bound"
# A second key that allows one name only.
make_eab_key '{"profile":"device","allowed_identifiers":[{"type":"dns","value":"kiosk.corp.example"}]}'
certbot_refused "$B" bad-mac "urn:ietf:params:acme:error:unauthorized" \
  "${CERTONLY[@]}" --eab-kid="$EAB_KID" --eab-hmac-key="$HMAC_A" -d kiosk.corp.example
certbot_ok "$B" kiosk "${CERTONLY[@]}" --eab-kid="$EAB_KID" --eab-hmac-key="$EAB_HMAC" -d kiosk.corp.example
pass "a refused MAC did not spend the EAB key"
check_issued "$B" kiosk.corp.example "kiosk (second EAB key)"
certbot_refused "$B" laptop9 "urn:ietf:params:acme:error:rejectedIdentifier" "${CERTONLY[@]}" -d laptop9.corp.example
pass "each EAB key has its own allow-list (laptop9.corp.example is only in the first)"

section "7. account lifecycle"
certbot_ok "$A" update update_account --server "$DIRECTORY" --email ops@example.com --no-eff-email
assert_file_contains "$(certbot_log "$A" update)" '"contact":["mailto:ops@example.com"]' \
  "the server's account object has the new contact"
# certbot forgets an account it unregisters; keep a copy to play a client that kept its key.
cp -a "$A/config/accounts" "$A/accounts.saved"
certbot_ok "$A" unregister unregister --server "$DIRECTORY"
rm -rf "$A/config/accounts"
cp -a "$A/accounts.saved" "$A/config/accounts"
certbot_refused "$A" after-unregister "urn:ietf:params:acme:error:unauthorized" "${CERTONLY[@]}" -d laptop6.corp.example
assert_file_contains "$A/after-unregister.all" "deactivated" "a deactivated account is refused as such"
# Withdrawing an EAB key (admin API) deactivates its account at the next request.
code=$(http "$WORK/withdraw" -X DELETE -H "Authorization: Bearer $(admin_token)" "$BASE_URL/api/v1/acme/eab/$EAB_KID")
assert_status 204 "$code" "$WORK/withdraw" "the admin API withdraws the second EAB key"
certbot_refused "$B" after-withdrawal "urn:ietf:params:acme:error:unauthorized" "${CERTONLY[@]}" --force-renewal \
  -d kiosk.corp.example
assert_file_contains "$B/after-withdrawal.all" "withdrawn" "the refusal says the EAB key was withdrawn"

stop_server
echo
echo "acme-certbot.sh: all checks passed in $((SECONDS - START)) s"
