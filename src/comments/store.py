"""The DuckDB store: open (applying the schema), batch upserts, small helpers, sharing the file.

Schema changes are numbered files in `sql/schema/` applied once each, in
order, and recorded in `schema_migrations`. Views live in `sql/views/` and are
re-created by a read-write open whenever their files changed (a digest of
them is kept in `schema_views`), so a changed view needs no migration and an
open that finds everything current writes nothing.

Writes go through Arrow in batches: row-by-row inserts are ~300x slower here.

Sharing one file between processes (docs/scale.md). DuckDB lets one process
at a time hold a database file read-write, and while it does, no other
process can even read it. So every process here holds the file only while it
runs SQL, and waits its turn instead of failing:

- `connect()` waits while another process holds the file (up to
  `COMMENTS_DB_WAIT` seconds, default 120), then says who holds it.
- `shared(path)` is a connection that opens the file when a statement needs
  it and lets go at `release(con)`: a sync calls that before every network
  wait, so a worker holds the file for the ~0.1-0.3 s it takes to save a page,
  not for the hours its requests take.
- `reading(path)` is how every reader gets a consistent view (`comments
  status`, `search`, `export`, `brief`): the file read-only for one block,
  whatever else is running; it waits at most for one writer's transaction,
  and writers wait while it is open. `frozen(path)` is the same guarantee
  without a connection, for a reader that copies the file's bytes (the
  explorer's refreshed copy, `comments.explorer.snapshot`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from comments import interrupts
from comments.errors import DatabaseLockedError, InputError
from comments.resources import sql_dir

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


# Every connection the project opens: DuckDB would otherwise download and load
# an extension when a query or a file needs one (a SQLite file given as --db
# fetched sqlite_scanner from the internet). The product needs none beyond the
# built-in json, parquet and icu.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# A DuckDB file starts with an 8-byte checksum, then these 4 bytes.
_MAGIC, _MAGIC_AT = b"DUCK", 8


def connect(path: str | Path, *, read_only: bool = False, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database at `path` with the schema applied.

    While another process holds the file, wait for it: up to `wait` seconds
    (default `COMMENTS_DB_WAIT`, 120 s), then a DatabaseLockedError naming the
    holder. Readers use `reading()` instead (it never takes the writer's lock).
    """
    path = Path(path)
    if str(path) != ":memory:":
        if read_only and not path.exists():
            raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
        _check_is_duckdb(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder for database {path}: {exc.strerror or exc}") from None
    con = _open_waiting(path, read_only, _wait_s(wait))
    interrupts.track(con)  # Ctrl-C and SIGTERM can end a long query (comments.interrupts)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        try:
            _check_writable(path)
        except InputError:
            con.close()
            raise
        try:
            if not is_current(con):
                migrate(con)
                create_views(con)
        except (duckdb.IOException, duckdb.TransactionException, duckdb.PermissionException) as exc:
            # The first write creates <db>.wal beside the file: a read-only folder fails here.
            con.close()
            why = str(exc).splitlines()[0].split(": ", 1)[-1]
            hint = ""
            if ".wal" in why:
                hint = (f"; DuckDB needs to create {path.name}.wal in {path.parent}: "
                        "make that folder writable or copy the database to one that is")
            raise InputError(f"cannot write to database {path} ({why}){hint}") from None
    return con


def _check_writable(path: Path) -> None:
    """A writer needs to create `<db>.wal` beside the file: find out now, not at the first commit.

    An open writes nothing when the schema is current, so a read-only folder
    would otherwise surface deep inside a command. Checked by creating and
    removing a file of our own there (tens of microseconds).
    """
    if str(path) == ":memory:":
        return
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"cannot write to database {path} ({exc.strerror or exc}); DuckDB needs to create {path.name}.wal in "
            f"{path.parent}: make that folder writable or copy the database to one that is"
        ) from None


def _wait_s(wait: float | None) -> float:
    if wait is not None:
        return wait
    from comments import settings

    return settings.db_wait()


def _open_waiting(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    delay = 0.01
    told = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=_CONFIG)
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" not in msg.lower():
                raise InputError(f"cannot open database {path}: {msg.splitlines()[0]}") from None
            holder = re.search(r"PID (\d+)", msg)
            who = f" (process {holder.group(1)})" if holder else ""
        except duckdb.ConnectionException as exc:
            if read_only and "different configuration" in str(exc):
                # this process already holds the file read-write: read through that
                return duckdb.connect(str(path), config=_CONFIG)
            raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise InputError(f"{path} is not a DuckDB database: {str(exc).splitlines()[0]}") from None
        waited = time.monotonic() - started
        if waited >= wait:
            raise DatabaseLockedError(_held_message(path, who, waited, wait)) from None
        if not told and waited >= 2:
            told = True
            log.warning("waiting for database %s: in use by another process%s", path, who)
        # Jittered, growing pauses: several waiting processes do not retry in step.
        time.sleep(min(delay, max(0.0, wait - waited)) * random.uniform(0.5, 1.0))
        delay = min(delay * 1.6, 0.1)


