#!/usr/bin/env bash
# ACME (RFC 8555) against a real server with lego (Debian's package, 4.9.1); openssl checks
# every certificate and the admin API every record.
#
#   1. An EAB-bound account (RFC 8555 §7.3.4) orders a pre-authorised name, then two names in
#      one order: no challenge.
#   2. http-01 (§8.3) for a name the EAB key allows only after proof: lego's own responder on
#      127.0.0.1, the server's validator pointed there by test-only settings.
#   3. `renew --days 9999` forces renewals, with a new key and with --reuse-key: new serials,
#      the old certificates stay good.
#   4. `revoke --reason 1`: the newest certificate is revoked (keyCompromise), the others not.
#   5. Refusals: a name outside the EAB key (rejectedIdentifier, naming it), and an http-01
#      answer the validator cannot reach (connection; the order fails, nothing is issued).
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"
need lego python3 timeout

LG=$WORK/lego
# lego writes ./.lego when it is not given --path; keep anything it might write in $WORK.
cd "$WORK"
# The http-01 port: lego's responder listens there, the validator looks there.
HTTP_PORT=$(free_port)

# lego_cmd TAG ARGS... COMMAND [COMMAND_ARGS...]: lego with the account and certificates in
# $LG/state; output in $LG/TAG.out. lego wants the EAB flags whenever the directory says
# externalAccountRequired, but registers only once: later runs reuse the saved account.
lego_cmd() {
  local tag=$1
  shift
  mkdir -p "$LG"
  run_client "$LG/$tag.out" lego --server "$DIRECTORY" --eab --kid="$EAB_KID" --hmac="$EAB_HMAC" \
    --accept-tos --email it@example.com --path "$LG/state" --key-type ec256 "$@"
}

# lego_ok TAG ARGS...: the command must succeed.
lego_ok() {
  local tag=$1 rc=0
  lego_cmd "$@" || rc=$?
  [ "$rc" = 0 ] || fail "lego ($tag) exited with status $rc; its output:
$(tail -n 12 "$LG/$tag.out")"
  pass "lego ($tag) succeeded"
}

# lego_refused TAG NEEDLE ARGS...: the command must fail, with NEEDLE in its output.
lego_refused() {
  local tag=$1 needle=$2 rc=0
  shift 2
  lego_cmd "$tag" "$@" || rc=$?
  [ "$rc" != 0 ] || fail "lego ($tag) succeeded, but it must be refused ($needle)"
  pass "lego ($tag) fails (exit status $rc)"
  assert_file_contains "$LG/$tag.out" "$needle" "lego ($tag) reports $needle"
}

# crt / issuer / key NAME: where lego keeps NAME's certificate (leaf + issuer), issuer and key.
crt() { printf '%s\n' "$LG/state/certificates/$1.crt"; }
issuer() { printf '%s\n' "$LG/state/certificates/$1.issuer.crt"; }
key() { printf '%s\n' "$LG/state/certificates/$1.key"; }

# check_issued NAME WHAT: lego's certificate for NAME (leaf split off into $LG/NAME.leaf.pem),
# its issuer file and its record. Sets LEAF.
check_issued() {
  LEAF=$LG/$1.leaf.pem
  leaf_of "$(crt "$1")" "$LEAF"
  check_device_cert "$LEAF" "$1" "$(key "$1")" "$2"
  check_chain_from_ca "$(issuer "$1")" "$2: the issuer file holds the server's CA certificate"
  assert_eq 2 "$(cert_count "$(crt "$1")")" "$2: the .crt bundle is leaf + issuing CA"
  check_acme_record "$(serial_of "$LEAF")" good device "$1"
}

HTTP=(--http --http.port "127.0.0.1:$HTTP_PORT")

START=$SECONDS
section "server with test-only http-01 validation on 127.0.0.1:$HTTP_PORT; lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || lego --version)"
acme_test_config "$WORK/enrolld.toml" "$HTTP_PORT"
start_server "$WORK/data" --config "$WORK/enrolld.toml"
DIRECTORY=$BASE_URL/acme/directory
export LEGO_CA_CERTIFICATES=$SERVER_DIR/ca-bundle.pem
# Any name under fleet.example as is, localhost only after http-01.
make_eab_key '{"profile":"device","allowed_identifiers":[{"type":"dns","value":"*.fleet.example"},{"type":"dns","value":"localhost","challenge":true}]}'

