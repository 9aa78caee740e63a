#!/usr/bin/env bash
# SCEP (RFC 8894) with real clients over the plain-HTTP listener, challenges from the registry:
#
#   1. micromdm's scepclient (Debian package `scep`, 2.1.0) on a legacy label: GetCACaps per
#      path, an enrolment whose certificate carries the registry's names, not the CSR's; the
#      same client is refused (badAlg) on the default path.
#   2. Its renewal (RenewalReq signed with the issued certificate) keeps the names.
#   3. A wrong, unknown, expired, spent or other-path challenge gets FAILURE and issues nothing.
#   4. A path that needs approval: PENDING, the client polls, an admin approves, it completes.
#   5. Revocation through the admin API shows in OCSP and in the CRL; the revoked certificate
#      cannot sign a renewal.
#   6. certmonger: scep-submit (GetCACaps, GetCACert), then getcert with certmonger-session on a
#      private D-Bus session bus, on the default (non-legacy) path: enrolment, a wrong
#      challenge, re-enrolment with a new challenge, and an approval path.
#
# scepclient 2.1.0 always signs with SHA-1 and encrypts with DES, so it needs a `legacy` path;
# certmonger reads GetCACaps and picks AES-256 and SHA-256 (see docs/scep-clients.md).
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

need scepclient python3
# scepclient sleeps 30 s between polls of a pending request: one poll must fit.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-120}

