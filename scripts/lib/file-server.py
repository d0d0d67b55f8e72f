#!/usr/bin/env python3
"""Serves one file over HTTP on loopback, the way a download mirror would, for the tests of
the app's own model download (the first-run screen, `hearth models fetch`): `Range` requests
get 206 with the rest of the file, and a few switches make the server misbehave on purpose.

    file-server.py FILE [--rate BYTES_PER_S] [--cut-after BYTES] [--corrupt] [--ignore-range]

It prints `listening on http://127.0.0.1:PORT/NAME` once ready, logs each request's Range
header to stderr as `range: VALUE` (or `range: -`), and serves until killed. --cut-after
closes the first response after that many body bytes (a broken connection; later requests
are served whole, so a resume can finish); --corrupt flips one
byte in the middle (a mirror serving the wrong file); --rate throttles (so a progress bar is
visible); --ignore-range answers every request with the whole file.
"""

import argparse
import http.server
import os
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--cut-after", type=int, default=0)
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--ignore-range", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    size = os.path.getsize(args.file)
    name = os.path.basename(args.file)
    cut = {"left": args.cut_after}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):  # the range log below is what tests read
            pass

        def do_GET(self):
            if self.path.lstrip("/") != name:
                self.send_error(404)
                return
            header = self.headers.get("Range")
            print(f"range: {header or '-'}", file=sys.stderr, flush=True)
            start = 0
            if header and not args.ignore_range and header.startswith("bytes="):
                start = int(header[len("bytes="):].split("-")[0])
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(size - start))
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.send_header("Connection", "close")
            self.end_headers()
            self.send_body(start)
            self.close_connection = True

        def send_body(self, start: int) -> None:
            sent, middle = 0, size // 2
            began = time.monotonic()
            with lock:
                cut_after, cut["left"] = cut["left"], 0
            with open(args.file, "rb") as f:
                f.seek(start)
                pos = start
                while True:
                    block = f.read(64 * 1024)
                    if not block:
                        return
                    if args.corrupt and pos <= middle < pos + len(block):
                        i = middle - pos
                        block = block[:i] + bytes([block[i] ^ 0xFF]) + block[i + 1:]
                    if cut_after and sent + len(block) > cut_after:
                        self.wfile.write(block[: cut_after - sent])
                        self.wfile.flush()
                        return
                    try:
                        self.wfile.write(block)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    sent += len(block)
                    pos += len(block)
                    if args.rate:
                        ahead = sent / args.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/{name}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
