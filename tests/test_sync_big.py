"""Big dockets against a stand-in that pages like the real API (page 20 calls itself the last page):
complete by identity, same-second batches split, several keys in parallel under their budgets."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from comments import store
from comments.client import RegulationsClient
from comments.commands.ingest import status_lines
from comments.importers.bulk_csv import import_bulk_csv
from comments.listing import Lister
from comments.replay import Faults, Snapshot
from comments.sync import id_status, sync_docket


def make_client(server, keys="test-key", rate=1_000_000, **kw) -> RegulationsClient:
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("backoff_base", 0.001)
    return RegulationsClient(keys, server.base_url, rate, **kw)


def stored_ids(con, docket_id) -> list[str]:
    return [r[0] for r in con.execute("select comment_id from comments where docket_id = ?", [docket_id]).fetchall()]


def assert_exactly_the_servers_ids(con, snap, docket_id):
    ids = stored_ids(con, docket_id)
    assert len(ids) == len(set(ids))  # nothing twice
    assert set(ids) == set(snap.comment_ids())  # nothing lost, nothing extra


def test_12000_comment_docket_arrives_complete_past_the_5000_cap(replay, tmp_path):
    snap = Snapshot.synthetic(12_000, docket_id="SYN-2024-0012", seed=12)
    server = replay(snap)
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0012")
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0012")
    assert result.listed == result.api_total == 12_000 and result.missing == 0
    assert server.stats["comment_detail"] == 12_000  # each detail once
    # three queries of at most 20 pages (5,000, then re-queried from the cursor twice)
    assert server.stats["comments_list"] <= 3 * 20 + 3
    assert "12,000 of 12,000 listed comments stored" in result.summary()


def test_6000_comments_in_one_second_are_split_by_document(replay, tmp_path):
    snap = Snapshot.synthetic(6_500, docket_id="SYN-2024-0013", seed=13, burst=6_000, documents=2)
    server = replay(snap)
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0013")
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0013")
    assert server.stats["comment_detail"] == 6_500


def test_6000_comments_in_one_second_on_one_document_are_split_by_posted_day(replay, tmp_path):
    snap = Snapshot.synthetic(6_300, docket_id="SYN-2024-0014", seed=14, burst=6_000, burst_posted_days=3)
    server = replay(snap)
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0014")
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0014")


def test_a_slice_the_api_cannot_page_is_named_with_the_command_that_fills_it(replay):
    # 10,200 comments in one second, one document, one posted day: read from both ends
    # reaches 10,000; the listing goes on past the slice and names it
    snap = Snapshot.synthetic(10_400, docket_id="SYN-2024-0015", seed=15, burst=10_200)
    server = replay(snap)
    lister = Lister(make_client(server), "SYN-2024-0015")
    seen = {i["id"] for page in lister.pages() for i in page.items}
    assert len(seen) == 10_400 - 200  # everything outside the slice, and 10,000 of it
    assert len(lister.unpaged) == 1
    message = lister.unpaged[0].message("SYN-2024-0015")
    assert "\n" not in message
    assert "200 comments the API cannot page" in message and "lastModifiedDate 2024-" in message
    assert "comments import bulk-csv" in message


def test_removed_and_failing_ids_are_reported_by_identity(replay, tmp_path):
    snap = Snapshot.synthetic(300, docket_id="SYN-2024-0016", seed=16)
    server = replay(snap)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server, max_retries=1)
    assert sync_docket(con, client, "SYN-2024-0016").status == "complete"

    gone = ["SYN-2024-0016-00007", "SYN-2024-0016-00123"]
    for cid in gone:
        snap._remove(cid)
    snap._changed()
    failing = "SYN-2024-0016-00200"
    snap.touch_comment(failing, title="changed")
    server.set_faults(Faults(failing_ids=frozenset({failing})))
    con.execute("delete from comments where comment_id = ?", [failing])  # so it is listed, not stored
    result = sync_docket(con, client, "SYN-2024-0016")
    assert result.listed == 298 and result.api_total == 298
    assert result.failing == 1 and result.removed == 2 and result.missing == 0
    assert result.status == "complete"
    summary = result.summary()
    assert "complete except 1 failing (ids in `comments status SYN-2024-0016`)" in summary
    assert "2 stored but no longer listed" in summary
    lines = "\n".join(status_lines(con, "SYN-2024-0016"))
    assert "298 listed" in lines and "1 failing" in lines and failing in lines
    assert "2 stored but no longer listed" in lines and gone[0] in lines


def test_a_server_that_serves_smaller_pages_than_asked_is_still_read_to_the_end(replay, tmp_path):
    snap = Snapshot.synthetic(2_300, docket_id="SYN-2024-0022", seed=22)
    server = replay(snap, faults=Faults(page_size_cap=100))  # 20 pages reach 2,000, not 5,000
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0022")
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0022")


def test_a_relist_that_finds_nothing_new_is_not_repeated(replay, tmp_path):
    snap = Snapshot.synthetic(300, docket_id="SYN-2024-0017", seed=17)
    server = replay(snap, faults=Faults(total_overcount=3))  # counts 3 comments it never lists
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server), "SYN-2024-0017")
    assert result.passes == ["full", "full"]  # the second found nothing new: no third
    assert result.status == "partial"
    assert "the API counts 303 comments but its list shows 300" in result.message
    assert server.stats["comment_detail"] == 300


def write_bulk_csv(path, snap, ids):
    """A bulk-download CSV of some of the snapshot's comments, in the real file's columns."""
    header = ["Document ID", "Agency ID", "Docket ID", "Document Type", "Posted Date", "Received Date",
              "Comment on Document ID", "Title", "Comment", "Organization Name", "First Name", "Last Name"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for cid in ids:
            a = snap.comment_detail(cid)["data"]["attributes"]
            writer.writerow({
                "Document ID": cid, "Agency ID": a.get("agencyId"), "Docket ID": a.get("docketId"),
                "Document Type": "Public Submission", "Posted Date": a.get("postedDate"),
                "Received Date": a.get("receiveDate"), "Comment on Document ID": a.get("commentOnDocumentId"),
                "Title": a.get("title"), "Comment": "(from the bulk CSV)", "Organization Name": a.get("organization"),
                "First Name": "", "Last Name": "",
            })
    return path


def test_bulk_csv_then_sync_fetches_only_what_the_csv_lacked_or_what_changed(replay, tmp_path):
    docket = "SYN-2024-0018"
    snap = Snapshot.synthetic(400, docket_id=docket, seed=18)
    ids = sorted(snap.comment_ids())
    in_csv = ids[:300]
    path = write_bulk_csv(tmp_path / "bulk.csv", snap, in_csv)
    con = store.connect(tmp_path / "c.duckdb")
    assert import_bulk_csv(con, path).new == 300

    changed = in_csv[5]
    snap.touch_comment(changed, last_modified=datetime(2030, 1, 1, tzinfo=UTC), title="changed after the CSV")
    # independently: the file was made no earlier than its newest posted date; a listed comment
    # modified after that may have changed since, so it is fetched
    as_of = max(snap.comment_detail(c)["data"]["attributes"]["postedDate"] for c in in_csv)
    as_of = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    kept = [c for c in in_csv if snap.last_modified(c) <= as_of]
    assert changed not in kept and len(kept) > 100

    server = replay(snap)
    result = sync_docket(con, make_client(server), docket)
    assert result.status == "complete", result.message
    assert server.stats["comment_detail"] == 400 - len(kept)
    assert result.from_bulk_csv == len(kept)
    assert result.by_source == {"api": 400 - len(kept), "bulk_csv": len(kept)}
    assert f"{len(kept):,} from a bulk CSV" in result.summary()
    assert_exactly_the_servers_ids(con, snap, docket)
    assert store.scalar(con, "select title from comments where comment_id = ?", [changed]) == "changed after the CSV"
    # a second sync fetches nothing: the kept rows carry the list's lastModifiedDate now
    server.stats.reset()
    again = sync_docket(con, make_client(server), docket)
    assert again.status == "complete" and server.stats["comment_detail"] == 0


# --------------------------------------------------------------------------- several keys


def test_three_keys_share_the_work_and_none_exceeds_its_budget(replay, tmp_path):
    # the benchmark's low-limit case: 3 keys of 150 requests per rolling hour, a 400-comment docket
    keys = ("key-one-aaaa", "key-two-bbbb", "key-three-cccc")
    snap = Snapshot.synthetic(400, docket_id="SYN-2024-0019", seed=19)
    server = replay(snap, api_keys=keys, rate_limit_per_hour=150)
    con = store.connect(tmp_path / "c.duckdb")
    client = make_client(server, ",".join(keys), rate=150)
    result = sync_docket(con, client, "SYN-2024-0019", concurrency=8)
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0019")
    per_key = server.stats.per_key()
    assert set(per_key) == set(keys)
    assert all(n <= 150 for n in per_key.values()), per_key
    assert server.stats["over_limit"] == 0  # the server never had to refuse a request for a key's budget
    assert client.stats.waited_s == 0  # the three budgets were enough: no waiting


CHILD = r"""
import sys
from comments import store
from comments.client import RegulationsClient
from comments.sync import sync_docket
con = store.connect(sys.argv[1])
client = RegulationsClient(sys.argv[3], sys.argv[2], 600, backoff_base=0.01, max_retries=8)
sync_docket(con, client, "SYN-2024-0020", concurrency=8)
"""


def test_three_keys_with_faults_and_a_sigkill_store_every_listed_id_once(replay, tmp_path):
    keys = ("sk-first-0123456789", "sk-second-0123456789", "sk-third-0123456789")
    snap = Snapshot.synthetic(1_000, docket_id="SYN-2024-0020", seed=20)
    faults = Faults(server_error_rate=0.03, rate_limit_storm=12, rate_limit_rate=0.02, retry_after=0.01,
                    drop_rate=0.02, truncate_rate=0.02, latency=0.002, seed=20)
    server = replay(snap, api_keys=keys, rate_limit_per_hour=600, faults=faults)
    db = tmp_path / "c.duckdb"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), server.base_url, ",".join(keys)])
    deadline = time.monotonic() + 120
    while server.stats["comment_detail"] < 400 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None, "the sync finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    con = store.connect(db)
    stored_after_kill = len(stored_ids(con, "SYN-2024-0020"))
    assert stored_after_kill >= 250  # whole pages were checkpointed
    result = sync_docket(con, make_client(server, ",".join(keys), rate=600, max_retries=8), "SYN-2024-0020")
    assert result.status == "complete", result.message
    assert_exactly_the_servers_ids(con, snap, "SYN-2024-0020")
    assert id_status(con, "SYN-2024-0020").missing == 0
    assert server.stats.errors_injected > 30
    assert server.stats["over_limit"] == 0
    assert all(n <= 600 for n in server.stats.per_key().values())
    assert {k for k, n in server.stats.per_key().items() if n > 100} == set(keys)  # all three did real work


@pytest.mark.parametrize("concurrency", [1, 8])
def test_serial_and_concurrent_syncs_store_the_same(replay, tmp_path, concurrency):
    snap = Snapshot.synthetic(600, docket_id="SYN-2024-0021", seed=21)
    server = replay(snap, faults=Faults(failing_ids=frozenset({"SYN-2024-0021-00042"})))
    con = store.connect(tmp_path / "c.duckdb")
    result = sync_docket(con, make_client(server, max_retries=1), "SYN-2024-0021", concurrency=concurrency)
    assert result.new == 599 and result.failed == 1 and result.failing == 1
    assert con.execute("select item_id from sync_errors where resolved_at is null").fetchall() == [("SYN-2024-0021-00042",)]
