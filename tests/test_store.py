"""The store: schema applied once, batch upserts, locked files, the effective-text view."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from comments import store
from comments.errors import DatabaseLockedError, InputError


def test_schema_applied_once_and_recorded(tmp_path):
    path = tmp_path / "c.duckdb"
    con = store.connect(path)
    first = con.execute("select version, name from schema_migrations order by version").fetchall()
    con.close()
    con = store.connect(path)
    assert store.migrate(con) == []  # nothing left to apply on a second open
    assert con.execute("select version, name from schema_migrations order by version").fetchall() == first
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    for name in ("dockets", "documents", "comments", "attachments", "sync_state", "sync_runs", "sync_errors",
                 "campaigns", "themes", "comment_themes", "analysis_runs", "comment_analysis", "comment_bodies"):
        assert name in tables


def test_upsert_replaces_by_key_and_keeps_one_row(tmp_path):
    con = store.connect(tmp_path / "c.duckdb")
    store.upsert(con, "comments", [{"comment_id": "A-1", "docket_id": "A", "text": "old"}], ["comment_id"])
    n = store.upsert(
        con,
        "comments",
        [{"comment_id": "A-1", "docket_id": "A", "text": "new"}, {"comment_id": "A-2", "docket_id": "A", "text": "x"},
         {"comment_id": "A-2", "docket_id": "A", "text": "last wins"}],
        ["comment_id"],
    )
    assert n == 2
    assert con.execute("select comment_id, text from comments order by 1").fetchall() == [("A-1", "new"), ("A-2", "last wins")]


def test_upsert_refuses_odd_table_names(tmp_path):
    con = store.connect(tmp_path / "c.duckdb")
    with pytest.raises(ValueError):
        store.upsert(con, "comments; drop table comments", [{"comment_id": "x", "docket_id": "y"}], ["comment_id"])


def test_database_held_by_another_process_is_a_one_line_user_error(tmp_path):
    path = tmp_path / "held.duckdb"
    store.connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("ready", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError) as err:
            store.connect(path)  # COMMENTS_DB_WAIT is 1 s in the tests (conftest)
        assert time.monotonic() - started >= 1  # it waited for the holder first
        assert "in use by another process" in str(err.value)
        assert "\n" not in str(err.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_not_a_database_is_a_user_error(tmp_path):
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(InputError):
        store.connect(bogus)


def test_read_only_open_of_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="comments sync"):
        store.connect(tmp_path / "missing.duckdb", read_only=True)


def test_a_reopened_database_takes_arrow_batches_at_once(tmp_path):
    """A second open finds the schema current and writes nothing; it must leave no open result
    behind (DuckDB 2 refuses `register` while one is open), so a batch upsert works straight away."""
    path = tmp_path / "c.duckdb"
    store.connect(path).close()
    stamp = (path.stat().st_size, path.stat().st_mtime_ns)
    store.connect(path).close()
    assert (path.stat().st_size, path.stat().st_mtime_ns) == stamp  # nothing written: readers' copies stay valid
    for text in ("first", "second"):
        con = store.connect(path)
        store.upsert(con, "comments", [{"comment_id": "A-1", "docket_id": "A", "text": text}], ["comment_id"])
        assert con.execute("select text from comments").fetchall() == [(text,)]
        con.close()


def test_a_changed_view_is_recreated_on_the_next_open(tmp_path):
    path = tmp_path / "c.duckdb"
    con = store.connect(path)
    con.execute("update schema_views set digest = 'an older version'")
    con.execute("drop view comment_bodies")
    con.close()
    with store.reading(path) as con:  # a reader brings an older schema up to date first
        assert con.execute("select count(*) from comment_bodies").fetchone()[0] == 0


def test_a_reader_holds_writers_off_and_never_takes_their_lock(tmp_path):
    path = tmp_path / "c.duckdb"
    store.connect(path).close()
    with store.reading(path) as con:
        writer = subprocess.run(
            [sys.executable, "-c", f"from comments import store; store.connect({str(path)!r}, wait=0.5)"],
            capture_output=True, text=True, timeout=60,
        )
        assert con.execute("select count(*) from comments").fetchone() == (0,)
    assert writer.returncode != 0 and "DatabaseLockedError" in writer.stderr
    store.connect(path, wait=0).close()  # the reader let go: a writer gets in at once
