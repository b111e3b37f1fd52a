"""Export: every comment once, with its analysis, read back from CSV, Parquet and JSON Lines."""

from __future__ import annotations

import csv
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from comments import records, store
from comments.cli import main
from comments.errors import InputError
from comments.export import export_docket

DOCKET = "TEST-2025-0002"
RUN = "run-1"


def detail(n: int, text: str, **attrs) -> dict:
    return {"data": {"id": f"{DOCKET}-{n:04d}", "type": "comments", "attributes": {
        "docketId": DOCKET, "comment": text, "postedDate": f"2025-03-{n:02d}T12:00:00Z",
        "firstName": "Jane", "lastName": f"Doe{n}", **attrs}}}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "e.duckdb"
    con = store.connect(path)
    template = "Please stop the data sharing program, it harms privacy."
    records.save_comments(con, [
        detail(1, template), detail(2, template, duplicateComments=4), detail(3, template + " My own words."),
        detail(4, 'A "quoted", comma-laden\nmultiline comment; with <b>html</b>', organization="Acme, Inc."),
        detail(5, "I support it."),
        {"data": {"id": "OTHER-2025-0001-0001", "type": "comments", "attributes": {"docketId": "OTHER-2025-0001", "comment": "x"}}},
    ])
    cid = lambda n: f"{DOCKET}-{n:04d}"  # noqa: E731
    store.upsert(con, "campaigns", [{
        "docket_id": DOCKET, "campaign_id": "C0001", "size": 3, "exact_copies": 2, "submissions_represented": 7,
        "members_with_additions": 1, "template_comment_id": cid(1), "template_text": template, "stance": "oppose",
        "stance_confidence": 0.9, "run_id": RUN}], ["docket_id", "campaign_id"])
    store.upsert(con, "campaign_members", [
        {"docket_id": DOCKET, "campaign_id": "C0001", "comment_id": cid(n), "similarity": 1.0 if n < 3 else 0.9,
         "is_template": n == 1, "is_exact": n < 3, "unique_additions": ["My own words."] if n == 3 else [], "run_id": RUN}
        for n in (1, 2, 3)], ["comment_id"])
    # comment 4 pastes C0001's letter into its own; C0002's short letter is inside C0001's (in each of its copies)
    store.upsert(con, "campaign_also_copies", [{"docket_id": DOCKET, "campaign_id": "C0001", "comment_id": cid(4),
                                                "template_share": 1.0, "run_id": RUN}], ["docket_id", "campaign_id", "comment_id"])
    store.upsert(con, "campaigns", [{
        "docket_id": DOCKET, "campaign_id": "C0002", "size": 2, "exact_copies": 2, "submissions_represented": 2,
        "members_with_additions": 0, "template_comment_id": "OTHER", "template_text": "Please stop the data sharing program.",
        "stance": "oppose", "stance_confidence": 0.9, "run_id": RUN, "contained_in": ["C0001"]}], ["docket_id", "campaign_id"])
    store.upsert(con, "themes", [{
        "docket_id": DOCKET, "theme_id": "T001", "label": "privacy harms", "keywords": ["privacy"], "is_catch_all": False,
        "rank": 1, "unique_texts": 2, "comments": 4, "submissions": 8, "quotes": [], "run_id": RUN}], ["docket_id", "theme_id"])
    store.upsert(con, "comment_themes", [
        {"docket_id": DOCKET, "comment_id": cid(n), "theme_id": "T001", "score": 1.0, "is_primary": True, "run_id": RUN}
        for n in (1, 2, 3, 4)], ["comment_id", "theme_id"])
    store.upsert(con, "comment_labels", [
        {"docket_id": DOCKET, "comment_id": cid(n), "stance": "oppose" if n < 5 else "support", "stance_confidence": 0.8,
         "stance_evidence": "stop", "commenter_type": "organization" if n == 4 else "individual",
         "commenter_name": "Acme, Inc." if n == 4 else None, "run_id": RUN} for n in range(1, 6)], ["comment_id"])
    con.close()
    return path


def sql_counts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "comments": con.execute("select count(*) from comments where docket_id = ?", [DOCKET]).fetchone()[0],
            "campaign_copies": con.execute(
                "select count(*) from campaign_members m join comments c using (comment_id) where c.docket_id = ?", [DOCKET]
            ).fetchone()[0],
            "oppose": con.execute(
                "select count(*) from comment_labels where docket_id = ? and stance = 'oppose'", [DOCKET]).fetchone()[0],
            "submissions": con.execute(
                "select sum(1 + coalesce(duplicate_comments, 0)) from comments where docket_id = ?", [DOCKET]).fetchone()[0],
        }
    finally:
        con.close()