def _held_message(path: Path, who: str, waited: float, wait: float) -> str:
    after = f" after waiting {waited:.0f} s" if wait >= 1 else ""
    return (f"database {path} is in use by another process{who}{after}; wait for it to finish, "
            "use --db, or set COMMENTS_DB_WAIT to wait longer")


# --------------------------------------------------------------------------- readers


@contextmanager
def frozen(path: str | Path, *, wait: float | None = None) -> Iterator[None]:
    """No process writes the database at `path` during the block (it may be read or copied).

    A read lock on the file, of the kind DuckDB's writers test for, so a
    writer that tries to open the file meanwhile waits (`connect`); taking it
    waits for the writer holding the file, up to `wait` seconds (default
    COMMENTS_DB_WAIT), then raises DatabaseLockedError. The lock belongs to
    this open file, not to the process (Linux's open-file-description locks),
    so other opens and closes of the file in this process (a copy, DuckDB's
    own read-only connection) leave it in place. Keep the block short: writers
    wait while it is open.
    """
    from comments import dblock

    path = Path(path)
    wait = _wait_s(wait)
    fd = os.open(path, os.O_RDONLY)
    try:
        started, delay, told = time.monotonic(), 0.005, False
        while not dblock.read_lock(fd):
            waited = time.monotonic() - started
            if waited >= wait:
                holder = dblock.holder(path, writers_only=True)
                raise DatabaseLockedError(_held_message(path, f" (process {holder})" if holder else "", waited, wait))
            if not told and waited >= 2:
                told = True
                log.warning("waiting for database %s: another process is writing it", path)
            time.sleep(min(delay, max(0.0, wait - waited)) * random.uniform(0.5, 1.0))
            delay = min(delay * 1.6, 0.05)  # readers look more often than writers: they get in first
        yield
    finally:
        os.close(fd)  # drops the lock


