"""Source files of an import: their identity (sha256, size, lines) and the `import_files` table.

A file is stored once, keyed on its sha256; the rows it delivered point at it
(`source_file_id`). After a full import the table keeps what the import left
(`state`), so importing the same bytes again can be answered from the store
when nothing it wrote has changed since (see `unchanged_since_import`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from comments.records import now_utc

_CHUNK = 1 << 23


@dataclass
class FileScan:
    """What one pass over the bytes tells: identity, and what the line accounting needs."""

    sha256: str
    size: int
    newlines: int  # b"\n" bytes
    ends_with_newline: bool
    longest_line: int  # bytes between two b"\n", exact above _CHUNK (shorter lines count as <= _CHUNK)

    @property
    def lines(self) -> int:
        """Lines as `wc -l`, plus a last line without a line end."""
        return self.newlines + (0 if self.ends_with_newline or self.size == 0 else 1)


def scan_file(path: Path) -> FileScan:
    """sha256, size and line count in one pass (~1.2 CPU-s per GB here; the hash is most of it)."""
    digest = hashlib.sha256()
    newlines, size, run, longest, last = 0, 0, 0, 0, b""
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)  # releases the GIL: this runs beside DuckDB's own threads
            size += len(chunk)
            # numpy releases the GIL too; bytes.count would hold it (and costs ~2x more)
            newlines += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == 10))
            # Only lines longer than a chunk matter to the caller (its limit is far
            # above the chunk size), and those span chunks: track the open line.
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
            else:
                longest = max(longest, run + first)
                run = len(chunk) - chunk.rfind(b"\n") - 1
            last = chunk[-1:]
    longest = max(longest, run)
    return FileScan(digest.hexdigest(), size, newlines, last == b"\n", longest)


class BackgroundScan:
    """scan_file in a thread, so hashing overlaps DuckDB's parse of the same file."""

    def __init__(self, path: Path) -> None:
        self._result: FileScan | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="scan-file", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._result = scan_file(path)
        except BaseException as exc:  # re-raised in result()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> FileScan:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


# --------------------------------------------------------------------------- import_files


@dataclass
class KnownFile:
    file_id: int
    name: str
    state: dict | None


def find(con: duckdb.DuckDBPyConnection, sha256: str) -> KnownFile | None:
    row = con.execute("select file_id, name, state::varchar from import_files where sha256 = ?", [sha256]).fetchone()
    if row is None:
        return None
    return KnownFile(row[0], row[1], json.loads(row[2]) if row[2] else None)


def maybe_known_size(con: duckdb.DuckDBPyConnection, source: str, size: int) -> bool:
    """Whether a file of this size was imported before (only then is hashing first worth it)."""
    return con.execute("select count(*) from import_files where source = ? and size_bytes = ?", [source, size]).fetchone()[0] > 0


def record(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    scan: FileScan,
    name: str,
    rows: int,
    columns: list[str],
) -> int:
    """The file's id, adding the file when it is new (inside the caller's transaction)."""
    known = find(con, scan.sha256)
    now = now_utc()
    if known is not None:
        con.execute(
            "update import_files set name = ?, rows = ?, last_imported_at = ? where file_id = ?",
            [name, rows, now, known.file_id],
        )
        return known.file_id
    file_id = con.execute("select coalesce(max(file_id), 0) + 1 from import_files").fetchone()[0]
    con.execute(
        """
        insert into import_files (file_id, source, sha256, name, size_bytes, rows, columns, imported_at, last_imported_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [file_id, source, scan.sha256, name, scan.size, rows, json.dumps(columns, ensure_ascii=False), now, now],
    )
    return file_id


def save_state(con: duckdb.DuckDBPyConnection, file_id: int, state: dict | None) -> None:
    con.execute(
        "update import_files set state = ? where file_id = ?",
        [json.dumps(state) if state is not None else None, file_id],
    )


def touch(con: duckdb.DuckDBPyConnection, file_id: int, name: str) -> None:
    con.execute("update import_files set name = ?, last_imported_at = ? where file_id = ?", [name, now_utc(), file_id])


def unchanged_since_import(con: duckdb.DuckDBPyConnection, known: KnownFile, file_key: str) -> bool:
    """Whether everything the file's last full import wrote is still there as it left it.

    Every row an import stores or confirms carries the file's id, and any later
    write to such a row (a sync, a Mirrulations import, another CSV) replaces the
    id or the source; so equal counts mean nothing the file delivered changed.
    Rows the import left alone because a richer source held them ("kept") carry
    no id to check, so a file with kept rows always takes the full path.
    """
    state = known.state
    if not state or state.get("kept") or state.get("documents_kept"):
        return False
    if state.get("rejects") and state.get("file_key") != file_key:
        return False  # its rejects are recorded under another path: record them again
    comments = con.execute(
        "select count(*) from comments where source_file_id = ? and source = 'bulk_csv'", [known.file_id]
    ).fetchone()[0]
    documents = con.execute(
        "select count(*) from documents where source_file_id = ? and source = 'bulk_csv'", [known.file_id]
    ).fetchone()[0]
    if (comments, documents) != (state["comments"], state["documents"]):
        return False
    dockets = state.get("dockets") or []
    present = con.execute(
        "select count(*) from dockets where docket_id in (select unnest(?::varchar[]))", [dockets]
    ).fetchone()[0]
    return present == len(dockets)
