#!/usr/bin/env bash
# Revocation status with openssl and curl (issue 5): certificates name working CRL and OCSP URLs
# on the plain-HTTP status listener; OCSP good → revoke (keyCompromise) → OCSP revoked with that
# reason (POST and GET form); the CRL lists the serial and `openssl verify -crl_check` fails for
# it and passes for another certificate; the root CRL covers the issuing CA; garbage OCSP
# requests get malformedRequest and the server keeps serving.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
STATUS=http://localhost:$HTTP_PORT
cat >"$WORK/enrolld.toml" <<TOML
http_listen = "127.0.0.1:$HTTP_PORT"
TOML
start_server "$WORK/data" --config "$WORK/enrolld.toml"
plain() { curl --noproxy '*' -sS --max-time 20 "$@"; }

section "issue two certificates over EST"
enrol() {
  local name=$1 cred code
  cred=$(make_credential "{\"common_name\":\"$name\"}")
  new_key_csr p256 "$WORK/$name" "/CN=$name"
  code=$(est_post "$WORK/$name" simpleenroll "$WORK/$name.der" -u "$cred")
  assert_status 200 "$code" "$WORK/$name" "enrol $name"
  certs_from_pkcs7 "$WORK/$name.pem" <"$WORK/$name.body"
}
enrol d1.status.example
enrol d2.status.example
D1=$WORK/d1.status.example.pem
D2=$WORK/d2.status.example.pem

section "the certificates name the status listener"
assert_contains "$(ext_values "$D1" crlDistributionPoints)" "URI:$STATUS/crl/issuing.crl" "CDP"
assert_contains "$(ext_values "$D1" authorityInfoAccess)" "OCSP - URI:$STATUS/ocsp" "AIA OCSP"
assert_contains "$(ext_values "$D1" authorityInfoAccess)" "CA Issuers - URI:$STATUS/ca/issuing.crt" "AIA caIssuers"
OCSP_URL=$(openssl x509 -in "$D1" -noout -ocsp_uri)
assert_eq "$STATUS/ocsp" "$OCSP_URL" "openssl reads the OCSP URL"
plain -o "$WORK/issuing.der" "$STATUS/ca/issuing.crt"
openssl x509 -inform DER -in "$WORK/issuing.der" -out "$WORK/issuing.pem" 2>/dev/null ||
  fail "caIssuers did not serve a DER certificate"
pass "caIssuers serves the issuing CA over plain HTTP"
ISSUING_CDP=$(ext_values "$WORK/issuing.pem" crlDistributionPoints)
assert_contains "$ISSUING_CDP" "URI:$STATUS/crl/root.crl" "the issuing CA names the root CRL"

ocsp() { # ocsp CERT [ARGS...]: openssl ocsp against the certificate's own URL
  local cert=$1
  shift
  openssl ocsp -issuer "$WORK/issuing.pem" -cert "$cert" -url "$OCSP_URL" \
    -CAfile "$SERVER_DIR/ca-bundle.pem" "$@" 2>&1
}

section "OCSP says good, then revoked with the reason"
out=$(ocsp "$D1")
assert_contains "$out" "Response verify OK" "OCSP response signature verifies"
assert_contains "$out" "$D1: good" "d1 is good"
out=$(ocsp "$D1" -resp_text)
assert_contains "$out" "OCSP Nonce" "nonce echoed"
S1=$(serial_of "$D1")
code=$(http "$WORK/revoke" -X POST -H "Authorization: Bearer $(admin_token)" \
  -H 'Content-Type: application/json' --data-binary '{"reason":"keyCompromise"}' \
  "$BASE_URL/api/v1/certificates/$S1/revoke")
assert_status 200 "$code" "$WORK/revoke" "admin revoke"
assert_eq revoked "$(json_string "$WORK/revoke.body" status)" "record status"
assert_eq keyCompromise "$(json_string "$WORK/revoke.body" revocation_reason)" "record reason"
AT=$(json_string "$WORK/revoke.body" revoked_at)
out=$(ocsp "$D1")
assert_contains "$out" "$D1: revoked" "d1 revoked in OCSP at once"
assert_contains "$out" "Reason: keyCompromise" "OCSP reason"
assert_contains "$(ocsp "$D2")" "$D2: good" "d2 still good"

section "revocation is idempotent"
code=$(http "$WORK/revoke2" -X POST -H "Authorization: Bearer $(admin_token)" \
  -H 'Content-Type: application/json' --data-binary '{"reason":"superseded"}' \
  "$BASE_URL/api/v1/certificates/$S1/revoke")
assert_status 200 "$code" "$WORK/revoke2" "second revoke"
assert_eq keyCompromise "$(json_string "$WORK/revoke2.body" revocation_reason)" "reason kept"
assert_eq "$AT" "$(json_string "$WORK/revoke2.body" revoked_at)" "time kept"
code=$(http "$WORK/revoke3" -X POST -H "Authorization: Bearer $(admin_token)" \
  -H 'Content-Type: application/json' --data-binary '{"reason":"bogus"}' \
  "$BASE_URL/api/v1/certificates/$(serial_of "$D2")/revoke")
assert_status 400 "$code" "$WORK/revoke3" "unknown reason refused"