section "1. EAB account and pre-authorised names"
N1=laptop1.fleet.example
lego_ok run1 "${HTTP[@]}" --domains "$N1" run
assert_file_contains "$LG/run1.out" "authorization already valid; skipping challenge" "no challenge for a pre-authorised name"
[ -f "$LG/state/accounts/localhost_$SERVER_PORT/it@example.com/account.json" ] ||
  fail "lego saved no account under $LG/state/accounts: $(find "$LG/state/accounts" -type f)"
pass "lego saved the EAB-bound account"
check_issued "$N1" "$N1 (pre-authorised)"
SERIAL1=$(serial_of "$LEAF")
cp "$LEAF" "$LG/first1.pem"

# Two names in one order: the SANs are exactly the order's names, the CN is lego's first.
lego_ok run-two "${HTTP[@]}" --domains b.fleet.example --domains a.fleet.example run
leaf_of "$(crt b.fleet.example)" "$LG/two.pem"
assert_eq "DNS:a.fleet.example, DNS:b.fleet.example" "$(ext_values "$LG/two.pem" subjectAltName)" \
  "two-name order: both names as SANs"
assert_eq "subject=CN = b.fleet.example" "$(subject_of "$LG/two.pem")" "two-name order: CN is the CSR's CN"
check_acme_record "$(serial_of "$LG/two.pem")" good device b.fleet.example

section "2. http-01 for a name allowed only after proof (lego's responder on 127.0.0.1:$HTTP_PORT)"
lego_ok run-localhost "${HTTP[@]}" --domains localhost run
assert_file_contains "$LG/run-localhost.out" "The server validated our request" "lego answered an http-01 challenge"
check_issued localhost "localhost (http-01)"
SERIAL_LOCALHOST=$(serial_of "$LEAF")

section "3. forced renewals"
lego_ok renew "${HTTP[@]}" --domains "$N1" renew --days 9999 --no-random-sleep
check_issued "$N1" "$N1 renewed"
SERIAL2=$(serial_of "$LEAF")
assert_ne "$SERIAL1" "$SERIAL2" "the renewal has a new serial"
assert_ne "$(pubkey_of_cert "$LG/first1.pem")" "$(pubkey_of_cert "$LEAF")" "the renewal has a new key"
cp "$LEAF" "$LG/renewed1.pem"
lego_ok renew-reuse "${HTTP[@]}" --domains "$N1" renew --days 9999 --no-random-sleep --reuse-key
check_issued "$N1" "$N1 renewed with --reuse-key"
SERIAL3=$(serial_of "$LEAF")
assert_ne "$SERIAL2" "$SERIAL3" "the --reuse-key renewal has a new serial"
assert_eq "$(pubkey_of_cert "$LG/renewed1.pem")" "$(pubkey_of_cert "$LEAF")" "--reuse-key keeps the key"
check_acme_record "$SERIAL1" good device "$N1"
check_acme_record "$SERIAL2" good device "$N1"

section "4. revocation"
lego_ok revoke --domains "$N1" revoke --reason 1
assert_file_contains "$LG/revoke.out" "Certificate was revoked" "lego says the certificate was revoked"
check_acme_record "$SERIAL3" revoked device "$N1" keyCompromise
check_acme_record "$SERIAL2" good device "$N1"
check_acme_record "$SERIAL_LOCALHOST" good device localhost

section "5. refusals"
lego_refused outside "urn:ietf:params:acme:error:rejectedIdentifier" "${HTTP[@]}" \
  --domains laptop2.fleet.example --domains vpn.example run
assert_file_contains "$LG/outside.out" '"vpn.example"' "the refusal names vpn.example"
[ ! -e "$(crt laptop2.fleet.example)" ] || fail "lego saved a certificate for a refused order"
pass "no certificate for the refused order"

# lego answers on another port than the validator's: the validator cannot connect.
OTHER_PORT=$(free_port)
while [ "$OTHER_PORT" = "$HTTP_PORT" ]; do OTHER_PORT=$(free_port); done
lego_refused unreachable "urn:ietf:params:acme:error:connection" \
  --http --http.port "127.0.0.1:$OTHER_PORT" --domains localhost run
assert_file_contains "$SERVER_LOG" "validation failed" "the server logged the failed validation"
assert_eq "$SERIAL_LOCALHOST" "$(serial_of "$(crt localhost)")" "the failed order left localhost's certificate alone"

stop_server
echo
echo "acme-lego.sh: all checks passed in $((SECONDS - START)) s"