def check_rows(rows, counts):
    assert len(rows) == counts["comments"] == 5
    assert len({r["comment_id"] for r in rows}) == 5
    assert all(r["docket_id"] == DOCKET for r in rows)
    assert sum(1 for r in rows if r["campaign_id"] == "C0001") == counts["campaign_copies"]
    assert sum(1 for r in rows if r["stance"] == "oppose") == counts["oppose"]
    assert sum(int(r["submissions_represented"]) for r in rows) == counts["submissions"]
    by_id = {r["comment_id"]: r for r in rows}
    four = by_id[f"{DOCKET}-0004"]
    assert four["effective_text"] == 'A "quoted", comma-laden\nmultiline comment; with html'
    assert four["theme_label"] == "privacy harms" and four["commenter_name"] == "Acme, Inc."
    assert by_id[f"{DOCKET}-0005"]["campaign_id"] in (None, "")
    assert "first_name" not in four and "last_name" not in four
    # the other letters each comment copies besides its own campaign's
    also = {n: by_id[f"{DOCKET}-{n:04d}"]["also_copies_campaigns"] for n in range(1, 6)}
    also = {n: (json.loads(v) if v else None) if isinstance(v, str) else v for n, v in also.items()}  # CSV: JSON text
    assert also == {1: ["C0002"], 2: ["C0002"], 3: ["C0002"], 4: ["C0001"], 5: None}


def test_csv_round_trip(db, tmp_path):
    out = tmp_path / "out.csv"
    assert export_docket(store.connect(db), DOCKET, "csv", out) == 5
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    check_rows(rows, sql_counts(db))
    three = next(r for r in rows if r["comment_id"].endswith("0003"))
    assert json.loads(three["unique_additions"]) == ["My own words."]
    assert not list(tmp_path.glob(".*partial"))


def test_parquet_round_trip(db, tmp_path):
    out = tmp_path / "out.parquet"
    assert export_docket(store.connect(db), DOCKET, "parquet", out) == 5
    rows = pq.read_table(out).to_pylist()
    check_rows(rows, sql_counts(db))
    three = next(r for r in rows if r["comment_id"].endswith("0003"))
    assert three["unique_additions"] == ["My own words."] and three["campaign_size"] == 3


def test_jsonl_round_trip_with_names_and_odd_path(db, tmp_path):
    out = tmp_path / "it's a \"file\"; drop table comments.jsonl"
    assert main(["export", DOCKET, "--format", "jsonl", "--out", str(out), "--db", str(db), "--show-names"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    counts = sql_counts(db)  # the comments table is still there
    assert len(rows) == counts["comments"]
    assert {r["last_name"] for r in rows} == {f"Doe{n}" for n in range(1, 6)}


def test_bad_input_is_one_line_and_writes_nothing(db, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["export", DOCKET, "--format", "xlsx", "--out", str(out), "--db", str(db)]) != 0
    assert main(["export", "NOPE-2025-0001", "--format", "csv", "--out", str(out), "--db", str(db)]) != 0
    assert main(["export", DOCKET, "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"), "--db", str(db)]) != 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert not out.exists()
    out.write_text("keep me")
    with pytest.raises(InputError):
        export_docket(store.connect(db), DOCKET, "csv", out)
    assert out.read_text() == "keep me"
    assert export_docket(store.connect(db), DOCKET, "csv", out, force=True) == 5


def test_export_carries_the_substance_score_of_each_comments_unique_text(db, tmp_path):
    """A campaign copy carries its template's score (substance is scored once per unique text)."""
    con = store.connect(db)
    cid = lambda n: f"{DOCKET}-{n:04d}"  # noqa: E731
    store.upsert(con, "comment_significance", [
        {"docket_id": DOCKET, "comment_id": cid(1), "score": 61.5, "rank": 1, "signals": ["requested change"],
         "key_sentence": "Please stop the data sharing program, it harms privacy.", "run_id": RUN},
        {"docket_id": DOCKET, "comment_id": cid(4), "score": 12.0, "rank": 2, "signals": [], "key_sentence": None,
         "run_id": RUN}], ["comment_id"])
    out = tmp_path / "s.parquet"
    export_docket(con, DOCKET, "parquet", out)
    con.close()
    rows = {r["comment_id"]: r for r in pq.read_table(out).to_pylist()}
    assert [rows[cid(n)]["significance_score"] for n in (1, 2, 3)] == [61.5, 61.5, 61.5]
    assert rows[cid(4)]["significance_score"] == 12.0 and rows[cid(4)]["significance_rank"] == 2
    assert rows[cid(5)]["significance_score"] is None
