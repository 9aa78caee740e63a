#!/usr/bin/python3
"""A real SMTP server for enrolld's mail tests: Debian's aiosmtpd on 127.0.0.1.

    smtpd.py --dir DIR [--port N] [--tls starttls|implicit|none] [--cert PEM --key PEM]
             [--auth-user USER --auth-password PASSWORD]

Prints "listening <port>" once it accepts connections. Every accepted message is written to
DIR/<n>.eml (the bytes as received) and DIR/<n>.json (envelope: sender, recipients, whether
the session was under TLS), each first to a temporary name and then renamed, so a reader never
sees half a mail. While DIR/tempfail exists every DATA is answered 451 (a temporary failure);
recipients listed one per line in DIR/reject are refused with 550 (a permanent one). With
--auth-user, a client must authenticate (AUTH PLAIN or LOGIN, under TLS) before MAIL FROM.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.dir = directory
        self.count = len([f for f in os.listdir(directory) if f.endswith(".eml")])

    def _path(self, name):
        return os.path.join(self.dir, name)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            with open(self._path("reject"), encoding="utf-8") as f:
                rejected = {line.strip() for line in f if line.strip()}
        except FileNotFoundError:
            rejected = set()
        if address in rejected:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(self._path("tempfail")):
            return "451 4.3.0 mail system busy, try again later"
        self.count += 1
        base = "%06d" % self.count
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
        }
        for ext, body in ((".json", json.dumps(meta).encode()), (".eml", data)):
            tmp = self._path("." + base + ext + ".tmp")
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, self._path(base + ext))
        return "250 2.0.0 accepted as " + base


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-password")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    ctx = None
    if a.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    handler = Handler(a.dir)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.auth_user
            and auth_data.password.decode() == a.auth_password
        )
        return AuthResult(success=ok)

    auth = {}
    if a.auth_user:
        auth = {"authenticator": authenticator, "auth_required": True}

    def factory():
        if a.tls == "starttls":
            return SMTP(handler, hostname="localhost", tls_context=ctx, require_starttls=True, **auth)
        return SMTP(handler, hostname="localhost", **auth)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, "127.0.0.1", a.port, ssl=ctx if a.tls == "implicit" else None,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    print("listening %d" % port, flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
