#!/usr/bin/env bash
# Durability: a certificate the client has received survives `kill -9` of the server, and
# SIGTERM shuts the server down cleanly (exit status 0) without losing anything.
#
#   1. Enrol N certificates over EST (curl + openssl), remembering serials and certificates.
#   2. kill -9 right after the last answer; restart on the same data directory; every serial
#      is found by the admin API, status good, same certificate; credential state survived.
#   3. Enrol one more, SIGTERM (exit 0 within 10 s), restart: everything is still there.
set -euo pipefail
# shellcheck source=protocol-tests/lib.sh
source "$(dirname "$0")/lib.sh"

N=10
DATA=$WORK/data
SERIALS=()

# enrol I: one simpleenroll with a fresh P-256 key and credential; files $WORK/certI.*.
enrol() {
  local i=$1 cn="dev$1.persist.example" cred code
  cred=$(make_credential "{\"common_name\":\"$cn\",\"sans\":[\"$cn\"]}")
  printf '%s\n' "$cred" >"$WORK/cert$i.cred"
  new_key_csr p256 "$WORK/cert$i" "/CN=$cn" -addext "subjectAltName=DNS:$cn"
  code=$(est_post "$WORK/cert$i" simpleenroll "$WORK/cert$i.der" -u "$cred")
  assert_status 200 "$code" "$WORK/cert$i" "enrol certificate $i"
  certs_from_pkcs7 "$WORK/cert$i.pem" <"$WORK/cert$i.body"
  SERIALS[i]=$(serial_of "$WORK/cert$i.pem")
}

# check_all COUNT WHEN: certificates 1..COUNT are all known, good, and unchanged.
check_all() {
  local count=$1 when=$2 i out=$WORK/lookup code
  for ((i = 1; i <= count; i++)); do
    code=$(get_certificate "$out" "${SERIALS[i]}")
    assert_status 200 "$code" "$out" "$when: serial ${SERIALS[i]} found"
    assert_eq good "$(json_string "$out.body" status)" "$when: serial ${SERIALS[i]} status"
    # The stored PEM is JSON-escaped; compare the certificate itself.
    sed -n 's/.*"pem":"\([^"]*\)".*/\1/p' "$out.body" | sed 's/\\n/\n/g' >"$out.pem"
    assert_eq "$(openssl x509 -in "$WORK/cert$i.pem" -outform DER | base64)" \
      "$(openssl x509 -in "$out.pem" -outform DER 2>/dev/null | base64)" \
      "$when: serial ${SERIALS[i]} is the certificate the client received"
  done
}

START=$SECONDS
section "enrol $N certificates"
start_server "$DATA"
for ((i = 1; i <= N; i++)); do
  enrol "$i"
done
distinct=$(printf '%s\n' "${SERIALS[@]}" | sort -u | wc -l | tr -d ' ')
assert_eq "$N" "$distinct" "$N distinct serials"

section "kill -9 right after the last enrolment, then restart"
kill9_server
pass "server killed with SIGKILL"
start_server "$DATA"
check_all "$N" "after kill -9"
code=$(get_certificate "$WORK/upper" "$(printf '%s' "${SERIALS[1]}" | tr '[:lower:]' '[:upper:]')")
assert_status 200 "$code" "$WORK/upper" "upper-case serial is accepted"
code=$(get_certificate "$WORK/unknown" "7fffffffffffffffffffffffffffffff")
assert_status 404 "$code" "$WORK/unknown" "an unknown serial is 404"

# The credential bookkeeping survived too: spent stays spent, the retry still redelivers.
cred=$(cat "$WORK/cert$N.cred")
csr_with_key "$WORK/cert$N.key" "$WORK/other" "/CN=dev$N.persist.example"
code=$(est_post "$WORK/spent" simpleenroll "$WORK/other.der" -u "$cred")
assert_status 403 "$code" "$WORK/spent" "after kill -9: spent credential still refused for a new CSR"
code=$(est_post "$WORK/retry" simpleenroll "$WORK/cert$N.der" -u "$cred")
assert_status 200 "$code" "$WORK/retry" "after kill -9: identical retry still answered"
certs_from_pkcs7 "$WORK/retry.pem" <"$WORK/retry.body"
assert_eq "${SERIALS[N]}" "$(serial_of "$WORK/retry.pem")" "after kill -9: identical retry answers the same serial"

section "SIGTERM, then restart"
enrol $((N + 1))
stop_server
start_server "$DATA"
check_all $((N + 1)) "after SIGTERM"
stop_server

echo
echo "persistence.sh: all checks passed in $((SECONDS - START)) s"
