"""A webhook receiver on loopback for tests: a real HTTP server that records what it gets
and checks the Standard Webhooks signature with its own HMAC (not doorkeep's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Start it, stop it (then the port refuses connections), start it again."""

    def __init__(self, port: int, secret: str = "") -> None:
        self.port = port
        self.secret = secret
        self.received: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, body)
        self.bad_signatures = 0
        self.status = 204  # what it answers (a 5xx: up, but failing)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        with self._lock:
            return [message_id for message_id, _ in self.received]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                message_id = self.headers["webhook-id"]
                stamp = self.headers["webhook-timestamp"]
                signed = f"{message_id}.{stamp}.".encode() + body
                key = base64.b64decode(receiver.secret.removeprefix("whsec_"))
                expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
                given = self.headers["webhook-signature"].removeprefix("v1,").encode()
                with receiver._lock:
                    if not hmac.compare_digest(expected, given):
                        receiver.bad_signatures += 1
                    receiver.received.append((message_id, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
