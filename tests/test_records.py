"""Mapping v4 detail JSON to rows: the one mapping every source goes through."""

from __future__ import annotations

import json
from datetime import datetime

from comments import records, store
from comments.resources import bundled_mirrulations
from comments.textutil import html_to_text


def _bundled_details():
    folder = next(bundled_mirrulations().glob("raw-data/*/*/text-*/comments"))
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_html_to_text_strips_tags_breaks_and_entities_once():
    assert html_to_text("Hello,<br/><br/><span style='x'></span>A &amp; B it&#39;s") == "Hello,\n\nA & B it's"
    assert html_to_text("a &amp;lt; b") == "a &lt; b"  # decoded once, as a browser shows it
    assert html_to_text("<p>one</p><p>two<script>alert(1)</script></p>") == "one\n\ntwo"
    assert html_to_text(None) is None


def test_comment_row_fields_from_a_real_record():
    detail = next(d for d in _bundled_details() if d["data"]["id"] == "CMS-2022-0163-0002")
    a = detail["data"]["attributes"]
    row = records.comment_row(detail, last_modified="2022-10-24T14:49:23Z")
    assert row["comment_id"] == "CMS-2022-0163-0002"
    assert row["docket_id"] == a["docketId"]
    assert row["document_id"] == a["commentOnDocumentId"]
    assert row["tracking_nbr"] == a["trackingNbr"]
    assert row["posted_date"] == datetime(2022, 10, 24, 4, 0, 0)
    assert row["last_modified"] == datetime(2022, 10, 24, 14, 49, 23)
    assert "<br" not in row["text"] and "&amp;" not in row["text"] and "&#39;" not in row["text"]
    assert json.loads(row["raw"]) == detail


def test_save_comments_is_idempotent_and_keeps_extracted_attachment_text(tmp_path):
    con = store.connect(tmp_path / "c.duckdb")
    details = _bundled_details()
    first = records.save_comments(con, details, source="mirrulations")
    assert first == {"new": len(details), "updated": 0}
    with_files = [d for d in details if d.get("included")]
    con.execute("update attachments set status = 'ok', text = 'extracted' where comment_id = ?", [with_files[0]["data"]["id"]])
    again = records.save_comments(con, details, source="mirrulations")
    assert again == {"new": 0, "updated": len(details)}
    assert store.scalar(con, "select count(*) from comments") == len(details)
    kept = store.scalar(con, "select count(*) from attachments where text = 'extracted'")
    assert kept >= 1
    announced = sum(len([i for i in d["included"] if i["type"] == "attachments"]) for d in with_files)
    assert store.scalar(con, "select count(*) from attachments") == announced


def test_choose_file_prefers_text_bearing_formats():
    offered = [
        {"fileUrl": "https://downloads.regulations.gov/X-1/attachment_1.tif", "format": "tif", "size": 10},
        {"fileUrl": "https://downloads.regulations.gov/X-1/attachment_1.pdf", "format": "pdf", "size": 20},
        {"fileUrl": "https://downloads.regulations.gov/X-1/attachment_1.docx", "format": "docx", "size": 30},
    ]
    assert records.choose_file(offered) == ("https://downloads.regulations.gov/X-1/attachment_1.docx", "docx", 30)
    assert records.choose_file(None) == (None, None, None)
