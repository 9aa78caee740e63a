#!/usr/bin/env bash
# EST (RFC 7030) against a real server with real clients: curl speaks HTTPS, openssl makes the
# keys and CSRs and checks every answer.
#
#   1. The main flow (cacerts, simpleenroll, one-time credential, simplereenroll with a new key,
#      serverkeygen, csrattrs) for P-256, P-384 and RSA 3072 client keys against a P-256 CA.
#   2. Refusals: bad CSRs, bad bodies, missing credentials, wrong content type, fullcmc.
#   3. A label with the `person` profile.
#   4. The main flow (P-256 client key) against an Ed25519 CA and an RSA 3072 CA.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

# check_cacerts DIR: RFC 7030 §4.1 — the certs-only answer holds exactly the CA bundle.
check_cacerts() {
  local out=$1/cacerts code
  code=$(http "$out" "$EST_URL/cacerts")
  assert_status 200 "$code" "$out" "cacerts"
  assert_header "$out" content-type "application/pkcs7-mime" "cacerts is application/pkcs7-mime"
  certs_from_pkcs7 "$out.pem" <"$out.body"
  assert_eq "$(fingerprints "$SERVER_DIR/ca-bundle.pem")" "$(fingerprints "$out.pem")" \
    "cacerts holds the same certificates as ca-bundle.pem"
}

# check_client_cert PEM CN SAN WHAT: chains to the bundle for TLS client use, names CN and
# only SAN, EKU exactly clientAuth, not a CA (the `device` profile).
check_client_cert() {
  local pem=$1 cn=$2 san=$3 what=$4 verdict
  verdict=$(openssl verify -CAfile "$SERVER_DIR/ca-bundle.pem" -purpose sslclient "$pem" 2>&1) ||
    fail "$what: openssl verify -purpose sslclient failed: $verdict"
  assert_eq "$pem: OK" "$verdict" "$what: openssl verify -purpose sslclient"
  assert_eq "TLS Web Client Authentication" "$(ext_values "$pem" extendedKeyUsage)" \
    "$what: EKU is clientAuth only"
  assert_eq "subject=CN = $cn" "$(subject_of "$pem")" "$what: subject is CN=$cn"
  assert_eq "$san" "$(ext_values "$pem" subjectAltName)" "$what: SANs are $san"
  assert_contains "$(ext_values "$pem" basicConstraints)" "CA:FALSE" "$what: basicConstraints CA:FALSE"
}

