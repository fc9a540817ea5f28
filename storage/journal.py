"""An append-only journal of transactions, one checksummed JSON line each.

Why a journal: rewriting the whole ``hub.json`` on every change costs
milliseconds at a thousand accounts and over a second at a hundred thousand;
appending one line and calling ``fdatasync`` costs about a tenth of a
millisecond at any size. The snapshot is rewritten only when the journal is
compacted.

A line is ``<crc32 hex> <json>\\n``. A torn last line (the process died during
the write, so the change was never confirmed to anyone) is dropped on replay;
a bad line followed by good ones means the file was damaged, and we refuse.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from storage.base import StoreDamaged, StoreWriteError


def encode(record: dict[str, Any]) -> bytes:
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _decode(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _explain(exc: OSError) -> str:
    # EDQUOT: a quota is used up; EFBIG: a file-size limit (RLIMIT_FSIZE, or
    # the filesystem's own) is reached. To the person it is all a full disk.
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the store is read-only"
    return exc.strerror or str(exc)


class Journal:
    """The open journal file. Not thread-safe: the store serialises calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if not existed:
            _fsync_dir(path.parent)
        self.size = os.fstat(self._fd).st_size
        self.synced = self.size  # what is there at opening is on disk
        self.generation = 0  # bumped by reset(): tickets from before are covered
        self.failed: OSError | None = None
        self._sync_lock = threading.Lock()

    def replay(self) -> Iterator[dict[str, Any]]:
        """Yield every complete record; cut a torn tail off the file."""
        with open(self.path, "rb") as f:
            data = f.read()
        offset = 0
        good_end = 0
        lines = data.splitlines(keepends=True)
        for index, line in enumerate(lines):
            record = _decode(line)
            if record is None:
                if index == len(lines) - 1:
                    break  # torn final write: never confirmed, safe to drop
                raise StoreDamaged(
                    f"The journal {self.path} is damaged at byte {offset}; "
                    "the store was not opened. Restore it from a backup."
                )
            offset += len(line)
            good_end = offset
            yield record
        if good_end != len(data):
            os.ftruncate(self._fd, good_end)
            os.fsync(self._fd)
            self.size = good_end

    def write(self, record: dict[str, Any]) -> tuple[int, int]:
        """Write one record, not yet durable, or leave the file as it was.

        Returns the ticket to pass to :meth:`sync`. The store calls this
        under its lock, so records land in commit order.
        """
        try:
            line = encode(record)
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 file can hold it
            raise StoreWriteError(
                "The change was not saved: it contains text that is not valid Unicode."
            ) from None
        if self.failed is not None:
            raise StoreWriteError(f"The change was not saved: {_explain(self.failed)}.")
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            self._undo_partial_write()
            raise StoreWriteError(f"The change was not saved: {_explain(exc)}.") from exc
        self.size += len(line)
        return self.generation, self.size

    def sync(self, ticket: tuple[int, int]) -> None:
        """Return once the journal is durable up to the ticket's record.

        Group commit: whoever gets the sync lock first calls fdatasync for
        everything written so far; those who waited meanwhile find their
        record already covered. A ticket from before a compaction is covered
        by the snapshot. If fdatasync fails, nothing more can be trusted to
        reach the disk, so every later write is refused until a restart
        replays the journal (as databases do on fsync failure).
        """
        generation, offset = ticket
        with self._sync_lock:
            if generation != self.generation or self.synced >= offset:
                return
            if self.failed is not None:
                raise StoreWriteError(f"The change was not saved: {_explain(self.failed)}.")
            target = self.size
            try:
                os.fdatasync(self._fd)
            except OSError as exc:
                self.failed = exc
                raise StoreWriteError(f"The change was not saved: {_explain(exc)}.") from exc
            self.synced = target

    def _undo_partial_write(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # replay drops a torn tail anyway

    def reset(self) -> None:
        """Empty the journal once a snapshot holds everything in it."""
        with self._sync_lock:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self.generation += 1
            self.size = self.synced = 0

    def close(self) -> None:
        os.close(self._fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace ``path`` with ``data`` (bytes, or pieces of it) so that a crash
    leaves the old or the new file, never a mixture (write a temporary file,
    fsync, rename, fsync dir)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            for piece in [data] if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreWriteError(f"The snapshot was not saved: {_explain(exc)}.") from exc
