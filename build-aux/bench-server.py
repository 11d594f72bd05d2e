#!/usr/bin/env python3
"""Serve a directory on 127.0.0.1 with a fixed delay per response (make bench).

Usage: bench-server.py DIR DELAY_SECONDS PORT_FILE
Writes the chosen port to PORT_FILE, then serves until killed.
"""
import functools
import http.server
import sys
import time


class SlowHandler(http.server.SimpleHTTPRequestHandler):
    delay = 0.0

    def do_GET(self):
        time.sleep(self.delay)
        super().do_GET()

    def log_message(self, *args):
        pass


def main():
    directory, delay, port_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    SlowHandler.delay = delay
    handler = functools.partial(SlowHandler, directory=directory)
    http.server.ThreadingHTTPServer.request_queue_size = 64  # the default 5 drops SYNs
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