# check_record SERIAL STATUS PROFILE CN [REPLACES]: the admin API's view of a certificate.
check_record() {
  local serial=$1 out=$WORK/record code
  code=$(get_certificate "$out" "$serial")
  assert_status 200 "$code" "$out" "admin API knows serial $serial"
  assert_eq "$2" "$(json_string "$out.body" status)" "record $serial: status"
  assert_eq "$3" "$(json_string "$out.body" profile)" "record $serial: profile"
  assert_eq "$4" "$(json_string "$out.body" subject)" "record $serial: subject"
  if [ $# -ge 5 ]; then
    assert_eq "$5" "$(json_string "$out.body" replaces)" "record $serial: replaces the previous certificate"
  fi
}

# multipart_part FILE BOUNDARY TYPE: the body of the first part whose Content-Type contains TYPE.
multipart_part() {
  tr -d '\r' <"$1" | awk -v b="--$2" -v want="$3" '
    $0 == b || $0 == b "--" { if (hit) done = 1; inpart = 1; inhdr = 1; hit = 0; next }
    done { next }
    inpart && inhdr {
      if ($0 == "") { inhdr = 0 }
      else if (index(tolower($0), "content-type:") == 1 && index(tolower($0), want) > 0) { hit = 1 }
      next
    }
    hit { print }'
}

# est_flow KIND TAG: the main flow with KIND client keys; files go to $WORK/TAG.
est_flow() {
  local kind=$1 tag=$2 d=$WORK/$2 cn=$2.example cred code serial serial2 boundary
  mkdir -p "$d"
  section "EST main flow: $kind client keys ($tag)"
  check_cacerts "$d"

  # RFC 7030 §4.2.1 simpleenroll with HTTP Basic and a fresh key.
  cred=$(make_credential "{\"common_name\":\"$cn\",\"sans\":[\"$cn\"]}")
  new_key_csr "$kind" "$d/enrol" "/CN=$cn" -addext "subjectAltName=DNS:$cn"
  code=$(est_post "$d/enrol" simpleenroll "$d/enrol.der" -u "$cred")
  assert_status 200 "$code" "$d/enrol" "$tag: simpleenroll"
  assert_header "$d/enrol" content-type "application/pkcs7-mime" "$tag: simpleenroll answers application/pkcs7-mime"
  certs_from_pkcs7 "$d/cert1.pem" <"$d/enrol.body"
  assert_eq 1 "$(cert_count "$d/cert1.pem")" "$tag: simpleenroll answers exactly one certificate"
  check_client_cert "$d/cert1.pem" "$cn" "DNS:$cn" "$tag: enrolled certificate"
  assert_eq "$(pubkey_of_key "$d/enrol.key")" "$(pubkey_of_cert "$d/cert1.pem")" \
    "$tag: enrolled certificate carries the CSR's key"
  serial=$(serial_of "$d/cert1.pem")
  check_record "$serial" good device "$cn"

  # One-time credential: another CSR is refused, the identical retry gets the same certificate.
  csr_with_key "$d/enrol.key" "$d/other" "/CN=$cn"
  code=$(est_post "$d/spent" simpleenroll "$d/other.der" -u "$cred")
  assert_status 403 "$code" "$d/spent" "$tag: spent credential refused for a different CSR"
  code=$(est_post "$d/retry" simpleenroll "$d/enrol.der" -u "$cred")
  assert_status 200 "$code" "$d/retry" "$tag: identical retry with the spent credential"
  certs_from_pkcs7 "$d/retry.pem" <"$d/retry.body"
  assert_eq "$serial" "$(serial_of "$d/retry.pem")" "$tag: identical retry answers the same serial"
  cmp -s "$d/cert1.pem" "$d/retry.pem" || fail "$tag: identical retry answered a different certificate"
  pass "$tag: identical retry answers the same certificate bytes"

  # RFC 7030 §4.2.2 simplereenroll: TLS client certificate, new key (re-key).
  new_key_csr "$kind" "$d/rekey" "/CN=$cn" -addext "subjectAltName=DNS:$cn"
  code=$(est_post "$d/reenroll" simplereenroll "$d/rekey.der" --cert "$d/cert1.pem" --key "$d/enrol.key")
  assert_status 200 "$code" "$d/reenroll" "$tag: simplereenroll with the current certificate"
  certs_from_pkcs7 "$d/cert2.pem" <"$d/reenroll.body"
  assert_eq 1 "$(cert_count "$d/cert2.pem")" "$tag: simplereenroll answers exactly one certificate"
  check_client_cert "$d/cert2.pem" "$cn" "DNS:$cn" "$tag: re-enrolled certificate"
  assert_eq "$(subject_of "$d/cert1.pem")" "$(subject_of "$d/cert2.pem")" "$tag: re-enrolment keeps the subject"
  assert_eq "$(ext_values "$d/cert1.pem" subjectAltName)" "$(ext_values "$d/cert2.pem" subjectAltName)" \
    "$tag: re-enrolment keeps the SANs"
  assert_eq "$(pubkey_of_key "$d/rekey.key")" "$(pubkey_of_cert "$d/cert2.pem")" \
    "$tag: re-enrolled certificate carries the new key"
  assert_ne "$(pubkey_of_cert "$d/cert1.pem")" "$(pubkey_of_cert "$d/cert2.pem")" "$tag: the key changed"
  serial2=$(serial_of "$d/cert2.pem")
  assert_ne "$serial" "$serial2" "$tag: re-enrolment gives a new serial"
  check_record "$serial2" good device "$cn" "$serial"
  code=$(est_post "$d/reenroll-anon" simplereenroll "$d/rekey.der")
  assert_status 401 "$code" "$d/reenroll-anon" "$tag: simplereenroll without a client certificate"

  # RFC 7030 §4.4 serverkeygen: a PKCS#8 key part and a certs-only part that match.
  cred=$(make_credential "{\"common_name\":\"keygen.$cn\",\"sans\":[\"keygen.$cn\"]}")
  csr_with_key "$d/enrol.key" "$d/skg" "/CN=keygen.$cn"
  code=$(est_post "$d/skg" serverkeygen "$d/skg.der" -u "$cred")
  assert_status 200 "$code" "$d/skg" "$tag: serverkeygen"
  assert_header "$d/skg" content-type "multipart/mixed" "$tag: serverkeygen answers multipart/mixed"
  boundary=$(header "$d/skg" content-type | sed -n 's/.*boundary="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/p')
  [ -n "$boundary" ] || fail "$tag: serverkeygen content type has no boundary: $(header "$d/skg" content-type)"
  multipart_part "$d/skg.body" "$boundary" "application/pkcs8" >"$d/skg-key.b64"
  multipart_part "$d/skg.body" "$boundary" "application/pkcs7-mime" >"$d/skg-cert.b64"
  [ -s "$d/skg-key.b64" ] || fail "$tag: serverkeygen answer has no application/pkcs8 part"
  [ -s "$d/skg-cert.b64" ] || fail "$tag: serverkeygen answer has no application/pkcs7-mime part"
  base64 -d <"$d/skg-key.b64" >"$d/skg-key.der" || fail "$tag: serverkeygen key part is not base64"
  openssl pkcs8 -nocrypt -inform DER -in "$d/skg-key.der" -out "$d/skg-key.pem" 2>"$d/skg-key.err" ||
    fail "$tag: serverkeygen key part is not an unencrypted PKCS#8 key: $(cat "$d/skg-key.err")"
  pass "$tag: serverkeygen key part is a PKCS#8 private key"
  certs_from_pkcs7 "$d/skg-cert.pem" <"$d/skg-cert.b64"
  assert_eq 1 "$(cert_count "$d/skg-cert.pem")" "$tag: serverkeygen certs-only part holds one certificate"
  check_client_cert "$d/skg-cert.pem" "keygen.$cn" "DNS:keygen.$cn" "$tag: serverkeygen certificate"
  assert_eq "$(pubkey_of_key "$d/skg-key.pem")" "$(pubkey_of_cert "$d/skg-cert.pem")" \
    "$tag: serverkeygen key matches the certificate's public key"
  assert_ne "$(pubkey_of_key "$d/enrol.key")" "$(pubkey_of_cert "$d/skg-cert.pem")" \
    "$tag: serverkeygen certifies the server's key, not the CSR's"

  # RFC 7030 §4.5 csrattrs: a DER CsrAttrs SEQUENCE.
  code=$(http "$d/csrattrs" "$EST_URL/csrattrs")
  assert_status 200 "$code" "$d/csrattrs" "$tag: csrattrs"
  assert_header "$d/csrattrs" content-type "application/csrattrs" "$tag: csrattrs is application/csrattrs"
  base64 -d <"$d/csrattrs.body" >"$d/csrattrs.der" || fail "$tag: csrattrs body is not base64"
  openssl asn1parse -inform DER -in "$d/csrattrs.der" >"$d/csrattrs.txt" 2>&1 ||
    fail "$tag: csrattrs does not parse as DER: $(cat "$d/csrattrs.txt")"
  assert_contains "$(head -n 1 "$d/csrattrs.txt")" "cons: SEQUENCE" "$tag: csrattrs is a SEQUENCE"
  assert_contains "$(cat "$d/csrattrs.txt")" "prim: OBJECT" "$tag: csrattrs names at least one OID"
}

# expect_refusal CODE WHAT DER CRED: simpleenroll of DER must be refused with CODE.
expect_refusal() {
  local want=$1 what=$2 der=$3 cred=$4 out code
  out=$WORK/refusals/$(printf '%s' "$what" | tr -c 'A-Za-z0-9' '_')
  code=$(est_post "$out" simpleenroll "$der" -u "$cred")
  assert_status "$want" "$code" "$out" "$what"
}

# est_refusals: requests the server must refuse, and the credential they must not spend.
est_refusals() {
  local d=$WORK/refusals cn=refused.example cred code
  mkdir -p "$d"
  section "EST refusals"
  # One credential for every refused request: a refusal must not spend it (checked at the end).
  cred=$(make_credential "{\"common_name\":\"$cn\",\"sans\":[\"$cn\"]}")
  new_key_csr p256 "$d/good" "/CN=$cn" -addext "subjectAltName=DNS:$cn"

  # A body that is not base64, then base64 that is not a CSR; the server keeps answering.
  printf 'this is %%%% not base64 at all\n' >"$d/garbage.txt"
  code=$(http "$d/garbage" -X POST -H 'Content-Type: application/pkcs10' -u "$cred" \
    --data-binary "@$d/garbage.txt" "$EST_URL/simpleenroll")
  assert_status 400 "$code" "$d/garbage" "garbage (non-base64) body"
  printf 'hello, I am not a PKCS#10 request' >"$d/notcsr.bin"
  expect_refusal 400 "base64 body that is not a CSR" "$d/notcsr.bin" "$cred"
  head -c "$(($(wc -c <"$d/good.der") / 2))" "$d/good.der" >"$d/truncated.der"
  expect_refusal 400 "truncated CSR" "$d/truncated.der" "$cred"
  # Just over the default 64 KiB limit. Kept small on purpose: the server answers 413 as soon
  # as it sees Content-Length, and a much larger upload makes curl 7.x report its own HTTP/2
  # "stream error" (early response + RST_STREAM NO_ERROR, RFC 9113 §8.1) instead of the 413.
  head -c 70000 /dev/zero | tr '\0' 'A' >"$d/huge.txt"
  code=$(http "$d/huge" -X POST -H 'Content-Type: application/pkcs10' -u "$cred" \
    --data-binary "@$d/huge.txt" "$EST_URL/simpleenroll")
  assert_status 413 "$code" "$d/huge" "a 70 000-byte body (over the default 64 KiB limit)"
  code=$(http "$d/health" "$BASE_URL/healthz")
  assert_status 200 "$code" "$d/health" "server still answers /healthz after garbage"

  # RFC 7030 §3.2.3: no or wrong credentials → 401 with a Basic challenge.
  code=$(est_post "$d/nocred" simpleenroll "$d/good.der")
  assert_status 401 "$code" "$d/nocred" "simpleenroll without credentials"
  assert_header "$d/nocred" www-authenticate "Basic" "401 carries WWW-Authenticate: Basic"
  code=$(est_post "$d/badpass" simpleenroll "$d/good.der" -u "${cred%%:*}:wrong-password")
  assert_status 401 "$code" "$d/badpass" "simpleenroll with a wrong password"
  assert_header "$d/badpass" www-authenticate "Basic" "401 (wrong password) carries WWW-Authenticate"
  code=$(est_post "$d/nouser" simpleenroll "$d/good.der" -u "est-nosuchuser:${cred#*:}")
  assert_status 401 "$code" "$d/nouser" "simpleenroll with an unknown username"
  code=$(est_post "$d/nocred-skg" serverkeygen "$d/good.der")
  assert_status 401 "$code" "$d/nocred-skg" "serverkeygen without credentials"

  # RFC 7030 §4.2.1: the request must be application/pkcs10.
  base64 "$d/good.der" >"$d/good.b64"
  code=$(http "$d/ctype" -X POST -H 'Content-Type: text/plain' -u "$cred" \
    --data-binary "@$d/good.b64" "$EST_URL/simpleenroll")
  assert_status 415 "$code" "$d/ctype" "simpleenroll with Content-Type text/plain"

  # RFC 7030 §4.3: full CMC is optional and not offered.
  code=$(est_post "$d/fullcmc" fullcmc "$d/good.der" -u "$cred")
  assert_status 501 "$code" "$d/fullcmc" "fullcmc is not implemented"

  # CSR policy: names and extensions come from the credential and the profile, not the CSR.
  csr_with_key "$d/good.key" "$d/extra-san" "/CN=$cn" -addext "subjectAltName=DNS:$cn,DNS:not-granted.example"
  expect_refusal 400 "CSR with a SAN the credential does not grant" "$d/extra-san.der" "$cred"
  csr_with_key "$d/good.key" "$d/other-cn" "/CN=someone-else.example"
  expect_refusal 400 "CSR with a commonName the credential does not grant" "$d/other-cn.der" "$cred"
  csr_with_key "$d/good.key" "$d/org" "/O=Evil Corp/CN=$cn"
  expect_refusal 400 "CSR with O= in the subject" "$d/org.der" "$cred"
  csr_with_key "$d/good.key" "$d/ca-true" "/CN=$cn" -addext "basicConstraints=critical,CA:TRUE"
  expect_refusal 400 "CSR requesting basicConstraints CA:TRUE" "$d/ca-true.der" "$cred"
  new_key_csr rsa1024 "$d/rsa1024" "/CN=$cn"
  expect_refusal 400 "CSR with an RSA 1024 key" "$d/rsa1024.der" "$cred"
  if openssl req -new -sha1 -key "$d/good.key" -subj "/CN=$cn" -outform DER -out "$d/sha1.der" 2>"$d/sha1.err"; then
    assert_contains "$(openssl req -inform DER -in "$d/sha1.der" -noout -text)" "ecdsa-with-SHA1" \
      "openssl made a SHA-1-signed CSR"
    expect_refusal 400 "SHA-1-signed CSR" "$d/sha1.der" "$cred"
  else
    # Some openssl builds (security level ≥ 1 with SHA-1 disabled for signing) refuse to make
    # one; then this case cannot be driven from the command line.
    echo "skip - SHA-1-signed CSR: local openssl refuses to sign with SHA-1: $(head -n 1 "$d/sha1.err")"
  fi

  # None of the refusals spent the credential.
  code=$(est_post "$d/after" simpleenroll "$d/good.der" -u "$cred")
  assert_status 200 "$code" "$d/after" "the credential still works after the refused requests"
  certs_from_pkcs7 "$d/after.pem" <"$d/after.body"
  check_client_cert "$d/after.pem" "$cn" "DNS:$cn" "certificate after refusals"

  # Re-enrolment keeps the names of the presented certificate; a CSR may not widen them.
  csr_with_key "$d/good.key" "$d/re-san" "/CN=$cn" -addext "subjectAltName=DNS:$cn,DNS:not-granted.example"
  code=$(est_post "$d/re-san" simplereenroll "$d/re-san.der" --cert "$d/after.pem" --key "$d/good.key")
  assert_status 400 "$code" "$d/re-san" "simplereenroll CSR with a SAN the certificate does not have"
  csr_with_key "$d/good.key" "$d/re-cn" "/CN=someone-else.example"
  code=$(est_post "$d/re-cn" simplereenroll "$d/re-cn.der" --cert "$d/after.pem" --key "$d/good.key")
  assert_status 400 "$code" "$d/re-cn" "simplereenroll CSR with another commonName"
}

# est_person_label: `[est.labels.staff] profile = "person"` — email SANs, clientAuth and
# emailProtection, and the credential is bound to its label.
est_person_label() {
  local d=$WORK/label cn="Alice Example" email=alice@example.com cred code verdict
  mkdir -p "$d"
  section "EST label 'staff' (person profile)"
  code=$(http "$d/cacerts" "$EST_URL/staff/cacerts")
  assert_status 200 "$code" "$d/cacerts" "cacerts under the label"
  code=$(http "$d/unknown" "$EST_URL/no-such-label/cacerts")
  assert_status 404 "$code" "$d/unknown" "cacerts under an unknown label"

  cred=$(make_credential "{\"label\":\"staff\",\"common_name\":\"$cn\",\"sans\":[\"$email\"]}")
  new_key_csr p256 "$d/alice" "/CN=$cn" -addext "subjectAltName=email:$email"
  code=$(est_post "$d/wrong-path" simpleenroll "$d/alice.der" -u "$cred")
  assert_status 403 "$code" "$d/wrong-path" "label credential refused on the default path"
  # RFC 8951 §3: base64 without line breaks is as good as with them.
  base64 <"$d/alice.der" | tr -d '\n' >"$d/alice.b64"
  code=$(http "$d/enrol" -X POST -H 'Content-Type: application/pkcs10' -u "$cred" \
    --data-binary "@$d/alice.b64" "$EST_URL/staff/simpleenroll")
  assert_status 200 "$code" "$d/enrol" "simpleenroll under the label (base64 without line breaks)"
  certs_from_pkcs7 "$d/alice.pem" <"$d/enrol.body"
  for purpose in sslclient smimesign; do
    verdict=$(openssl verify -CAfile "$SERVER_DIR/ca-bundle.pem" -purpose "$purpose" "$d/alice.pem" 2>&1) ||
      fail "person certificate: openssl verify -purpose $purpose failed: $verdict"
    pass "person certificate: openssl verify -purpose $purpose"
  done
  assert_eq "TLS Web Client Authentication, E-mail Protection" "$(ext_values "$d/alice.pem" extendedKeyUsage)" \
    "person certificate: EKU clientAuth + emailProtection"
  assert_eq "email:$email" "$(ext_values "$d/alice.pem" subjectAltName)" "person certificate: email SAN"
  # The person profile is S/MIME BR mailbox-validated (docs/smime.md): the subject is the
  # address, whatever CN the credential and the CSR name; the reserved policy OID is there.
  assert_eq "CN=$email" "$(openssl x509 -in "$d/alice.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" \
    "person certificate: subject is the address"
  assert_contains "$(openssl x509 -in "$d/alice.pem" -noout -text)" "Policy: 2.23.140.1.5.1.2" \
    "person certificate: S/MIME BR mailbox-validated multipurpose policy"
  check_record "$(serial_of "$d/alice.pem")" good person "$email"
}

# ca_variant KEY_TYPE EXPECTED_ALGORITHM: a CA made by `enrolld init --key-type`, then the main
# flow with P-256 client keys.
ca_variant() {
  local kt=$1 alg=$2 dir=$WORK/ca-$1 text
  section "CA created with --key-type $kt"
  "$ENROLLD_BIN" init --data-dir "$dir" --key-type "$kt" >"$WORK/init-$kt.log" 2>&1 ||
    fail "enrolld init --key-type $kt failed: $(cat "$WORK/init-$kt.log")"
  text=$(openssl x509 -in "$dir/ca-bundle.pem" -noout -text)
  assert_contains "$text" "Public Key Algorithm: $alg" "init --key-type $kt makes a $alg CA"
  start_server "$dir"
  est_flow p256 "$kt-ca"
  # The embedded default names plain-HTTP status URLs, and the CRL is there.
  local cdp
  cdp=$(ext_values "$WORK/$kt-ca/cert1.pem" crlDistributionPoints | sed -n 's/^URI://p')
  assert_eq "$STATUS_URL/crl/issuing.crl" "$cdp" "$kt-ca: CDP names the status listener"
  assert_contains "$cdp" "http://localhost:" "$kt-ca: CDP is plain http"
  assert_contains "$(ext_values "$WORK/$kt-ca/cert1.pem" authorityInfoAccess)" \
    "OCSP - URI:$STATUS_URL/ocsp" "$kt-ca: AIA OCSP names the status listener"
  curl --noproxy '*' -sS --max-time 20 -o "$WORK/$kt-ca/crl.der" "$cdp" ||
    fail "$kt-ca: cannot fetch $cdp"
  openssl crl -inform DER -in "$WORK/$kt-ca/crl.der" -noout >/dev/null 2>&1 ||
    fail "$kt-ca: $cdp is not a DER CRL"
  pass "$kt-ca: the CRL is served at the CDP over plain HTTP"
  stop_server
}

START=$SECONDS
section "P-256 CA (the default) with a 'staff' label"
printf '[est.labels.staff]\nprofile = "person"\n' >"$WORK/enrolld.toml"
start_server "$WORK/ca-default" --config "$WORK/enrolld.toml"
est_flow p256 p256
est_flow p384 p384
est_flow rsa3072 rsa3072
est_refusals
est_person_label
stop_server

ca_variant ed25519 ED25519
ca_variant rsa3072 rsaEncryption
assert_contains "$(openssl x509 -in "$WORK/ca-rsa3072/ca-bundle.pem" -noout -text)" "(3072 bit)" \
  "init --key-type rsa3072 makes a 3072-bit key"

echo
echo "est.sh: all checks passed in $((SECONDS - START)) s"
