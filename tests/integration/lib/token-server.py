#!/usr/bin/env python3
"""token-server.py - a registry token service for kbuildd's cache tests.

Usage: token-server.py PORTFILE --cert PEM --key PEM --sign-cert PEM
                       --sign-key PEM --user USER --password PW
                       --issuer NAME --log FILE [--parent PID]

The distribution registry's token authentication: a client that the
registry answered 401 "Bearer realm=...,service=...,scope=..." asks this
service (GET /token?service=S&scope=repository:R:pull,push, with Basic
authentication) and gets {"token": JWT}; the JWT is RS256, signed by
--sign-key, with the --sign-cert in its x5c header so that the registry
(rootcertbundle = that certificate) can verify it, and grants the actions
asked for. Wrong credentials get 401. Listens on 127.0.0.1 over HTTPS
(--cert/--key), writes its port to PORTFILE, one line per request to --log
("token SCOPE" or "refused"), and exits when --parent is gone.
"""

import argparse
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"],
                         check=True, capture_output=True)
    return out.stdout


def sign(key_path, data):
    out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                         input=data, check=True, capture_output=True)
    return out.stdout


def make_token(args, service, scope):
    access = []
    for one in scope:
        kind, name, actions = one.split(":", 2)
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256",
              "x5c": [base64.b64encode(der_of(args.sign_cert)).decode()]}
    claims = {"iss": args.issuer, "sub": args.user, "aud": service, "exp": now + 600,
              "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    return signing_input.decode() + "." + b64url(sign(args.sign_key, signing_input))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        a = self.server.args
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        want = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
        if url.path != "/token" or self.headers.get("Authorization") != want:
            self.server.log("refused")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="token"')
            self.end_headers()
            return
        scope = query.get("scope", [])
        self.server.log("token " + " ".join(scope))
        body = json.dumps({"token": make_token(a, query.get("service", [""])[0], scope)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def log(self, line):
        with self.lock:
            with open(self.args.log, "a") as f:
                f.write(line + "\n")


def watchdog(parent):
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except OSError:
            os._exit(0)


def main():
    p = argparse.ArgumentParser()
    for opt in ("--cert", "--key", "--sign-cert", "--sign-key", "--user", "--password",
                "--issuer", "--log"):
        p.add_argument(opt, required=True)
    p.add_argument("portfile")
    p.add_argument("--parent", type=int)
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.args = args
    server.lock = threading.Lock()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    if args.parent:
        threading.Thread(target=watchdog, args=(args.parent,), daemon=True).start()
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.portfile)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
