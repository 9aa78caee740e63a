#!/usr/bin/env python3
"""Regenerates the seed corpus under fuzz/corpus/ (run from anywhere; needs python3 with
`cryptography` and the openssl CLI). Keys are throwaway and made fresh on each run, so the
output differs between runs; the committed corpus is one such run."""

import base64
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
import hmac
import hashlib

FUZZ = pathlib.Path(__file__).resolve().parent.parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


# --- csr: the DER test vectors --------------------------------------------------------------
der_vectors = sorted((ROOT / "src/ca/testdata").glob("*.der"))
for p in der_vectors:
    put("csr", p.name, p.read_bytes())

# --- est_body: base64 (one line, 64-column lines, CRLF) and PEM CSRs, Basic headers ---------
for p in der_vectors[:4]:
    der = p.read_bytes()
    b = base64.b64encode(der).decode()
    put("est_body", p.stem + ".b64", b)
    lines = "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + "\n"
    put("est_body", p.stem + ".lines", lines)
    put("est_body", p.stem + ".crlf", lines.replace("\n", "\r\n"))
    put("est_body", p.stem + ".pem",
        "-----BEGIN CERTIFICATE REQUEST-----\n" + lines + "-----END CERTIFICATE REQUEST-----\n")
put("est_body", "basic", "Basic " + base64.b64encode(b"dev1:s3cret-pass").decode())
put("est_body", "basic-lower", "basic " + base64.b64encode(b"user@example.org:p:w").decode())

# --- jws: valid flattened JWS bodies (ES256, ES384, RS256, EdDSA, kid), an EAB, bare JWKs ----
def jws(protected, payload, sign):
    p64 = b64u(json.dumps(protected).encode())
    pl64 = b64u(json.dumps(payload).encode()) if payload is not None else ""
    sig = sign(f"{p64}.{pl64}".encode())
    return {"protected": p64, "payload": pl64, "signature": b64u(sig)}