@contextmanager
def reading(path: str | Path, *, wait: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database at `path`, read-only, for one `with` block, even while other processes write it.

        with store.reading(db) as con:
            rows = con.execute("select ...").fetchall()

    Writers here hold the file only while they run SQL (`shared`), so this
    waits at most for the transaction in progress (tenths of a second while
    syncs run; an analysis holds it for its whole write). Never takes the
    writer's lock. A missing file is an InputError; a file held longer than
    `wait` (default COMMENTS_DB_WAIT) a DatabaseLockedError. A file whose
    schema this version has not applied yet is brought up to date first (one
    short read-write open).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
    _check_is_duckdb(path)
    for attempt in range(2):
        with frozen(path, wait=wait):
            con = _open_waiting(path, True, _wait_s(wait))
            try:
                interrupts.track(con)
                con.execute("SET TimeZone = 'UTC'")
                if attempt == 1 or is_current(con):
                    yield con
                    return
            finally:
                con.close()
        connect(path, wait=wait).close()  # an older schema: apply this version's, then read


def connect_existing(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a database that must already exist, read-write; a missing file is a one-line InputError."""
    if str(path) != ":memory:" and not Path(path).exists():
        raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
    return connect(path)


# --------------------------------------------------------------------------- shared by turns


class SharedConnection:
    """A connection that holds the database file only while it is used; see the module doc.

    It opens the file when a statement needs it (waiting while another process
    holds it) and closes it at `release()`, so other processes can use the
    file in between. Call `release()` between transactions only (never
    between `begin` and `commit`). Everything else is the DuckDB connection's
    own API. `opens` and `held_s` say how often and how long it held the file.
    """

    def __init__(self, path: str | Path, *, wait: float | None = None):
        self.path = Path(path)
        self.wait = wait
        self._con: duckdb.DuckDBPyConnection | None = None
        self._since = 0.0
        self.opens = 0
        self.held_s = 0.0

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = connect(self.path, wait=self.wait)
            self._since = time.monotonic()
            self.opens += 1
        return self._con

    def execute(self, *args, **kwargs):
        return self.connection.execute(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.connection, name)

    def release(self) -> None:
        """Let go of the file (other processes may use it now); the next statement opens it again."""
        if self._con is not None:
            con, self._con = self._con, None
            con.close()
            self.held_s += time.monotonic() - self._since

    def close(self) -> None:
        self.release()


def shared(path: str | Path, *, wait: float | None = None) -> SharedConnection:
    """A connection to `path` that other processes can use between this one's statements (see `release`)."""
    return SharedConnection(path, wait=wait)


def release(con) -> None:
    """Let other processes use the database while this one waits on something else (network,
    extraction). A no-op for a plain DuckDB connection, which holds its file until closed."""
    let_go = getattr(con, "release", None)
    if let_go is not None:
        let_go()


def _check_is_duckdb(path: Path) -> None:
    """A file that is not a DuckDB database (SQLite, CSV, ...) is refused before DuckDB opens it."""
    if not path.exists():
        return
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a DuckDB database")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"{path} is not a regular file, so not a DuckDB database")
    try:
        with path.open("rb") as fh:
            head = fh.read(_MAGIC_AT + len(_MAGIC))
    except OSError as exc:
        raise InputError(f"cannot read database {path}: {exc.strerror or exc}") from None
    if head[_MAGIC_AT:] != _MAGIC:
        raise InputError(f"{path} is not a DuckDB database")


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the numbered files in sql/schema/ that this database has not seen."""
    con.execute(
        "create table if not exists schema_migrations ("
        " version integer primary key, name varchar not null,"
        " applied_at timestamp not null default current_timestamp)"
    )
    done = {v for (v,) in con.execute("select version from schema_migrations").fetchall()}
    applied = []
    for file in sorted((sql_dir() / "schema").glob("*.sql")):
        m = _MIGRATION_NAME.match(file.name)
        if not m or int(m.group(1)) in done:
            continue
        con.execute("begin transaction")
        try:
            con.execute(file.read_text(encoding="utf-8"))
            con.execute(
                "insert into schema_migrations (version, name) values (?, ?)",
                [int(m.group(1)), file.name],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        applied.append(file.name)
    return applied


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view in sql/views/, in file-name order, and record their digest."""
    views = sql_dir() / "views"
    if views.is_dir():
        for file in sorted(views.glob("*.sql")):
            con.execute(file.read_text(encoding="utf-8"))
    con.execute("create table if not exists schema_views (digest varchar not null)")
    con.execute("delete from schema_views")
    con.execute("insert into schema_views values (?)", [_views_digest()])


def _migration_versions() -> set[int]:
    return {int(m.group(1)) for f in (sql_dir() / "schema").glob("*.sql") if (m := _MIGRATION_NAME.match(f.name))}


def _views_digest() -> str:
    h = hashlib.sha256()
    for file in sorted((sql_dir() / "views").glob("*.sql")):
        h.update(file.name.encode() + b"\0" + file.read_bytes())
    return h.hexdigest()


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Every migration of this version applied and every view as this version defines it (reads only)."""
    try:
        done = {v for (v,) in con.execute("select version from schema_migrations").fetchall()}
        digest = con.execute("select max(digest) from schema_views").fetchall()[0][0]
    except duckdb.CatalogException:
        return False  # a new file, or one from before schema_views
    # fetched to the end above: DuckDB refuses `register` while a result is still open
    return _migration_versions() <= done and digest == _views_digest()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[Mapping] | pa.Table,
    key: Sequence[str],
) -> int:
    """Insert or replace `rows` into `table` in one statement, keyed on `key`.

    Rows may carry a subset of the table's columns; missing ones become null
    (or their default). Later rows win over earlier ones with the same key.
    Returns the number of rows written.
    """
    import pyarrow as pa  # here, not at the top: readers such as `comments status` never need it

    if not isinstance(rows, pa.Table):
        rows = _dedupe_last(rows, key)
        if not rows:
            return 0
        batch = pa.Table.from_pylist(list(rows))
    else:
        batch = rows
        if batch.num_rows == 0:
            return 0
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
        raise ValueError(f"bad table name {table!r}")
    name = f"_upsert_{table}"
    con.register(name, batch)
    try:
        cols = ", ".join(f'"{c}"' for c in batch.column_names)
        con.execute(f"insert or replace into {table} ({cols}) select {cols} from {name}")
    finally:
        con.unregister(name)
    return batch.num_rows


def _dedupe_last(rows: Iterable[Mapping], key: Sequence[str]) -> list[Mapping]:
    by_key: dict[tuple, Mapping] = {}
    for row in rows:
        by_key[tuple(row[k] for k in key)] = row
    return list(by_key.values())


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None = None):
    row = con.execute(sql, params or []).fetchone()
    return None if row is None else row[0]
