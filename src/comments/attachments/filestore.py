"""A content-addressed file store: every file lives at `ab/cd/<sha256>`.

No name or path from the network is ever used: the only name a file gets is
its own hash, so a hostile URL or Content-Disposition cannot write anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def files_dir_for(db_path: str | os.PathLike) -> Path:
    """Where a database's attachment files live: `<db dir>/<db stem>.files/`."""
    path = Path(db_path)
    if str(path) == ":memory:":
        raise ValueError("an in-memory database has no file store: pass files_dir explicitly")
    return path.parent / f"{path.stem}.files"


class FileStore:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256 or ""):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str | None) -> bool:
        return bool(sha256) and _SHA256.match(sha256) is not None and self.path_for(sha256).is_file()

    def writer(self) -> _Writer:
        """A writer for one incoming file; `commit()` moves it to its hash's place."""
        return _Writer(self)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        w = self.writer()
        try:
            w.write(data)
            return w.commit()
        finally:
            w.discard()

    def put_chunks(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        w = self.writer()
        try:
            for chunk in chunks:
                w.write(chunk)
            return w.commit()
        finally:
            w.discard()


class _Writer:
    """Streams into a temporary file in the store (same file system), hashing as it goes."""

    def __init__(self, store: FileStore) -> None:
        self.store = store
        tmp_dir = store.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> tuple[str, int]:
        """(sha256, size) of the stored file; an identical file already stored is kept."""
        self._file.close()
        digest = self._hash.hexdigest()
        final = self.store.path_for(digest)
        if final.is_file() and final.stat().st_size == self.size:
            self._tmp.unlink(missing_ok=True)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, final)  # atomic: a reader never sees half a file
        self._done = True
        return digest, self.size

    def discard(self) -> None:
        if not self._done:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
            self._done = True
