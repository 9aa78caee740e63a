#!/usr/bin/env bash
# The console in a real browser: Debian's chromium driven by playwright-core
# (protocol-tests/browser/console.mjs; both installed by .ci/run). Sign-in, registering a person,
# a pickup link opened in a second browser, revoking, approving an EST enrolment that curl is
# polling for, a bulk import of 1,000 rows with its progress bar, off-boarding, the audit chain,
# Japanese and back, a read token's pages and forged POSTs, a POST without CSRF token; axe-core
# on every page; screenshots of every page in both languages to docs/images/console/.
# Afterwards this script checks with openssl what the browser got: the PKCS#12 opens with the
# passphrase shown, OCSP says the certificate revoked in the browser is revoked, and the curl
# client got its certificate once approved.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"
need node curl openssl
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "chromium is not installed at $CHROMIUM (.ci/run installs Debian's chromium)"
BROWSER_DIR=$REPO_ROOT/protocol-tests/browser
[ -d "$BROWSER_DIR/node_modules/playwright-core" ] && [ -d "$BROWSER_DIR/node_modules/axe-core" ] ||
  fail "playwright-core and axe-core are not installed (.ci/run runs npm ci in protocol-tests/browser)"

cat >"$WORK/enrolld.toml" <<'TOML'
[est.labels.vip]
profile = "device"
require_approval = true
TOML
start_server "$WORK/data" --config "$WORK/enrolld.toml"

section "a few devices enrolled over EST first, so the dashboard has figures to show"
for i in 1 2 3 4 5 6; do
  c=$(make_credential "{\"common_name\":\"laptop-$i\"}")
  new_key_csr p256 "$WORK/dev$i" "/CN=laptop-$i"
  code=$(est_post "$WORK/dev$i" simpleenroll "$WORK/dev$i.der" -u "$c")
  assert_status 200 "$code" "$WORK/dev$i" "laptop-$i enrolled"
done

section "an EST client that waits for approval (curl, polling in the background)"
EST_URL=$BASE_URL/.well-known/est/vip
cred=$(make_credential '{"label":"vip","common_name":"vip-laptop"}')
new_key_csr p256 "$WORK/vip" "/CN=vip-laptop"
code=$(est_post "$WORK/vip" simpleenroll "$WORK/vip.der" -u "$cred")
assert_status 202 "$code" "$WORK/vip" "the first request waits for approval"
(
  # RFC 7030 §4.2.3: retry after Retry-After (shortened here) until the certificate comes.
  for _ in $(seq 1 300); do
    code=$(est_post "$WORK/poll" simpleenroll "$WORK/vip.der" -u "$cred")
    echo "$code" >"$WORK/poll.code"
    [ "$code" = 202 ] || exit 0
    sleep 1
  done
) &
POLLER=$!

section "the browser"
set +e
WORK=$WORK SHOTS=$REPO_ROOT/docs/images/console BASE_URL=$BASE_URL ADMIN_TOKEN=$(admin_token) \
  CHROMIUM=$CHROMIUM node "$BROWSER_DIR/console.mjs"
status=$?
set -e
[ "$status" = 0 ] || {
  kill "$POLLER" 2>/dev/null || true
  fail "the browser test failed (exit $status)"
}

section "what the browser got, checked with openssl and curl"
pass=$(cat "$WORK/pickup.pass")
openssl pkcs12 -in "$WORK/pickup.p12" -passin "pass:$pass" -nokeys -clcerts -out "$WORK/pickup.pem" 2>"$WORK/p12.err" ||
  fail "openssl cannot open the downloaded PKCS#12 with the passphrase shown: $(cat "$WORK/p12.err")"
pass "the downloaded PKCS#12 opens with the passphrase the page showed"
assert_contains "$(openssl x509 -in "$WORK/pickup.pem" -noout -ext subjectAltName 2>/dev/null)" "taro@example.com" \
  "the PKCS#12 holds the person's certificate"
openssl pkcs12 -in "$WORK/pickup.p12" -passin "pass:$pass" -nocerts -nodes -out "$WORK/pickup.key" 2>/dev/null ||
  fail "the PKCS#12 holds no key"
[ "$(pubkey_of_cert "$WORK/pickup.pem")" = "$(pubkey_of_key "$WORK/pickup.key")" ] ||
  fail "the key in the PKCS#12 is not the certificate's"
pass "the key in the PKCS#12 is the certificate's"

serial=$(cat "$WORK/revoked.serial")
[ "$(serial_of "$WORK/pickup.pem")" = "$serial" ] ||
  fail "the browser revoked $serial, the pickup certificate is $(serial_of "$WORK/pickup.pem")"
curl_tls -sS -o "$WORK/issuing.pem" "$BASE_URL/ca/issuing.crt"
openssl x509 -in "$WORK/issuing.pem" -noout 2>/dev/null ||
  openssl x509 -inform DER -in "$WORK/issuing.pem" -out "$WORK/issuing.pem"
OCSP_URL=$(openssl x509 -in "$WORK/pickup.pem" -noout -ocsp_uri)
[ -n "$OCSP_URL" ] || fail "the certificate names no OCSP responder"
out=$(openssl ocsp -issuer "$WORK/issuing.pem" -cert "$WORK/pickup.pem" -url "$OCSP_URL" \
  -CAfile "$SERVER_DIR/ca-bundle.pem" 2>&1)
assert_contains "$out" "Response verify OK" "the OCSP answer verifies"
assert_contains "$out" "$WORK/pickup.pem: revoked" "OCSP says revoked after the browser revoked it"
assert_contains "$out" "Reason: keyCompromise" "with the reason chosen in the browser"

wait "$POLLER" || true
assert_eq 200 "$(cat "$WORK/poll.code")" "the polling EST client got its certificate after the approval"
certs_from_pkcs7 "$WORK/poll.pem" <"$WORK/poll.body"
assert_contains "$(subject_of "$WORK/poll.pem")" "CN = vip-laptop" "issued for the approved name"

ls "$REPO_ROOT"/docs/images/console/en-*.png "$REPO_ROOT"/docs/images/console/ja-*.png >/dev/null ||
  fail "no screenshots were saved"
pass "screenshots: $(find "$REPO_ROOT/docs/images/console" -name '*.png' | wc -l) pages in docs/images/console"
stop_server
