"""A web hook receiver on 127.0.0.1 for the tests: records what it is sent and answers as told."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """Answers the n-th request with `answers[n]` (then 200); `delay` seconds before answering."""

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                index = len(receiver.received)
                status = receiver.answers[index] if index < len(receiver.answers) else 200
                receiver.received.append(Received(dict(self.headers.items()), raw, status))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url + "elsewhere/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_is_valid(secret: str, received: Received, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does: recompute HMAC-SHA256 over "<t>.<raw body>" and compare, with a clock check."""
    parts = dict(item.split("=", 1) for item in received.headers["X-EFP-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(now - int(parts["t"])) <= tolerance
