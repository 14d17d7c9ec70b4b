"""The bench's outbox: every scan, photo and decision is on disk before the packer sees it taken.

An SQLite file with `synchronous=FULL`: a commit has reached the disk when it returns, so a
power cut or a killed agent loses nothing the packer was told about. Entries are sent in the
order they were taken, each under its own event id, which the server uses to recognise a resend;
so a crash between sending and marking sent only makes the next run send it again, harmlessly.
The outbox also keeps the open parcel (its counts and barcodes), so a bench restarted while
the server is away goes on answering scans.
"""

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    parcel_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    blob BLOB,
    taken_at TEXT NOT NULL,
    sent_at TEXT,
    answer TEXT,
    status INTEGER,
    local TEXT,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entry_unsent ON entry (seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS memo (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    """One thing to tell the server: a scan, a photo, a weight, a close…"""

    seq: int
    event_id: str
    kind: str
    parcel_id: int
    body: dict[str, Any]
    blob: bytes | None
    taken_at: str


class Outbox:
    """The outbox file; safe to use from the agent's threads (one connection, one lock)."""

    def __init__(self, path: Path, *, station: str = "bench") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.station = station
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(
        self,
        kind: str,
        parcel_id: int,
        body: dict[str, Any],
        blob: bytes | None = None,
        *,
        memo: tuple[str, Any] | None = None,
        event_id: str | None = None,
    ) -> Entry:
        """Write an entry durably (with a memo, in the same commit) and return it."""
        event_id = event_id or self.new_event_id()
        taken_at = datetime.now(UTC).isoformat()
        text = json.dumps(body, separators=(",", ":"))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO entry (event_id, kind, parcel_id, body, blob, taken_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (event_id, kind, parcel_id, text, blob, taken_at),
                )
                if memo is not None:
                    self._remember(*memo)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        seq = cursor.lastrowid
        assert seq is not None
        return Entry(seq, event_id, kind, parcel_id, body, blob, taken_at)

    def new_event_id(self) -> str:
        """An id no other entry of any bench will have: the station's code and a UUID."""
        return f"{self.station}-{uuid.uuid4().hex}"

    def next_unsent(self) -> Entry | None:
        """The oldest entry not yet answered by the server."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq, event_id, kind, parcel_id, body, blob, taken_at FROM entry "
                "WHERE sent_at IS NULL ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        seq, event_id, kind, parcel_id, body, blob, taken_at = row
        return Entry(seq, event_id, kind, parcel_id, json.loads(body), blob, taken_at)

    def mark_sent(self, seq: int, *, status: int, answer: dict[str, Any]) -> None:
        """Record the server's answer: the entry will not be sent again.

        Not synced to disk on its own: if a crash loses it, the entry is sent again and the
        server, knowing its event id, answers as before. The next durable write syncs it.
        """
        with self._lock, self._lightly():
            self._db.execute(
                "UPDATE entry SET sent_at = ?, status = ?, answer = ? WHERE seq = ?",
                (datetime.now(UTC).isoformat(), status, json.dumps(answer), seq),
            )

    @contextmanager
    def _lightly(self) -> Iterator[None]:
        # WAL with synchronous=NORMAL: committed, but on disk only at the next synced commit.
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def waiting(self) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM entry WHERE sent_at IS NULL"
            ).fetchone()
        return int(count)

    def answer(self, seq: int) -> tuple[int, dict[str, Any]] | None:
        """The server's answer to an entry (status, body), or None while it is unsent."""
        with self._lock:
            row = self._db.execute(
                "SELECT status, answer FROM entry WHERE seq = ? AND sent_at IS NOT NULL", (seq,)
            ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def answered_locally(self, seq: int, answer: dict[str, Any]) -> None:
        """Keep what the bench told the packer while the server was away, to compare later."""
        with self._lock:
            self._db.execute("UPDATE entry SET local = ? WHERE seq = ?", (json.dumps(answer), seq))

    def settle(self, seq: int) -> None:
        """The server's answer to a locally answered entry has been compared and shown."""
        with self._lock:
            self._db.execute("UPDATE entry SET settled = 1 WHERE seq = ?", (seq,))

    def unsettled(self) -> dict[int, dict[str, Any]]:
        """Entries answered by the bench whose server answer was not yet compared: seq -> answer."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, local FROM entry WHERE local IS NOT NULL AND settled = 0"
            ).fetchall()
        return {int(seq): json.loads(local) for seq, local in rows}

    def remember(self, name: str, value: Any, *, durable: bool = True) -> None:
        """Keep a value across restarts (the open parcel); None forgets it.

        `durable=False` for a value that a crash may take back to its last durable one.
        """
        with self._lock:
            if durable:
                self._remember(name, value)
            else:
                with self._lightly():
                    self._remember(name, value)

    def _remember(self, name: str, value: Any) -> None:
        if value is None:
            self._db.execute("DELETE FROM memo WHERE name = ?", (name,))
        else:
            self._db.execute(
                "INSERT INTO memo (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

    def recall(self, name: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM memo WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])
