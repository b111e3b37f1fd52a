"""The DuckDB store: open (applying the schema), batch upserts, small helpers.

Schema changes are numbered files in `sql/schema/` applied once each, in
order, and recorded in `schema_migrations`. Views live in `sql/views/` and are
re-created on every read-write open, so a changed view needs no migration.

Writes go through Arrow in batches: row-by-row inserts are ~300x slower here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from comments import interrupts
from comments.errors import DatabaseLockedError, InputError
from comments.resources import sql_dir

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


# Every connection the project opens: DuckDB would otherwise download and load
# an extension when a query or a file needs one (a SQLite file given as --db
# fetched sqlite_scanner from the internet). The product needs none beyond the
# built-in json, parquet and icu.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# A DuckDB file starts with an 8-byte checksum, then these 4 bytes.
_MAGIC, _MAGIC_AT = b"DUCK", 8


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database at `path` with the schema applied."""
    path = Path(path)
    if str(path) != ":memory:":
        if read_only and not path.exists():
            raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
        _check_is_duckdb(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder for database {path}: {exc.strerror or exc}") from None
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=_CONFIG)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            holder = re.search(r"PID (\d+)", msg)
            who = f" (process {holder.group(1)})" if holder else ""
            raise DatabaseLockedError(
                f"database {path} is in use by another process{who}; wait for it to finish or use --db"
            ) from None
        raise InputError(f"cannot open database {path}: {msg.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise InputError(f"{path} is not a DuckDB database: {str(exc).splitlines()[0]}") from None
    interrupts.track(con)  # Ctrl-C and SIGTERM can end a long query (comments.interrupts)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        try:
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


def connect_existing(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a database that must already exist (read-write, like every other connection in the
    process: DuckDB refuses a read-only one beside it); a missing file is a one-line InputError."""
    if str(path) != ":memory:" and not Path(path).exists():
        raise InputError(f"no database at {path}: run `comments sync` or `comments import` first")
    return connect(path)


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
    """(Re)create every view in sql/views/, in file-name order."""
    views = sql_dir() / "views"
    if views.is_dir():
        for file in sorted(views.glob("*.sql")):
            con.execute(file.read_text(encoding="utf-8"))


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
