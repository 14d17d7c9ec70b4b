"""A real HTTP receiver for webhook tests, on 127.0.0.1: it checks every signature itself (not
with the code under test), can fail on cue, and deduplicates on the event id as a shop should.
"""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from api.db import session_for
from qc.models import utcnow
from qc.webhook_admin import first_due
from qc.webhook_delivery import Sessions, deliver_due

# What the receiver does with a POST: answer 200 (or another status), or read the request, keep
# the event, and drop the connection without answering (the sender never learns it arrived).
OK, DROP = "ok", "drop"


@dataclass
class Post:
    """One POST as it arrived."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    answer: str

    @property
    def envelope(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    script: list[str] = field(default_factory=list)  # answers to the first POSTs, then `then`
    then: str = OK
    delay_s: float = 0.0
    url: str = ""
    posts: list[Post] = field(default_factory=list)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id → envelope, once
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        """The signature, checked from the documentation: t=<ts>,v1=HMAC(secret, "<ts>.<body>")."""
        parts = dict(
            p.split("=", 1) for p in headers.get("qc-signature", "").split(",") if "=" in p
        )
        stamp = parts.get("t", "")
        mac = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        return (
            stamp == headers.get("qc-timestamp")
            and hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))
            and json.loads(body)["id"] == headers.get("qc-event-id")
            and json.loads(body)["type"] == headers.get("qc-event-type")
        )

    def handle(self, headers: dict[str, str], body: bytes) -> str:
        with self.lock:
            answer = (
                self.script[len(self.posts)] if len(self.posts) < len(self.script) else self.then
            )
            post = Post(headers, body, self.check(headers, body), answer)
            self.posts.append(post)
            if post.signature_ok and answer in (OK, DROP):
                event_id = post.envelope["id"]
                if event_id in self.kept:
                    self.duplicates += 1  # a shop that deduplicates does nothing the second time
                else:
                    self.kept[event_id] = post.envelope
        time.sleep(self.delay_s)
        return answer

    def posts_of(self, event_id: str) -> list[Post]:
        return [p for p in self.posts if p.envelope["id"] == event_id]

    def wait_for(self, count: int, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.kept) < count:
            assert time.monotonic() < deadline, f"{len(self.kept)} of {count} events arrived"
            time.sleep(0.02)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = receiver.handle(headers, body)
            if answer == DROP:
                self.close_connection = True
                return
            self.send_response(200 if answer == OK else int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(secret: str, **options: Any) -> Iterator[Receiver]:
    """A receiver serving on 127.0.0.1 at a port of its own, for the `with` block."""
    receiver = Receiver(secret=secret, **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Clock:
    """A clock the test moves: the deliverer's `now`."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def sessions_of(engine: Engine) -> Sessions:
    return lambda write: session_for(engine, write=write)


def deliver_until_done(
    engine: Engine,
    clock: Clock,
    client: Any,
    *,
    rounds: int = 100,
    rng: Callable[[], float] = lambda: 0.5,
) -> int:
    """Run the deliverer, moving the clock to the next due time, until nothing is pending.

    `rng` 0.5 means no jitter. Returns the attempts made.
    """
    sessions, made = sessions_of(engine), 0
    for _ in range(rounds):
        made += deliver_due(sessions=sessions, client=client, now=clock, rng=rng).attempts
        with sessions(False) as session:
            due = first_due(session)
        if due is None:
            return made
        clock.at = max(clock.at, due)
    raise AssertionError(f"deliveries still pending after {rounds} rounds")
