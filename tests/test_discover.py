"""discover: documents and dockets found through the API, with comment counts (replay server)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from comments.cli import main
from comments.client import RegulationsClient
from comments.discover import discover
from comments.errors import InputError

SORN_DOC = "DHS-2099-0001-0001"
SORN_OBJECT = "0900006400000001"


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def server(bundled_snapshot, replay, api_env):
    """The bundled CMS docket (closed) plus a DHS system-of-records notice open for comment, 3 comments."""
    now = datetime.now(UTC)
    snap = bundled_snapshot
    snap.add_docket({"data": {"id": "DHS-2099-0001", "type": "dockets", "attributes": {
        "agencyId": "DHS", "title": "Privacy Act of 1974; System of Records", "docketType": "Nonrulemaking",
        "objectId": "0b00006400000001", "lastModifiedDate": _iso(now)}}})
    snap.add_document({"data": {"id": SORN_DOC, "type": "documents", "attributes": {
        "agencyId": "DHS", "docketId": "DHS-2099-0001", "documentType": "Notice", "objectId": SORN_OBJECT,
        "title": "Privacy Act of 1974; System of Records <b>notice</b>", "postedDate": _iso(now - timedelta(days=3)),
        "commentStartDate": _iso(now - timedelta(days=3)), "commentEndDate": _iso(now + timedelta(days=27)),
        "openForComment": True, "lastModifiedDate": _iso(now)}}})
    for n in range(1, 4):
        snap.add_comment({"data": {"id": f"DHS-2099-0001-{n + 1:04d}", "type": "comments", "attributes": {
            "docketId": "DHS-2099-0001", "agencyId": "DHS", "commentOn": SORN_OBJECT,
            "commentOnDocumentId": SORN_DOC, "comment": f"comment {n}", "postedDate": _iso(now)}}})
    return api_env(replay(snap))


def test_open_system_of_records_notice_with_its_count(server):
    client = RegulationsClient()
    found = discover(client, "system of records", agency="dhs", open_only=True)
    assert [d["id"] for d in found.documents] == [SORN_DOC]
    assert found.documents[0]["comment_count"] == 3
    assert [d["id"] for d in found.dockets] == ["DHS-2099-0001"]
    assert found.dockets[0]["comment_count"] == 3
    # 1 document search + 2 counts (the docket search cannot filter on open periods)
    assert found.requests == 3 == server.stats.total
    assert server.stats["documents"] == 1 and server.stats["comments_list"] == 2


def test_closed_docket_found_with_all_its_comments(server):
    found = discover(RegulationsClient(), "national directory", limit=5)
    assert [d["id"] for d in found.documents] == ["CMS-2022-0163-0001"]
    assert [d["id"] for d in found.dockets] == ["CMS-2022-0163"]
    assert found.dockets[0]["comment_count"] == 647
    assert found.documents[0]["comment_count"] == 647
    assert discover(RegulationsClient(), "national directory", open_only=True).items == []
    # Agency filter applies.
    assert discover(RegulationsClient(), "national directory", agency="DHS").items == []


def test_counts_can_be_skipped(server):
    found = discover(RegulationsClient(), "system of records", count_comments=False)
    assert found.requests == 2 and all(i["comment_count"] is None for i in found.items)


def test_bad_arguments_are_user_errors(server):
    with pytest.raises(InputError):
        discover(RegulationsClient(), "   ")
    with pytest.raises(InputError):
        discover(RegulationsClient(), "x", limit=0)


def test_cli_json_and_text(server, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["discover", "--term", "system of records", "--agency", "DHS", "--open", "--output", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["kind"], r["id"], r["comment_count"]) for r in rows} == {
        ("docket", "DHS-2099-0001", 3), ("document", SORN_DOC, 3)}
    assert main(["discover", "--term", "system of records", "--open"]) == 0
    out = capsys.readouterr().out
    assert SORN_DOC in out and "<b>notice</b>" in out  # titles shown as text, not markup


def test_cli_bad_key_is_one_line(server, capsys, monkeypatch):
    monkeypatch.setenv("REGULATIONS_GOV_API_KEY", "wrong-key")
    assert main(["discover", "--term", "records"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "wrong-key" not in err


def test_watchlist_search_reports_only_new_finds(server, tmp_path, bundled_snapshot):
    from comments import watchlist

    db = tmp_path / "d.duckdb"
    entry = watchlist.SearchEntry("system of records", agency="DHS", open=True)
    first = watchlist.search_step(db, entry)
    assert {(f["kind"], f["id"]) for f in first["new"]} == {("docket", "DHS-2099-0001"), ("document", SORN_DOC)}
    second = watchlist.search_step(db, entry)
    assert second["new"] == [] and len(second["found"]) == 2
    # A new notice appears on the server: only it is new next time.
    doc = copy.deepcopy(server.snapshot.documents[SORN_DOC])
    doc["data"]["id"] = "DHS-2099-0001-0002"
    doc["data"]["attributes"]["objectId"] = "0900006400000002"
    server.snapshot.add_document(doc)
    third = watchlist.search_step(db, entry)
    assert [(f["kind"], f["id"]) for f in third["new"]] == [("document", "DHS-2099-0001-0002")]
    md = watchlist.render_discoveries_markdown([(entry, third["found"], third["new"])])
    assert len(third["found"]) == 3 and "3 found, 1 new since the last run." in md
    assert "**new** document [DHS-2099-0001-0002]" in md and "&lt;b&gt;notice&lt;/b&gt;" in md