# api OUT METHOD PATH [JSON]: one admin API request; prints the status code.
api() {
  local out=$1 method=$2 path=$3
  shift 3
  if [ $# -ge 1 ]; then
    http "$out" -X "$method" -H "Authorization: Bearer $(admin_token)" \
      -H 'Content-Type: application/json' --data-binary "$1" "$BASE_URL$path"
  else
    http "$out" -X "$method" -H "Authorization: Bearer $(admin_token)" "$BASE_URL$path"
  fi
}

# json_field FILE EXPR: a value of a JSON document by a Python expression on `d`.
json_field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# register_device EXTERNAL_ID NAME DNS_NAME...: registers a device; prints its subject id.
register_device() {
  local ext=$1 name=$2 out=$WORK/device.$1 code dns
  shift 2
  dns=$(printf '"%s",' "$@")
  code=$(api "$out" POST /api/v1/devices "{\"external_id\":\"$ext\",\"name\":\"$name\",\"dns_names\":[${dns%,}]}")
  [ "$code" = 201 ] || fail "registering device $name: expected HTTP 201, got $code: $(head -c 400 "$out.body")"
  json_field "$out.body" 'd["subject"]["id"]'
}

# scep_challenge SUBJECT_ID EXTRA_JSON: a SCEP challenge for the subject (EXTRA_JSON: more
# request fields, e.g. `"label":"legacy",`); prints it, and leaves the answer in
# $WORK/challenge.body.
scep_challenge() {
  local out=$WORK/challenge code
  code=$(api "$out" POST "/api/v1/subjects/$1/credentials" "{$2\"kind\":\"scep\"}")
  [ "$code" = 201 ] || fail "creating a SCEP challenge ($2): expected HTTP 201, got $code: $(head -c 400 "$out.body")"
  json_string "$out.body" challenge
}

# cert_count_of SUBJECT_ID: how many certificates the registry lists for the subject.
cert_count_of() {
  local out=$WORK/subject code
  code=$(api "$out" GET "/api/v1/subjects/$1")
  [ "$code" = 200 ] || fail "reading subject $1: expected HTTP 200, got $code"
  json_field "$out.body" 'len(d["certificates"])'
}

# scepclient_run DIR URL [ARGS...]: scepclient with the key DIR/key.pem and the certificate
# DIR/cert.pem (a renewal when it exists), encrypting to the RA certificate only; its output
# in DIR/out. Returns its exit status.
scepclient_run() {
  local dir=$1 url=$2
  shift 2
  mkdir -p "$dir"
  run_client "$dir/out" scepclient -server-url "$url" -private-key "$dir/key.pem" \
    -certificate "$dir/cert.pem" -ca-fingerprint "$RA_FINGERPRINT" "$@"
}

# check_scep_cert PEM KEY WHAT: the certificate of the registry device $DEV_NAME ($DEV_SANS):
# RFC 5280-strict chain to the bundle for TLS client use, the registry's names and none of
# the CSR's, EKU clientAuth, AKI = the issuing CA's SKI, an SKI, a serial of at least 64 bits,
# and the client's key.
check_scep_cert() {
  local pem=$1 key=$2 what=$3 verdict bits
  verdict=$(openssl verify -x509_strict -purpose sslclient -CAfile "$SERVER_DIR/ca-bundle.pem" "$pem" 2>&1) ||
    fail "$what: openssl verify -x509_strict failed: $verdict"
  assert_eq "$pem: OK" "$verdict" "$what: chains to the CA bundle (openssl verify -x509_strict -purpose sslclient)"
  assert_eq "subject=CN = $DEV_NAME" "$(subject_of "$pem")" "$what: subject is the registry's name only"
  assert_eq "$DEV_SANS" "$(ext_values "$pem" subjectAltName)" "$what: SANs are the registry's DNS names"
  assert_eq "TLS Web Client Authentication" "$(ext_values "$pem" extendedKeyUsage)" "$what: EKU is clientAuth"
  assert_contains "$(ext_values "$pem" basicConstraints)" "CA:FALSE" "$what: basicConstraints CA:FALSE"
  assert_eq "$(ext_values "$ISSUING" subjectKeyIdentifier)" "$(ext_values "$pem" authorityKeyIdentifier)" \
    "$what: AKI is the issuing CA's SKI"
  [ -n "$(ext_values "$pem" subjectKeyIdentifier)" ] || fail "$what: no subjectKeyIdentifier"
  pass "$what: has a subjectKeyIdentifier"
  bits=$(python3 -c 'import sys; print(int(sys.argv[1], 16).bit_length())' "$(serial_of "$pem")")
  [ "$bits" -ge 64 ] || fail "$what: serial has only $bits bits"
  pass "$what: serial has $bits bits (at least 64)"
  assert_eq "$(pubkey_of_key "$key")" "$(pubkey_of_cert "$pem")" "$what: certifies the client's key"
}

START=$SECONDS
# scepclient polls a PENDING request every 30 s over the connection it kept open; the default
# 75-second idle limit keeps it open (docs/scep-clients.md).
cat >"$WORK/enrolld.toml" <<'TOML'
[scep.labels.legacy]
legacy = true

[scep.labels.approve]
legacy = true
require_approval = true
TOML
# --config turns off start_server's own plain listener: ask for it on port 0 here.
start_server "$WORK/data" --config "$WORK/enrolld.toml" --http-listen 127.0.0.1:0
[ -n "$STATUS_URL" ] || fail "the banner names no plain-HTTP listener"
SCEP_URL=$STATUS_URL/scep
RA_FINGERPRINT=$(openssl x509 -in "$SERVER_DIR/ca/scep-ra.crt" -outform DER | sha256sum | cut -d' ' -f1)
ISSUING=$WORK/issuing.pem
curl --noproxy '*' -sS --max-time 20 "$STATUS_URL/ca/issuing.crt" | openssl x509 -inform DER -out "$ISSUING" ||
  fail "cannot fetch the issuing CA certificate from $STATUS_URL/ca/issuing.crt"

DEV_NAME=printer-1.scep.example
DEV_SANS="DNS:p1.scep.example, DNS:printer-1.scep.example"
DEV_ID=$(register_device scep-dev-1 "$DEV_NAME" "$DEV_NAME" p1.scep.example)

section "1. scepclient on the legacy label: capabilities and enrolment"
for path in "" /legacy; do
  caps=$(curl --noproxy '*' -sS --max-time 20 "$SCEP_URL$path?operation=GetCACaps")
  for cap in AES SHA-256 SHA-512 POSTPKIOperation Renewal SCEPStandard; do
    assert_contains $'\n'"$caps"$'\n' $'\n'"$cap"$'\n' "GetCACaps on /scep$path lists $cap"
  done
  if [ -n "$path" ]; then
    assert_contains $'\n'"$caps"$'\n' $'\n'"DES3"$'\n' "GetCACaps on /scep$path (legacy) lists DES3"
    assert_contains $'\n'"$caps"$'\n' $'\n'"SHA-1"$'\n' "GetCACaps on /scep$path (legacy) lists SHA-1"
  else
    assert_not_contains "$caps" "DES3" "GetCACaps on /scep (not legacy) does not list DES3"
    assert_not_contains $'\n'"$caps"$'\n' $'\n'"SHA-1"$'\n' "GetCACaps on /scep (not legacy) does not list SHA-1"
  fi
done

before=$(cert_count_of "$DEV_ID")
ch=$(scep_challenge "$DEV_ID" '"label":"legacy",')
CH1=$ch
assert_eq "$SCEP_URL/legacy" "$(json_string "$WORK/challenge.body" url)" "the challenge names the plain-HTTP legacy URL"
C1=$WORK/c1
scepclient_run "$C1" "$SCEP_URL/legacy" -challenge "$ch" -cn csr-chosen.example -organization csr-org ||
  fail "scepclient enrolment failed: $(tail -n 5 "$C1/out")"
assert_file_contains "$C1/out" "pkiStatus=SUCCESS" "scepclient: SUCCESS"
assert_contains "$(openssl req -in "$C1/csr.pem" -noout -subject)" "CN = csr-chosen.example" \
  "scepclient's CSR asked for another CN"
check_scep_cert "$C1/cert.pem" "$C1/key.pem" "scepclient certificate"
assert_not_contains "$(openssl x509 -in "$C1/cert.pem" -noout -text)" "csr-chosen.example" \
  "scepclient certificate: no trace of the CSR's CN"
SERIAL1=$(serial_of "$C1/cert.pem")
code=$(get_certificate "$WORK/rec1" "$SERIAL1")
assert_status 200 "$code" "$WORK/rec1" "admin API knows serial $SERIAL1"
assert_eq scep "$(json_string "$WORK/rec1.body" channel)" "record: channel scep"
assert_eq legacy "$(json_string "$WORK/rec1.body" label)" "record: label legacy"
assert_eq "$DEV_ID" "$(json_string "$WORK/rec1.body" subject_id)" "record: the registry subject"
assert_eq $((before + 1)) "$(cert_count_of "$DEV_ID")" "the subject has one more certificate"

# The same client on the default path: its SHA-1 signature is refused before the challenge is
# read (it never asks GetCACaps for algorithms), so it needs a legacy label.
ch=$(scep_challenge "$DEV_ID" '')
if scepclient_run "$WORK/c1-default" "$SCEP_URL" -challenge "$ch"; then
  fail "scepclient (SHA-1, DES) enrolled on the non-legacy default path"
fi
assert_file_contains "$WORK/c1-default/out" "failInfo: badAlg" "scepclient on /scep (not legacy): FAILURE badAlg"
[ ! -e "$WORK/c1-default/cert.pem" ] || fail "scepclient wrote a certificate after badAlg"
assert_eq $((before + 1)) "$(cert_count_of "$DEV_ID")" "badAlg issued nothing"

section "2. scepclient renewal (RenewalReq signed with the issued certificate)"
# scepclient sends a RenewalReq when the -certificate file exists: signed with that
# certificate and its key, for the CSR it saved beside the key (same key, no challenge).
cp "$C1/cert.pem" "$WORK/c1-first.pem"
scepclient_run "$C1" "$SCEP_URL/legacy" || fail "scepclient renewal failed: $(tail -n 5 "$C1/out")"
assert_file_contains "$C1/out" "pkiStatus=SUCCESS" "renewal: SUCCESS"
check_scep_cert "$C1/cert.pem" "$C1/key.pem" "renewed certificate"
SERIAL2=$(serial_of "$C1/cert.pem")
assert_ne "$SERIAL1" "$SERIAL2" "renewal gives a new serial"
assert_eq "$(subject_of "$WORK/c1-first.pem")" "$(subject_of "$C1/cert.pem")" "renewal keeps the subject"
assert_eq "$(ext_values "$WORK/c1-first.pem" subjectAltName)" "$(ext_values "$C1/cert.pem" subjectAltName)" \
  "renewal keeps the SANs"
code=$(get_certificate "$WORK/rec2" "$SERIAL2")
assert_status 200 "$code" "$WORK/rec2" "admin API knows the renewed serial"
assert_eq scep-renewal "$(json_string "$WORK/rec2.body" channel)" "record: channel scep-renewal"
assert_eq "$SERIAL1" "$(json_string "$WORK/rec2.body" replaces)" "record: replaces the first certificate"
assert_eq "$DEV_ID" "$(json_string "$WORK/rec2.body" subject_id)" "record: the same registry subject"
# The same renewal again (first certificate, same CSR): the same certificate, nothing new.
count=$(cert_count_of "$DEV_ID")
cp "$C1/cert.pem" "$WORK/c1-second.pem"
cp "$WORK/c1-first.pem" "$C1/cert.pem"
scepclient_run "$C1" "$SCEP_URL/legacy" || fail "repeated renewal failed: $(tail -n 5 "$C1/out")"
assert_eq "$SERIAL2" "$(serial_of "$C1/cert.pem")" "the repeated renewal answers the same certificate"
cmp -s "$C1/cert.pem" "$WORK/c1-second.pem" || fail "the repeated renewal answered different bytes"
pass "the repeated renewal answers the same bytes"
assert_eq "$count" "$(cert_count_of "$DEV_ID")" "the repeated renewal issued nothing"

section "3. wrong, expired and reused challenges: FAILURE, nothing issued"
count=$(cert_count_of "$DEV_ID")
# refused DIR WHAT CHALLENGE: scepclient must fail with failInfo badRequest and write nothing.
refused() {
  local dir=$WORK/$1 what=$2
  if scepclient_run "$dir" "$SCEP_URL/legacy" -challenge "$3"; then
    fail "$what: scepclient enrolled"
  fi
  assert_file_contains "$dir/out" "PKCSReq (19) request failed, failInfo: badRequest" "$what: FAILURE badRequest"
  [ ! -e "$dir/cert.pem" ] || fail "$what: scepclient wrote a certificate"
  assert_eq "$count" "$(cert_count_of "$DEV_ID")" "$what: nothing issued"
}
ch=$(scep_challenge "$DEV_ID" '"label":"legacy",')
refused wrong "a challenge with a wrong secret" "${ch%%.*}.not-the-secret"
refused unknown "an unknown challenge" "scep-AAAAAAAAAAAA.not-the-secret"
ch=$(scep_challenge "$DEV_ID" '"label":"legacy","expires_in":1,')
sleep 2
refused expired "a challenge that expired" "$ch"
refused reused "the challenge already spent in part 1" "$CH1"
ch=$(scep_challenge "$DEV_ID" '')
refused other-path "a challenge of the default path, used on the legacy label" "$ch"

section "4. approval: PENDING, scepclient polls, an administrator approves"
# scepclient 2.1.0 polls a PENDING request by sending the same PKCSReq again every 30 s.
count=$(cert_count_of "$DEV_ID")
ch=$(scep_challenge "$DEV_ID" '"label":"approve",')
C4=$WORK/c4
mkdir -p "$C4"
NO_PROXY=localhost,127.0.0.1 no_proxy=localhost,127.0.0.1 \
  timeout --kill-after=5 "$CLIENT_TIMEOUT" scepclient -server-url "$SCEP_URL/approve" \
  -private-key "$C4/key.pem" -certificate "$C4/cert.pem" -ca-fingerprint "$RA_FINGERPRINT" \
  -challenge "$ch" </dev/null >"$C4/out" 2>&1 &
C4_PID=$!
ALL_CLIENT_PIDS+=("$C4_PID")
deadline=$((SECONDS + 30))
until grep -q "pkiStatus=PENDING" "$C4/out"; do
  kill -0 "$C4_PID" 2>/dev/null || fail "scepclient ended without PENDING: $(tail -n 5 "$C4/out")"
  [ "$SECONDS" -lt "$deadline" ] || fail "scepclient saw no PENDING within 30 s: $(tail -n 5 "$C4/out")"
  sleep 0.2
done
pass "scepclient: PENDING, and it waits to poll"
code=$(api "$WORK/approvals" GET /api/v1/approvals)
assert_status 200 "$code" "$WORK/approvals" "list pending approvals"
APPROVAL=$(json_field "$WORK/approvals.body" \
  "next(a['id'] for a in d['approvals'] if a['subject_id'] == '$DEV_ID' and a['status'] == 'pending')")
assert_eq "$DEV_NAME" "$(json_field "$WORK/approvals.body" \
  "next(a['common_name'] for a in d['approvals'] if a['id'] == '$APPROVAL')")" "the approver sees the registry's name"
assert_eq "$count" "$(cert_count_of "$DEV_ID")" "nothing issued while pending"
code=$(api "$WORK/approve" POST "/api/v1/approvals/$APPROVAL/approve")
assert_status 200 "$code" "$WORK/approve" "approve $APPROVAL"
rc=0
wait "$C4_PID" || rc=$?
[ "$rc" = 0 ] || fail "scepclient did not complete after the approval (exit $rc): $(tail -n 5 "$C4/out")"
assert_file_contains "$C4/out" "pkiStatus=SUCCESS" "scepclient's next poll: SUCCESS"
check_scep_cert "$C4/cert.pem" "$C4/key.pem" "approved certificate"
assert_eq $((count + 1)) "$(cert_count_of "$DEV_ID")" "one certificate issued after the approval"

section "5. revocation shows in OCSP and in the CRL"
ocsp_status() { # ocsp_status CERT: openssl ocsp against the plain listener, verified
  openssl ocsp -issuer "$ISSUING" -cert "$1" -url "$STATUS_URL/ocsp" \
    -CAfile "$SERVER_DIR/ca-bundle.pem" 2>&1
}
out=$(ocsp_status "$C1/cert.pem")
assert_contains "$out" "Response verify OK" "OCSP response verifies"
assert_contains "$out" "$C1/cert.pem: good" "OCSP: the renewed certificate is good"
code=$(api "$WORK/revoke" POST "/api/v1/certificates/$SERIAL2/revoke" '{"reason":"keyCompromise"}')
assert_status 200 "$code" "$WORK/revoke" "admin API revokes $SERIAL2"
out=$(ocsp_status "$C1/cert.pem")
assert_contains "$out" "Response verify OK" "OCSP response verifies after the revocation"
assert_contains "$out" "$C1/cert.pem: revoked" "OCSP: revoked"
assert_contains "$out" "Reason: keyCompromise" "OCSP: reason keyCompromise"
curl --noproxy '*' -sS --max-time 20 -o "$WORK/issuing.crl" "$STATUS_URL/crl/issuing.crl" ||
  fail "cannot fetch $STATUS_URL/crl/issuing.crl"
openssl crl -inform DER -in "$WORK/issuing.crl" -CAfile "$SERVER_DIR/ca-bundle.pem" -noout 2>"$WORK/crl.err" ||
  fail "the CRL does not verify: $(cat "$WORK/crl.err")"
pass "the CRL verifies against the CA bundle"
crl_serials=$(openssl crl -inform DER -in "$WORK/issuing.crl" -noout -text | sed -n 's/^ *Serial Number: *//p' |
  tr '[:upper:]' '[:lower:]')
assert_contains $'\n'"$crl_serials"$'\n' $'\n'"$SERIAL2"$'\n' "the CRL lists $SERIAL2"
assert_not_contains "$crl_serials" "$SERIAL1" "the CRL does not list the unrevoked first certificate"
# A revoked certificate cannot sign a renewal.
count=$(cert_count_of "$DEV_ID")
if scepclient_run "$C1" "$SCEP_URL/legacy"; then
  fail "scepclient renewed with a revoked certificate"
fi
assert_file_contains "$C1/out" "RenewalReq (17) request failed, failInfo: badCertID" \
  "renewal signed with the revoked certificate: FAILURE badCertId"
assert_eq "$count" "$(cert_count_of "$DEV_ID")" "the refused renewal issued nothing"

section "6. certmonger: scep-submit, then getcert with its daemon on a private session bus"
SCEP_SUBMIT=/usr/lib/certmonger/scep-submit
CERTMONGER=/usr/lib/certmonger/certmonger-session
for tool in "$SCEP_SUBMIT" "$CERTMONGER"; do
  [ -x "$tool" ] || fail "required tool '$tool' is not installed (Debian package certmonger)"
done
need getcert dbus-daemon
run_client "$WORK/cm-caps" "$SCEP_SUBMIT" -u "$SCEP_URL" -c || fail "scep-submit -c failed: $(cat "$WORK/cm-caps")"
for cap in AES SHA-256 SHA-512 POSTPKIOperation Renewal SCEPStandard; do
  assert_file_contains "$WORK/cm-caps" "$cap" "scep-submit -c (GetCACaps) reads $cap"
done
assert_file_lacks "$WORK/cm-caps" "DES3" "scep-submit -c: no DES3 on the default path"
run_client "$WORK/cm-certs" "$SCEP_SUBMIT" -u "$SCEP_URL" -C || fail "scep-submit -C failed: $(cat "$WORK/cm-certs")"
# The first certificate is the RA certificate; the others are the CA chain.
assert_eq "$RA_FINGERPRINT" "$(openssl x509 -in "$WORK/cm-certs" -outform DER | sha256sum | cut -d' ' -f1)" \
  "scep-submit -C (GetCACert) reads the RA certificate first"
check_chain_from_ca <(awk 'n > 0 || /-----END CERTIFICATE-----/ { if (n++ > 0) print; next }' "$WORK/cm-certs" |
  sed '/^$/d') "scep-submit -C: the rest is the CA chain"
assert_eq 3 "$(cert_count "$WORK/cm-certs")" "scep-submit -C: RA, issuing CA and root"

# The daemon's state stays in $CM: certmonger-session keeps it under $HOME/.config/certmonger
# (the system daemon, /usr/sbin/certmonger, would use /var/lib/certmonger even on -s).
CM=$WORK/cm
mkdir -p "$CM/home" "$CM/tmp"
cat >"$CM/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$CM/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
XML
dbus-daemon --config-file="$CM/bus.conf" --nofork --print-address=1 >"$CM/bus.address" 2>"$CM/bus.log" </dev/null &
ALL_CLIENT_PIDS+=("$!")
deadline=$((SECONDS + 20))
until [ -s "$CM/bus.address" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "dbus-daemon did not start: $(cat "$CM/bus.log")"
  sleep 0.1
done
export DBUS_SESSION_BUS_ADDRESS
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$CM/bus.address")
export HOME=$CM/home CERTMONGER_TMPDIR=$CM/tmp
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
  "$CERTMONGER" -n -B -d 2 </dev/null >"$CM/certmonger.log" 2>&1 &
CM_PID=$!
ALL_CLIENT_PIDS+=("$CM_PID")
deadline=$((SECONDS + 30))
until getcert list -s >/dev/null 2>&1; do
  kill -0 "$CM_PID" 2>/dev/null || fail "certmonger exited: $(tail -n 15 "$CM/certmonger.log")"
  [ "$SECONDS" -lt "$deadline" ] || fail "certmonger did not answer on the session bus within 30 s"
  sleep 0.2
done
pass "certmonger runs on a private session bus"
getcert add-scep-ca -s -c enrolld -u "$SCEP_URL" >"$CM/add-ca.out" 2>&1 ||
  fail "getcert add-scep-ca failed: $(cat "$CM/add-ca.out")"
pass "getcert add-scep-ca -c enrolld -u $SCEP_URL"

# cm_wait ID: waits (60 s at most) until request ID leaves the states on the way to an
# answer; prints its status.
cm_wait() {
  local st deadline=$((SECONDS + 60))
  while :; do
    st=$(getcert list -s -i "$1" | sed -n 's/^[[:space:]]*status: //p')
    case $st in
      MONITORING | CA_REJECTED | CA_UNREACHABLE | CA_UNCONFIGURED | NEED_GUIDANCE | NEED_CA | CA_WORKING)
        echo "$st"
        return
        ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || { echo "TIMEOUT:$st"; return; }
    sleep 0.5
  done
}

DEV_NAME=laptop-2.scep.example
DEV_SANS="DNS:laptop-2.scep.example"
DEV2_ID=$(register_device scep-dev-2 "$DEV_NAME" "$DEV_NAME")
ch=$(scep_challenge "$DEV2_ID" '')
getcert request -s -c enrolld -I cm-enrol -L "$ch" -N CN=certmonger-chosen.example \
  -k "$CM/key.pem" -f "$CM/cert.pem" >"$CM/request.out" 2>&1 ||
  fail "getcert request failed: $(cat "$CM/request.out")"
status=$(cm_wait cm-enrol)
getcert list -s -i cm-enrol >"$CM/list.out" 2>&1 || true
[ "$status" = MONITORING ] || fail "certmonger request ended in $status: $(cat "$CM/list.out")"
pass "getcert request: the certificate is issued and monitored"
assert_file_contains "$CM/certmonger.log" "Server supports AES, using AES256." "certmonger encrypts with AES-256"
assert_file_contains "$CM/certmonger.log" "Server supports SHA-256, using that." "certmonger signs with SHA-256"
check_scep_cert "$CM/cert.pem" "$CM/key.pem" "certmonger certificate"
code=$(get_certificate "$WORK/rec-cm" "$(serial_of "$CM/cert.pem")")
assert_status 200 "$code" "$WORK/rec-cm" "admin API knows the certmonger certificate"
assert_eq "$DEV2_ID" "$(json_string "$WORK/rec-cm.body" subject_id)" "record: the registry subject"

# A wrong challenge: certmonger reads the FAILURE and stops.
count=$(cert_count_of "$DEV2_ID")
getcert request -s -c enrolld -I cm-wrong -L "${ch%%.*}.not-the-secret" \
  -k "$CM/wrong.key" -f "$CM/wrong.pem" >"$CM/wrong.out" 2>&1 ||
  fail "getcert request failed: $(cat "$CM/wrong.out")"
status=$(cm_wait cm-wrong)
getcert list -s -i cm-wrong >"$CM/wrong-list.out" 2>&1 || true
assert_eq CA_REJECTED "$status" "certmonger with a wrong challenge: CA_REJECTED"
# certmonger's words for failInfo badRequest; before CertRep FAILURE carried an (empty)
# eContent, OpenSSL could not verify it and certmonger reported CA_UNREACHABLE instead.
assert_file_contains "$CM/wrong-list.out" "Transaction either is not permitted or is not supported by server." \
  "certmonger reads the FAILURE's failInfo badRequest"
[ ! -e "$CM/wrong.pem" ] || fail "certmonger wrote a certificate for a wrong challenge"
assert_eq "$count" "$(cert_count_of "$DEV2_ID")" "the wrong challenge issued nothing"

# certmonger renews with a PKCSReq, not a RenewalReq: it needs a new challenge.
first=$(serial_of "$CM/cert.pem")
ch=$(scep_challenge "$DEV2_ID" '')
getcert resubmit -s -i cm-enrol -L "$ch" >"$CM/resubmit.out" 2>&1 ||
  fail "getcert resubmit failed: $(cat "$CM/resubmit.out")"
deadline=$((SECONDS + 60))
until [ "$(serial_of "$CM/cert.pem")" != "$first" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "certmonger did not save a new certificate: $(getcert list -s -i cm-enrol)"
  sleep 0.5
done
[ "$(cm_wait cm-enrol)" = MONITORING ] || fail "resubmitted request: $(getcert list -s -i cm-enrol)"
check_scep_cert "$CM/cert.pem" "$CM/key.pem" "certmonger certificate after getcert resubmit with a new challenge"

# Approval: certmonger reads PENDING and waits (CA_WORKING); after the approval, `getcert
# refresh` makes it ask again at once instead of at its own next poll.
getcert add-scep-ca -s -c enrolld-approve -u "$SCEP_URL/approve" >"$CM/add-ca2.out" 2>&1 ||
  fail "getcert add-scep-ca (approve) failed: $(cat "$CM/add-ca2.out")"
count=$(cert_count_of "$DEV2_ID")
ch=$(scep_challenge "$DEV2_ID" '"label":"approve",')
getcert request -s -c enrolld-approve -I cm-approve -L "$ch" \
  -k "$CM/approve.key" -f "$CM/approve.pem" >"$CM/approve.out" 2>&1 ||
  fail "getcert request (approve) failed: $(cat "$CM/approve.out")"
status=$(cm_wait cm-approve)
assert_eq CA_WORKING "$status" "certmonger on the approval path: CA_WORKING (PENDING)"
code=$(api "$WORK/cm-approvals" GET /api/v1/approvals)
assert_status 200 "$code" "$WORK/cm-approvals" "list pending approvals"
APPROVAL=$(json_field "$WORK/cm-approvals.body" \
  "next(a['id'] for a in d['approvals'] if a['subject_id'] == '$DEV2_ID' and a['status'] == 'pending')")
assert_eq "$count" "$(cert_count_of "$DEV2_ID")" "nothing issued while pending"
code=$(api "$WORK/cm-approve" POST "/api/v1/approvals/$APPROVAL/approve")
assert_status 200 "$code" "$WORK/cm-approve" "approve $APPROVAL"
getcert refresh -s -i cm-approve >"$CM/refresh.out" 2>&1 || fail "getcert refresh failed: $(cat "$CM/refresh.out")"
deadline=$((SECONDS + 60))
until [ "$(getcert list -s -i cm-approve | sed -n 's/^[[:space:]]*status: //p')" = MONITORING ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "certmonger did not complete after the approval: $(getcert list -s -i cm-approve)"
  sleep 0.5
done
pass "certmonger after the approval and getcert refresh: MONITORING"
check_scep_cert "$CM/approve.pem" "$CM/approve.key" "certmonger certificate after approval"
assert_eq $((count + 1)) "$(cert_count_of "$DEV2_ID")" "one certificate issued after the approval"
for id in cm-enrol cm-wrong cm-approve; do
  getcert stop-tracking -s -i "$id" >/dev/null 2>&1 || true
done

echo
echo "scep.sh: all checks passed in $((SECONDS - START)) s"
