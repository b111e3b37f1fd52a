"""sync_docket over loopback against comments.replay: complete, once, incremental, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from comments import store
from comments.client import NotFound, RegulationsClient
from comments.replay import Faults, Snapshot
from comments.sync import eastern_filter_value, sync_docket

KEY = "sk-Sync-Test-Key-5f3e2d1c0b9a"


def make_client(server, key="test-key", **kw) -> RegulationsClient:
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("backoff_base", 0.001)
    return RegulationsClient(key, server.base_url, 1_000_000, **kw)


SMALL = "SYN-2024-0005"


@pytest.fixture
def small():
    """A 300-comment docket (clones of the bundled real records): two list pages, quick to sync."""
    return Snapshot.synthetic(300, docket_id=SMALL, seed=5)


def counts(con, docket_id):
    return con.execute(
        "select count(*), count(distinct comment_id) from comments where docket_id = ?", [docket_id]
    ).fetchone()


def test_eastern_filter_values():
    # daylight saving (EDT, UTC-4) and standard time (EST, UTC-5)
    assert eastern_filter_value(datetime(2020, 8, 10, 15, 58, 52)) == "2020-08-10 11:58:52"
    assert eastern_filter_value(datetime(2024, 1, 15, 12, 0, 0, tzinfo=UTC)) == "2024-01-15 07:00:00"
    # 05:30Z on 2024-11-03 is 01:30 EDT, a wall time that happens twice: step back an hour
    # so the server's reading (either one) is never after the instant
    assert eastern_filter_value(datetime(2024, 11, 3, 5, 30)) == "2024-11-03 00:30:00"
    # 06:30Z is 01:30 EST, the later reading: stepping back gives 01:30 EDT, at or before it either way
    assert eastern_filter_value(datetime(2024, 11, 3, 6, 30)) == "2024-11-03 01:30:00"


def test_docket_over_5000_arrives_complete_each_once(replay, tmp_path):
    snap = Snapshot.synthetic(5200, docket_id="SYN-2024-0001", seed=1)
    server = replay(snap)
    con = store.connect(tmp_path / "c.duckdb")
    seen_totals = []
    result = sync_docket(con, make_client(server), "SYN-2024-0001", progress=lambda n=1, total=None: seen_totals.append(total))
    assert result.status == "complete"
    assert counts(con, "SYN-2024-0001") == (5200, 5200)
    assert result.new == 5200 and result.api_total == 5200
    # each detail fetched once; listing past page 20 re-queried from the cursor
    assert server.stats["comment_detail"] == 5200
    assert 21 <= server.stats["comments_list"] <= 24
    assert (server.stats.total - 5200) / 5200 < 0.01
    assert 5200 in seen_totals
    # the cursor is the newest lastModifiedDate stored
    cursor, newest = con.execute(
        "select (select cursor_last_modified from sync_state), max(last_modified) from comments"
    ).fetchone()
    assert cursor == newest


def test_faults_lose_and_duplicate_nothing(replay, tmp_path):
    snap = Snapshot.synthetic(500, docket_id="SYN-2024-0002", seed=2)
    faults = Faults(
        server_error_rate=0.05, rate_limit_storm=15, rate_limit_rate=0.03, retry_after=0.01,
        drop_rate=0.03, truncate_rate=0.03, seed=5,
    )
    server = replay(snap, faults=faults)
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server, max_retries=8), "SYN-2024-0002")
    assert server.stats.errors_injected > 50
    assert result.status == "complete", result.message
    assert counts(con, "SYN-2024-0002") == (500, 500)
    assert con.execute("select count(*) from sync_errors where resolved_at is null").fetchone()[0] == 0
    # the stored text is the server's text, not a truncated fragment
    stored = dict(con.execute("select comment_id, title from comments").fetchall())
    for cid in list(stored)[:50]:
        assert stored[cid] == snap.comment_detail(cid)["data"]["attributes"]["title"]


def test_changes_while_paging_still_end_complete(replay, tmp_path):
    snap = Snapshot.synthetic(600, docket_id="SYN-2024-0003", seed=3)
    server = replay(snap, faults=Faults(change_while_paging=2, seed=4))
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0003")
    assert result.status == "complete", result.message
    assert counts(con, "SYN-2024-0003") == (600, 600)


def test_unchanged_resync_fetches_no_detail_and_changed_comment_is_refetched(replay, small, tmp_path):
    server = replay(small)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server)
    assert sync_docket(con, client, SMALL).new == 300

    server.stats.reset()
    again = sync_docket(con, client, SMALL)
    assert server.stats["comment_detail"] == 0
    assert server.stats.total == 4  # docket, documents, the list from the cursor, the total check
    assert again.status == "complete" and again.new == again.updated == 0

    target = "SYN-2024-0005-00010"
    small.touch_comment(target, title="Changed title")
    server.stats.reset()
    changed = sync_docket(con, client, SMALL)
    assert server.stats["comment_detail"] == 1
    assert changed.updated == 1 and changed.new == 0
    assert con.execute("select title from comments where comment_id = ?", [target]).fetchone()[0] == "Changed title"


def test_new_comment_behind_the_cursor_is_found_by_the_total_check(replay, small, tmp_path):
    server = replay(small)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server)
    sync_docket(con, client, SMALL)
    # a comment that appears with an OLD lastModifiedDate: listing from the cursor cannot see it
    detail = small.comment_detail("SYN-2024-0005-00002")
    detail["data"] = {**detail["data"], "id": "SYN-2024-0005-99999"}
    small.add_comment(detail, last_modified=datetime(2020, 1, 1, tzinfo=UTC))
    server.stats.reset()
    result = sync_docket(con, client, SMALL)
    assert result.status == "complete"
    assert result.passes == ["incremental", "full"]
    assert server.stats["comment_detail"] == 1
    assert counts(con, SMALL) == (301, 301)


def test_deleted_rows_heal_on_next_sync(replay, small, tmp_path):
    server = replay(small)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server)
    sync_docket(con, client, SMALL)
    con.execute("delete from comments where comment_id in ('SYN-2024-0005-00003', 'SYN-2024-0005-00200')")
    server.stats.reset()
    sync_docket(con, client, SMALL)
    assert server.stats["comment_detail"] == 2
    assert counts(con, SMALL) == (300, 300)


def test_failing_ids_are_recorded_and_retried_next_run(replay, small, tmp_path):
    bad = frozenset({"SYN-2024-0005-00005", "SYN-2024-0005-00250"})
    server = replay(small, faults=Faults(failing_ids=bad))
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server, max_retries=2)
    first = sync_docket(con, client, SMALL)
    assert first.failed == 2 and first.new == 298
    assert first.status == "complete"  # every listed comment is stored or recorded
    errors = con.execute(
        "select item_id, status_code, reason, attempts from sync_errors where resolved_at is null order by item_id"
    ).fetchall()
    assert [e[0] for e in errors] == sorted(bad)
    assert all(e[1] == 500 and "500" in e[2] for e in errors)

    # still failing: retried, attempts counted, nothing else fetched
    server.stats.reset()
    second = sync_docket(con, client, SMALL)
    assert server.stats["comment_detail"] == 2 * 2  # 2 ids x (1 + 1 retry: "Incorrect result size" is permanent)
    assert second.failed == 2
    assert con.execute("select min(attempts) from sync_errors").fetchone()[0] == 2

    server.set_faults(None)
    third = sync_docket(con, client, SMALL)
    assert third.retried_ok == 2 and third.new == 2
    assert counts(con, SMALL) == (300, 300)
    assert con.execute("select count(*) from sync_errors where resolved_at is null").fetchone()[0] == 0
    # the retried comments carry the list's lastModifiedDate like any other
    assert con.execute(
        "select count(*) from comments where comment_id in (select item_id from sync_errors) and last_modified is null"
    ).fetchone()[0] == 0


def test_max_comments_stops_then_next_run_completes_without_refetching(replay, small, tmp_path):
    server = replay(small)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server)
    first = sync_docket(con, client, SMALL, max_comments=100)
    assert first.status == "partial" and first.new == 100
    assert server.stats["comment_detail"] == 100
    second = sync_docket(con, client, SMALL)
    assert second.status == "complete"
    assert server.stats["comment_detail"] == 300
    assert counts(con, SMALL) == (300, 300)


def test_missing_docket_raises_not_found_and_records_the_run(replay, tmp_path):
    server = replay()
    con = store.connect(tmp_path / "c.duckdb")
    with pytest.raises(NotFound):
        sync_docket(con, make_client(server), "CMS-2099-0001")
    assert con.execute("select status from sync_runs").fetchall() == [("failed",)]


def test_runs_are_recorded(replay, small, tmp_path):
    server = replay(small)
    con = store.connect(tmp_path / "c.duckdb")
    sync_docket(con, make_client(server), SMALL)
    row = con.execute(
        "select status, requests, detail_requests, new_comments, failed, duration_s, api_total from sync_runs"
    ).fetchone()
    assert row[0] == "complete" and row[1] == server.stats.total and row[2] == 300 and row[3] == 300
    assert row[4] == 0 and row[5] > 0 and row[6] == 300


CHILD = r"""
import sys
from comments import store
from comments.client import RegulationsClient
from comments.sync import sync_docket
con = store.connect(sys.argv[1])
client = RegulationsClient(sys.argv[3], sys.argv[2], 1_000_000)
sync_docket(con, client, "SYN-2024-0009")
"""


def test_sigkill_mid_run_then_resume_completes_without_refetching(replay, tmp_path):
    snap = Snapshot.synthetic(1000, docket_id="SYN-2024-0009", seed=9)
    server = replay(snap, api_keys=(KEY,), faults=Faults(latency=0.002))
    db = tmp_path / "c.duckdb"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), server.base_url, KEY])
    deadline = time.monotonic() + 60
    while server.stats["comment_detail"] < 450 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None, "the sync finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    fetched_before_kill = server.stats["comment_detail"]

    con = store.connect(db)
    stored_after_kill = counts(con, "SYN-2024-0009")[0]
    assert stored_after_kill >= 250  # whole pages were checkpointed
    assert fetched_before_kill - stored_after_kill <= 250 + 5  # at most the page in flight is lost
    assert con.execute("select status from sync_runs").fetchone()[0] == "running"

    server.stats.reset()
    result = sync_docket(con, make_client(server, key=KEY), "SYN-2024-0009")
    assert result.status == "complete"
    assert counts(con, "SYN-2024-0009") == (1000, 1000)
    assert server.stats["comment_detail"] == 1000 - stored_after_kill  # nothing stored is fetched again
    assert con.execute("select status from sync_runs order by started_at").fetchall() == [("failed",), ("complete",)]


def test_key_appears_nowhere(replay, small, tmp_path, caplog):
    caplog.set_level("DEBUG")
    server = replay(small, api_keys=(KEY,), faults=Faults(failing_ids=frozenset({"SYN-2024-0005-00007"}), server_error_rate=0.05, seed=1))
    db = tmp_path / "c.duckdb"
    con = store.connect(db)
    result = sync_docket(con, make_client(server, key=KEY, max_retries=3), SMALL)
    assert result.failed >= 1
    try:
        sync_docket(con, make_client(server, key=KEY + "-wrong"), SMALL)
    except Exception as exc:  # noqa: BLE001 (the error text is what we inspect)
        error_text = f"{exc!r} {exc}"
    con.close()
    assert KEY not in error_text
    assert KEY not in caplog.text
    assert KEY.encode() not in db.read_bytes()
    wal = db.with_suffix(".duckdb.wal")
    assert not wal.exists() or KEY.encode() not in wal.read_bytes()
