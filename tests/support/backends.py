"""A small HTTP backend on 127.0.0.1 (port 0) for HTTP and HTTP_PROXY integrations.

    with Backend() as backend:
        backend.url("/echo")        # http://127.0.0.1:<port>/echo
        backend.received            # every request it got: method, path, headers, body

Paths:
    /echo            200, JSON of what it received: method, path, query, headers, body
    /status/NNN      that status, body `{"status": NNN}` (`/status/`: 200)
    /slow?s=N        waits N seconds (at most until the backend stops), then 200 `slow`
    /huge?mb=N       200 with N MiB of `x`, written in 64 KiB pieces
    /redirect?to=U   302 to U
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Backend:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.broken_writes = 0  # pieces the client did not read (it closed the connection)
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "query": query,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                backend.received.append(record)
                if parts.path == "/echo":
                    self._send(200, json.dumps(record).encode())
                elif parts.path.startswith("/status/"):
                    status = int(parts.path.rsplit("/", 1)[1] or 200)
                    self._send(status, json.dumps({"status": status}).encode())
                elif parts.path == "/slow":
                    backend.stopping.wait(float(query.get("s", "5")))
                    self._send(200, b"slow")
                elif parts.path == "/huge":
                    self._huge(int(query.get("mb", "11")))
                elif parts.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send(404, b"no such path")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _huge(self, mebibytes: int) -> None:
                piece = b"x" * 65536
                self.send_response(200)
                self.send_header("Content-Length", str(mebibytes * 1024 * 1024))
                self.end_headers()
                try:
                    for _ in range(mebibytes * 16):
                        self.wfile.write(piece)
                except OSError:
                    backend.broken_writes += 1

            do_GET = do_POST = do_PUT = _answer

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Backend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (the point of several tests), not a failure
