#!/usr/bin/env python3
"""serve.py - throwaway servers for kbuildd's integration tests.

Usage: serve.py MODE DIR PORTFILE [--log FILE] [--delay SECONDS]
                [--cert PEM --key PEM] [--parent PID]

Listens on 127.0.0.1 only, on a port the kernel picks (port 0), and writes
that port to PORTFILE (atomically, once it accepts connections).  Modes:

  static    serve the files below DIR over HTTP (HTTPS with --cert/--key)
  slow      the same, but wait --delay seconds (default 1) before answering
  truncate  answer every GET with a Content-Length larger than the file,
            send the file, then close: a download cut short
  hang      accept connections and never answer
  gitd      a git daemon: each connection is handed to
            `git daemon --inetd --export-all --base-path=DIR`

With --log, one line per request is appended: "start PATH" when the request
has been read and "end PATH STATUS" once the answer has been sent, in the
order they happen (the order is what tests check, not the times).  The
server exits by itself when the process --parent names is gone, so that a
test killed outright leaves no server behind; it never runs longer than
15 minutes either way.
"""

import argparse
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

MAX_LIFETIME = 15 * 60

log_lock = threading.Lock()
log_file = None


def log(line):
    if log_file is None:
        return
    with log_lock:
        with open(log_file, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


def write_port(portfile, port):
    tmp = portfile + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.rename(tmp, portfile)


def proc_state(pid):
    """(state, start time) of process @pid, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


def watchdog(parent):
    """Exit when @parent has died (a zombie counts as dead) or after MAX_LIFETIME."""
    start = time.monotonic()
    first = proc_state(parent) if parent else None
    while time.monotonic() - start < MAX_LIFETIME:
        if parent:
            now = proc_state(parent)
            if first is None or now is None or now[0] in ("Z", "X") or now[1] != first[1]:
                break
        time.sleep(0.5)
    os._exit(0)


class Handler(http.server.SimpleHTTPRequestHandler):
    mode = "static"
    delay = 1.0

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("serve.py: %s\n" % (format % args))

    def do_GET(self):
        log("start %s" % self.path)
        status = "-"
        try:
            if self.mode == "slow":
                time.sleep(self.delay)
            if self.mode == "truncate":
                status = self.send_truncated()
            else:
                super().do_GET()
                status = "done"
        finally:
            log("end %s %s" % (self.path, status))

    def send_truncated(self):
        path = self.translate_path(self.path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.send_error(404)
            return "404"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) + 100000))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True
        return "truncated"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http(args):
    Handler.mode = args.mode
    Handler.delay = args.delay
    os.chdir(args.dir)
    server = Server(("127.0.0.1", 0), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    write_port(args.portfile, server.server_address[1])
    server.serve_forever()


def serve_raw(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    write_port(args.portfile, sock.getsockname()[1])
    held = []
    git = ["git", "daemon", "--inetd", "--export-all", "--informative-errors",
           "--base-path=" + args.dir]
    while True:
        conn, _ = sock.accept()
        if args.mode == "hang":
            log("start (hang)")
            held.append(conn)  # never read, never answered, never closed
            continue
        log("start (git)")
        proc = subprocess.Popen(git, stdin=conn.fileno(), stdout=conn.fileno())
        conn.close()
        threading.Thread(target=proc.wait, daemon=True).start()


def main():
    global log_file
    p = argparse.ArgumentParser(description="test servers for kbuildd (127.0.0.1 only)")
    p.add_argument("mode", choices=["static", "slow", "truncate", "hang", "gitd"])
    p.add_argument("dir")
    p.add_argument("portfile")
    p.add_argument("--log")
    p.add_argument("--delay", type=float, default=1.0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--parent", type=int, default=0)
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if args.cert and args.mode in ("hang", "gitd"):
        p.error("--cert is for the HTTP modes")
    for name in ("dir", "portfile", "log", "cert", "key"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    log_file = args.log
    threading.Thread(target=watchdog, args=(args.parent,), daemon=True).start()
    if args.mode in ("hang", "gitd"):
        serve_raw(args)
    else:
        serve_http(args)


if __name__ == "__main__":
    main()