def ec_signer(key, h, size):
    def sign(m):
        r, s = decode_dss_signature(key.sign(m, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return sign


url = "https://ca.example/acme/new-account"
payload = {"termsOfServiceAgreed": True, "contact": ["mailto:a@example.org"]}
jwks = {}

k = ec.generate_private_key(ec.SECP256R1())
n = k.public_key().public_numbers()
jwks["p256"] = {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")),
                "y": b64u(n.y.to_bytes(32, "big"))}
es256 = ec_signer(k, hashes.SHA256(), 32)
put("jws", "es256-jwk", json.dumps(jws({"alg": "ES256", "nonce": "n0nce", "url": url,
                                         "jwk": jwks["p256"]}, payload, es256)))
put("jws", "es256-kid-postasget", json.dumps(jws(
    {"alg": "ES256", "nonce": "n0nce", "url": "https://ca.example/acme/order/abc",
     "kid": "https://ca.example/acme/acct/xyz"}, None, es256)))

k = ec.generate_private_key(ec.SECP384R1())
n = k.public_key().public_numbers()
jwks["p384"] = {"kty": "EC", "crv": "P-384", "x": b64u(n.x.to_bytes(48, "big")),
                "y": b64u(n.y.to_bytes(48, "big"))}
put("jws", "es384-jwk", json.dumps(jws({"alg": "ES384", "nonce": "n0nce", "url": url,
                                         "jwk": jwks["p384"]}, payload,
                                        ec_signer(k, hashes.SHA384(), 48))))

k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
n = k.public_key().public_numbers()
jwks["rsa"] = {"kty": "RSA", "n": b64u(uint(n.n)), "e": b64u(uint(n.e))}
put("jws", "rs256-jwk", json.dumps(jws(
    {"alg": "RS256", "nonce": "n0nce", "url": url, "jwk": jwks["rsa"]},
    {"identifiers": [{"type": "dns", "value": "dev1.example"}]},
    lambda m: k.sign(m, padding.PKCS1v15(), hashes.SHA256()))))

k = ed25519.Ed25519PrivateKey.generate()
jwks["ed25519"] = {"kty": "OKP", "crv": "Ed25519", "x": b64u(k.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw))}
put("jws", "eddsa-jwk", json.dumps(jws({"alg": "EdDSA", "nonce": "n0nce", "url": url,
                                         "jwk": jwks["ed25519"]}, payload, k.sign)))

mac = b"0123456789abcdef0123456789abcdef"
eab = jws({"alg": "HS256", "kid": "eab-kid-1", "url": url}, jwks["p256"],
          lambda m: hmac.new(mac, m, hashlib.sha256).digest())
put("jws", "eab", json.dumps(eab))
for name, j in jwks.items():
    put("jws", "jwk-" + name, json.dumps(j))

# --- acme_payload: newOrder, newAccount, keyChange-like shapes, pattern pairs ----------------
put("acme_payload", "new-order", json.dumps({"identifiers": [
    {"type": "dns", "value": "dev1.example"}, {"type": "email", "value": "a@example.org"},
    {"type": "permanent-identifier", "value": "SN-0042"}]}))
put("acme_payload", "new-account", json.dumps(payload | {"externalAccountBinding": eab}))
put("acme_payload", "patterns", json.dumps([["*.example", "dev1.example"], ["a.b", "A.B"]]))
put("acme_payload", "pair", "*.devices.example\nx.devices.example")

# --- admin_json: a person, a device, a bulk array, a CSV --------------------------------------
person = {"external_id": "hr-1001", "email": "ada@example.org", "display_name": "Ada L",
          "department": "Engineering"}
device = {"external_id": "mdm-77", "name": "laptop-77", "serial_number": "C02XK0ABCD",
          "owner": "hr-1001", "dns_names": ["laptop-77.corp.example"], "mdm_id": "m-77",
          "windows_sid": "S-1-5-21-3623811015-3361044348-30300820-1013"}
put("admin_json", "person.json", json.dumps(person))
put("admin_json", "device.json", json.dumps(device))
put("admin_json", "bulk.json", json.dumps([person | {"kind": "person"}, device | {"kind": "device"}]))
put("admin_json", "import.csv",
    "kind,external_id,email,display_name,department,name,serial_number,owner,dns_names\r\n"
    "person,hr-1001,ada@example.org,\"Lovelace, Ada\",Eng,,,,\r\n"
    "device,mdm-77,,,,laptop-77,C02X,hr-1001,\"a.corp.example;b.corp.example\"\r\n"
    "person,hr-1002,\"bob\"\"q\"\"@example.org\",Bob,,,,,\r\n")

# --- dns: a TXT response and an A response ----------------------------------------------------
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


q = name("_acme-challenge.dev1.example")
txt = b"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
rdata = bytes([len(txt)]) + txt
put("dns", "txt-response",
    struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 2, 0, 0) + q + struct.pack(">HH", 16, 1)
    + b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rdata)) + rdata
    + b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, 6) + b"\x02ab\x02cd")
put("dns", "a-response",
    struct.pack(">HHHHHH", 0xbeef, 0x8180, 1, 1, 0, 0) + name("dev1.example")
    + struct.pack(">HH", 1, 1) + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1]))
put("dns", "nxdomain", struct.pack(">HHHHHH", 7, 0x8183, 1, 0, 0, 0) + q + struct.pack(">HH", 16, 1))

# --- san: names and ids -----------------------------------------------------------------------
for i, s in enumerate(["dns:dev1.example", "email:ada@example.org", "uri:urn:dev:ops:77",
                       "ip:192.0.2.1", "ip:2001:db8::1", "dev1.example", "a@b.example",
                       "01a2b3c4d5e6f708", "default-profile", "cred_AbC-123"]):
    put("san", f"s{i}", s)

# --- ocsp: a request made by openssl against a throwaway CA -----------------------------------
with tempfile.TemporaryDirectory() as t:
    def run(*a):
        subprocess.run(a, cwd=t, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Fuzz CA", "-days", "1")
    run("openssl", "ocsp", "-issuer", "ca.pem", "-serial", "0x1", "-reqout", "req1.der")
    run("openssl", "ocsp", "-issuer", "ca.pem", "-serial", "0x0123456789abcdef", "-no_nonce",
        "-reqout", "req2.der")
    run("openssl", "ocsp", "-sha256", "-issuer", "ca.pem", "-serial", "0x1", "-serial", "0x2",
        "-reqout", "req3.der")
    for f in ("req1.der", "req2.der", "req3.der"):
        put("ocsp", f, (pathlib.Path(t) / f).read_bytes())
