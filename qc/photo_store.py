"""Parcel photos stored content-addressed by SHA-256: the protocol, a local folder, the sweeper.

The S3 backend is in qc.photo_store_s3 (boto3 loads only where it is used).

Pure storage, bytes in and bytes out: nothing is decoded or stripped here, and nothing here
knows the database. A file is written before the row that points to it commits, so a crash or
a rolled-back request leaves an orphan; `sweep` removes orphans once they are older than a
grace period, asking the caller which keys rows still point to.
"""

import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"[0-9a-f]{64}")
_FOLDER = re.compile(r"[0-9a-f]{2}")


class PhotoMissing(LookupError):
    """The store holds no photo under this key."""


class StoreUnavailable(RuntimeError):
    """The store could not be read or written now (disk full, server down): retry later."""


class PhotoStore(Protocol):
    """Where photos go. Every method taking a key raises ValueError unless check_key passes it."""

    def put(self, data: bytes, *, content_type: str = "image/jpeg") -> str:
        """Store data, durably once this returns, and return its key (see key_of)."""

    def get(self, key: str) -> bytes:
        """The bytes stored under key; raises PhotoMissing if there are none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Delete the photo; a key with nothing stored is fine."""

    def list_keys(self, *, older_than: datetime | None = None) -> Iterator[str]:
        """Every stored key, streamed; with older_than (aware), those last written before it."""


def check_key(key: str) -> str:
    """Return key if it is a photo key: exactly 64 lowercase hex characters.

    Keys become file names and object names, so nothing else may pass (no `../x`, no `/`).

    Raises:
        ValueError: key is not a SHA-256 hex digest in lowercase.
    """
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise ValueError(f"not a photo key (64 lowercase hex characters): {key!r:.80}")
    return key


def key_of(data: bytes) -> str:
    """The key a photo is stored under: the SHA-256 of its bytes, in lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def is_key(name: str) -> bool:
    return _KEY.fullmatch(name) is not None


def cutoff(moment: datetime | None) -> float | None:
    """`older_than` as a POSIX time; a naive datetime would silently be read as local time."""
    if moment is not None and moment.utcoffset() is None:
        raise ValueError("older_than must be timezone-aware (UTC)")
    return None if moment is None else moment.timestamp()


class FsPhotoStore:
    """Photos as files under root/ab/cd/<key>; writes go through root/.tmp and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes, *, content_type: str = "image/jpeg") -> str:
        """Store data (the content type is not kept) and return its key, fsynced to disk.

        Bytes already stored are not written again, but their file's time is refreshed: a
        re-upload of an old orphan must not be swept while its new row is being committed.
        """
        try:
            return self._write(data)
        except OSError as exc:
            raise StoreUnavailable(f"the photo folder cannot be written: {exc}") from exc

    def _write(self, data: bytes) -> str:
        key = key_of(data)
        path = self._path(key)
        try:
            os.utime(path)
            return key
        except FileNotFoundError:
            pass
        temp_dir = self.root / ".tmp"
        _make_dirs(temp_dir)
        _make_dirs(path.parent)
        temp = temp_dir / f"{key}.{secrets.token_hex(8)}"
        try:
            with temp.open("xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            # Same file system, so the rename is atomic: readers see all of the file or none.
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"the photo folder cannot be read: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        # No directory fsync: a deletion lost in a crash leaves an orphan the next sweep takes.
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, *, older_than: datetime | None = None) -> Iterator[str]:
        """Every stored key in order, one folder in memory at a time; .tmp is never read."""
        before = cutoff(older_than)
        for top in _subfolders(self.root):
            for middle in _subfolders(top):
                for entry in _entries(middle):
                    name = entry.name
                    if (
                        _KEY.fullmatch(name)
                        and name[:2] == top.name
                        and name[2:4] == middle.name
                        and entry.is_file(follow_symlinks=False)
                        and (before is None or entry.stat().st_mtime < before)
                    ):
                        yield name


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []


def _subfolders(folder: Path) -> Iterator[Path]:
    for entry in _entries(folder):
        if _FOLDER.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            yield Path(entry.path)


def _make_dirs(folder: Path) -> None:
    """Create folder and any missing parents, syncing each new entry into its parent."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _fsync_dir(new.parent)


def _fsync_dir(folder: Path) -> None:
    # A rename or mkdir is durable only once the directory holding the new entry is synced.
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep(
    store: PhotoStore,
    *,
    live: Callable[[list[str]], set[str]],
    older_than: datetime,
    batch: int = 500,
) -> list[str]:
    """Delete the stored photos no row points to, among those written before older_than.

    The grace period matters: a file is written before its row commits, so a young file
    without a row may be about to get one. older_than should leave hours, not seconds.

    Args:
        store: the photo store to clean.
        live: given a batch of keys, returns those that rows still point to.
        older_than: only files last written before this (timezone-aware) time are candidates.
        batch: how many keys to ask live() about at once.

    Returns:
        The keys deleted.

    Raises:
        ValueError: batch is below 1, or older_than is naive.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cutoff(older_than)
    keys = store.list_keys(older_than=older_than)
    deleted: list[str] = []
    while candidates := list(islice(keys, batch)):
        keep = live(candidates)
        for key in candidates:
            if key not in keep:
                store.delete(key)
                deleted.append(key)
    return deleted
