# A webhook receiver for cutover's tests: Python's own http.server (not the code under test)
# records every request as one JSON file in DIR, then answers. Started by webhook.rs.
#
#   webhook.py ADDR DIR [--fail N] [--fail-status CODE] [--hang] [--tls CHAIN KEY]
#
# Prints "listening PORT" on stdout once it accepts (it binds port 0).
import argparse
import http.server
import json
import os
import ssl
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("addr")
p.add_argument("dir")
p.add_argument("--fail", type=int, default=0, help="answer the first N requests with --fail-status")
p.add_argument("--fail-status", type=int, default=500)
p.add_argument("--hang", action="store_true", help="record the request, then never answer")
p.add_argument("--tls", nargs=2, metavar=("CHAIN", "KEY"))
args = p.parse_args()

lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        global count
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            count += 1
            n = count
        record = {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }
        tmp = os.path.join(args.dir, "%06d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(args.dir, "%06d.json" % n))
        if args.hang:
            time.sleep(3600)
            return
        if n <= args.fail:
            # Like many frameworks' error pages, this one echoes the path (a secret, in a webhook URL).
            payload = ("failure %d of %d for %s" % (n, args.fail, self.path)).encode()
            self.send_response(args.fail_status)
        else:
            payload = b"ok"
            self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    do_POST = do_GET = do_PUT = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = super().get_request()
        if args.tls:
            # The handshake runs in the handler's thread, so a stuck client cannot block accept.
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


if args.tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls[0], args.tls[1])

server = Server((args.addr, 0), Handler)
print("listening %d" % server.server_address[1], flush=True)
server.serve_forever()