section "GET-form OCSP with curl"
openssl ocsp -issuer "$WORK/issuing.pem" -cert "$D1" -no_nonce -reqout "$WORK/req.der" >/dev/null 2>&1
REQ=$(base64 -w0 "$WORK/req.der")
plain -D "$WORK/get.headers" -o "$WORK/get.der" "$STATUS/ocsp/$REQ"
assert_contains "$(cat "$WORK/get.headers")" "application/ocsp-response" "GET content type"
out=$(openssl ocsp -respin "$WORK/get.der" -issuer "$WORK/issuing.pem" -CAfile "$SERVER_DIR/ca-bundle.pem" -resp_text 2>&1)
assert_contains "$out" "Response verify OK" "GET response verifies"
assert_contains "$out" "Cert Status: revoked" "GET says revoked"
ENC=$(printf '%s' "$REQ" | sed 's#/#%2F#g; s#+#%2B#g; s#=#%3D#g')
plain -o "$WORK/get2.der" "$STATUS/ocsp/$ENC"
assert_contains "$(openssl ocsp -respin "$WORK/get2.der" -issuer "$WORK/issuing.pem" -CAfile "$SERVER_DIR/ca-bundle.pem" -resp_text 2>&1)" \
  "Cert Status: revoked" "percent-encoded GET"

section "unknown serial and foreign issuer"
out=$(openssl ocsp -issuer "$WORK/issuing.pem" -serial 0x1234567890 -url "$OCSP_URL" \
  -CAfile "$SERVER_DIR/ca-bundle.pem" 2>&1)
assert_contains "$out" ": unknown" "unknown serial"
openssl x509 -in "$SERVER_DIR/ca-bundle.pem" -out "$WORK/root.pem"
out=$(openssl ocsp -issuer "$WORK/root.pem" -serial 0x1234 -url "$OCSP_URL" 2>&1 || true)
assert_contains "$out" "unauthorized" "another issuer gets unauthorized"

section "CRL"
CRL_URL=$(ext_values "$D2" crlDistributionPoints | sed -n 's/^URI://p')
plain -D "$WORK/crl.headers" -o "$WORK/crl.der" "$CRL_URL"
assert_contains "$(cat "$WORK/crl.headers")" "application/pkix-crl" "CRL content type"
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$WORK/crl.headers" | tr -d '\r')
openssl crl -inform DER -in "$WORK/crl.der" -out "$WORK/crl.pem" 2>/dev/null || fail "CRL is not DER"
crltext=$(openssl crl -in "$WORK/crl.pem" -noout -text)
assert_contains "$crltext" "Serial Number: $(openssl x509 -in "$D1" -noout -serial | cut -d= -f2)" "CRL lists d1"
assert_contains "$crltext" "Key Compromise" "CRL reason"
assert_contains "$crltext" "X509v3 CRL Number" "CRL number"
assert_contains "$crltext" "X509v3 Authority Key Identifier" "CRL AKI"
assert_not_contains "$crltext" "$(openssl x509 -in "$D2" -noout -serial | cut -d= -f2)" "CRL does not list d2"
cat "$SERVER_DIR/ca-bundle.pem" "$WORK/crl.pem" >"$WORK/trust+crl.pem"
if openssl verify -crl_check -CAfile "$WORK/trust+crl.pem" "$D1" >"$WORK/v1" 2>&1; then
  fail "openssl verify -crl_check accepted revoked d1"
fi
assert_contains "$(cat "$WORK/v1")" "certificate revoked" "verify fails for d1"
assert_contains "$(openssl verify -crl_check -CAfile "$WORK/trust+crl.pem" "$D2" 2>&1)" "$D2: OK" "verify passes for d2"
code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$CRL_URL")
assert_eq 304 "$code" "ETag revalidation"

section "root CRL covers the chain"
plain -o "$WORK/root.crl" "$STATUS/crl/root.crl"
openssl crl -inform DER -in "$WORK/root.crl" -out "$WORK/rootcrl.pem" 2>/dev/null || fail "root CRL is not DER"
cat "$SERVER_DIR/ca-bundle.pem" "$WORK/crl.pem" "$WORK/rootcrl.pem" >"$WORK/all.pem"
assert_contains "$(openssl verify -crl_check_all -CAfile "$WORK/all.pem" "$D2" 2>&1)" "$D2: OK" "whole-chain check passes for d2"

section "garbage OCSP requests"
for body in garbage "$(head -c 20 "$WORK/req.der" | base64 -w0)"; do
  printf '%s' "$body" | plain -X POST -H 'Content-Type: application/ocsp-request' --data-binary @- \
    -o "$WORK/bad.der" "$STATUS/ocsp"
  assert_eq "30030a0101" "$(od -An -tx1 "$WORK/bad.der" | tr -d ' \n')" "malformedRequest"
done
head -c 20 "$WORK/req.der" | plain -X POST -H 'Content-Type: application/ocsp-request' --data-binary @- \
  -o "$WORK/bad2.der" "$STATUS/ocsp"
assert_eq "30030a0101" "$(od -An -tx1 "$WORK/bad2.der" | tr -d ' \n')" "truncated request: malformedRequest"
assert_contains "$(ocsp "$D2")" "$D2: good" "server still answers OCSP"
code=$(curl_tls -s -o /dev/null -w '%{http_code}' "$BASE_URL/healthz")
assert_eq 200 "$code" "server still healthy"
stop_server
