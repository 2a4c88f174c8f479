# An SMTP sink for cutover's tests: aiosmtpd (not the code under test) receives every message and
# writes it, parsed by Python's email package, as one JSON file in DIR. Started by smtp.rs.
#
#   smtp.py ADDR DIR [--starttls CHAIN KEY | --smtps CHAIN KEY] [--auth USER PASSWORD] [--fail N]
#
# Prints "listening PORT" on stdout once it accepts (it binds port 0).
import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult

p = argparse.ArgumentParser()
p.add_argument("addr")
p.add_argument("dir")
p.add_argument("--starttls", nargs=2, metavar=("CHAIN", "KEY"), help="offer and require STARTTLS")
p.add_argument("--smtps", nargs=2, metavar=("CHAIN", "KEY"), help="TLS from the first byte")
p.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"), help="require AUTH with these")
p.add_argument("--fail", type=int, default=0, help="answer 451 to the first N messages")
args = p.parse_args()


def context(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair[0], pair[1])
    return ctx


class Handler:
    def __init__(self):
        self.count = 0
        self.failed = 0

    async def handle_DATA(self, server, session, envelope):
        if self.failed < args.fail:
            self.failed += 1
            return "451 4.3.0 try again later (test sink)"
        self.count += 1
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "subject": str(msg.get("Subject", "")),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "body": body.get_content() if body is not None else "",
            "raw": (envelope.original_content or envelope.content).decode("utf-8", "replace"),
            "auth_user": session.auth_data.login.decode() if session.auth_data is not None else None,
            "tls": session.ssl is not None or bool(args.smtps),
        }
        tmp = os.path.join(args.dir, "%06d.tmp" % self.count)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(args.dir, "%06d.json" % self.count))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        args.auth is not None
        and auth_data.login == args.auth[0].encode()
        and auth_data.password == args.auth[1].encode()
    )
    # handled=False: aiosmtpd then answers 535 itself (its default, True, leaves the client waiting).
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


handler = Handler()


def factory():
    kwargs = {}
    if args.starttls:
        kwargs.update(tls_context=context(args.starttls), require_starttls=True)
    if args.auth:
        kwargs.update(authenticator=authenticator, auth_required=True)
        # With STARTTLS, AUTH is refused before it. aiosmtpd cannot tell an SMTPS session from a
        # plain one, so there (and without TLS) AUTH is allowed as is.
        kwargs.update(auth_require_tls=bool(args.starttls))
    return SMTP(handler, hostname="sink.test", **kwargs)


async def main():
    loop = asyncio.get_running_loop()
    ssl_ctx = context(args.smtps) if args.smtps else None
    server = await loop.create_server(factory, host=args.addr, port=0, ssl=ssl_ctx)
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
