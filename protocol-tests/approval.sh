#!/usr/bin/env bash
# Manual approval over EST with curl (RFC 7030 §4.2.3): the first simpleenroll answers 202 with
# Retry-After; an administrator approves through the admin API; the retry gets the certificate.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

cat >"$WORK/enrolld.toml" <<'TOML'
[est.labels.vip]
profile = "device"
require_approval = true
TOML
start_server "$WORK/data" --config "$WORK/enrolld.toml"
EST_URL=$BASE_URL/.well-known/est/vip

cred=$(make_credential '{"label":"vip","common_name":"vip-laptop"}')
new_key_csr p256 "$WORK/vip" "/CN=vip-laptop"
code=$(est_post "$WORK/vip" simpleenroll "$WORK/vip.der" -u "$cred")
assert_status 202 "$code" "$WORK/vip" "first request is accepted for approval"
assert_eq 60 "$(header "$WORK/vip" retry-after)" "Retry-After"

code=$(http "$WORK/list" -H "Authorization: Bearer $(admin_token)" "$BASE_URL/api/v1/approvals")
assert_status 200 "$code" "$WORK/list" "list pending approvals"
ID=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$WORK/list.body" | head -n 1)
[ -n "$ID" ] || fail "no pending approval listed: $(cat "$WORK/list.body")"
assert_contains "$(cat "$WORK/list.body")" '"common_name":"vip-laptop"' "the approver sees the name"

code=$(est_post "$WORK/vip" simpleenroll "$WORK/vip.der" -u "$cred")
assert_status 202 "$code" "$WORK/vip" "retry before approval: still 202"

code=$(http "$WORK/approve" -X POST -H "Authorization: Bearer $(admin_token)" "$BASE_URL/api/v1/approvals/$ID/approve")
assert_status 200 "$code" "$WORK/approve" "approve"

code=$(est_post "$WORK/vip" simpleenroll "$WORK/vip.der" -u "$cred")
assert_status 200 "$code" "$WORK/vip" "retry after approval: the certificate"
certs_from_pkcs7 "$WORK/vip.pem" <"$WORK/vip.body"
assert_contains "$(subject_of "$WORK/vip.pem")" "CN = vip-laptop" "issued for the approved name"
assert_contains "$(openssl verify -CAfile "$SERVER_DIR/ca-bundle.pem" -purpose sslclient "$WORK/vip.pem" 2>&1)" ": OK" "verifies"
stop_server
