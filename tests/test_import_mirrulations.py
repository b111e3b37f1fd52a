"""`comments import mirrulations`: the bundled real docket in the Mirrulations layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from comments import cli, store
from comments.client import RegulationsClient
from comments.errors import InputError
from comments.importers.mirrulations import import_mirrulations
from comments.resources import DEMO_DOCKET, bundled_mirrulations
from comments.sync import sync_docket

BUNDLED_COMMENTS = 647  # the bundled sample, as its README and the brief state
TEXT_DIR = Path("raw-data/CMS") / DEMO_DOCKET / f"text-{DEMO_DOCKET}"


def comment_files(root: Path | None = None) -> list[Path]:
    return sorted(((root or bundled_mirrulations()) / TEXT_DIR / "comments").glob("*.json"))


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "mirr.duckdb")
    yield c
    c.close()


@pytest.fixture
def copy_root(tmp_path) -> Path:
    """A private, writable copy of the bundled Mirrulations folder."""
    root = tmp_path / "mirror"
    shutil.copytree(bundled_mirrulations(), root)
    return root


def rows(con, table: str, order: str, exclude=("source", "fetched_at")) -> list[dict]:
    cur = con.execute(f"select * exclude ({', '.join(exclude)}) from {table} order by {order}")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_bundled_sample_gives_every_comment_and_is_idempotent(con):
    files = comment_files()
    assert len(files) == BUNDLED_COMMENTS
    report = import_mirrulations(con, bundled_mirrulations())
    assert (report.new, report.updated, report.unchanged, report.skipped) == (BUNDLED_COMMENTS, 0, 0, {})
    assert report.dockets == [DEMO_DOCKET]
    ids = {r[0] for r in con.execute("select comment_id from comments where source = 'mirrulations'").fetchall()}
    assert ids == {f.stem for f in files}
    # Fields come from the records themselves (checked on one real file, read independently).
    sample = json.loads(files[0].read_text(encoding="utf-8"))
    a = sample["data"]["attributes"]
    got = con.execute("select document_id, comment_on_object_id, category, raw::varchar from comments where comment_id = ?",
                      [sample["data"]["id"]]).fetchone()
    assert got[:3] == (a["commentOnDocumentId"], a["commentOn"], a["category"])
    assert json.loads(got[3]) == sample
    with_attachments = sum(1 for f in files if json.loads(f.read_text(encoding="utf-8")).get("included"))
    assert store.scalar(con, "select count(distinct comment_id) from attachments") == with_attachments
    assert store.scalar(con, "select count(*) from documents") == 1
    assert store.scalar(con, "select title from dockets where docket_id = ?", [DEMO_DOCKET])

    before = rows(con, "comments", "comment_id", exclude=("source",))
    again = import_mirrulations(con, bundled_mirrulations())
    assert (again.new, again.updated, again.unchanged, again.skipped) == (0, 0, BUNDLED_COMMENTS, {})
    assert again.documents == {"new": 0, "updated": 0, "unchanged": 1}
    assert rows(con, "comments", "comment_id", exclude=("source",)) == before


def test_import_equals_a_sync_through_the_api_server(replay, tmp_path):
    server = replay()  # serves the same bundled folder over loopback
    synced = store.connect(tmp_path / "synced.duckdb")
    client = RegulationsClient("test-key", server.base_url, 1_000_000, sleep=lambda s: None)
    result = sync_docket(synced, client, DEMO_DOCKET)
    assert result.status == "complete"
    imported = store.connect(tmp_path / "imported.duckdb")
    import_mirrulations(imported, bundled_mirrulations())

    for table, order in (("comments", "comment_id"), ("attachments", "comment_id, doc_order")):
        a = rows(synced, table, order, exclude=("source", "fetched_at") if table == "comments" else ("downloaded_at",))
        b = rows(imported, table, order, exclude=("source", "fetched_at") if table == "comments" else ("downloaded_at",))
        assert len(a) == len(b) and len(a) > 0, table
        for x, y in zip(a, b, strict=True):
            if table == "comments":
                x["raw"], y["raw"] = json.loads(x["raw"]), json.loads(y["raw"])
            assert x == y, (table, {k: (x[k], y[k]) for k in x if x[k] != y[k]})
    # The docket detail is the same record; the sync keeps a document's list item
    # (list attributes) where the file holds its detail, so documents compare on their columns.
    assert rows(synced, "dockets", "docket_id") == rows(imported, "dockets", "docket_id")
    exclude = ("source", "fetched_at", "raw")
    assert rows(synced, "documents", "document_id", exclude) == rows(imported, "documents", "document_id", exclude)
    assert store.scalar(imported, "select count(*) from documents") == 1
    synced.close()
    imported.close()


def test_bad_files_are_recorded_and_the_rest_imported(con, copy_root):
    comments_dir = copy_root / TEXT_DIR / "comments"
    (comments_dir / "CMS-2022-0163-9001.json").write_text('{"data": {"id": "CMS-2022-0163-9001", ', encoding="utf-8")
    (comments_dir / "CMS-2022-0163-9002.json").write_bytes(b"\xff\xfe{\x00}\x00")
    (comments_dir / "CMS-2022-0163-9003.json").write_text(json.dumps({"data": {"id": "CMS-2022-0163-9003", "type": "dockets"}}), encoding="utf-8")
    (comments_dir / "CMS-2022-0163-9004.json").write_text("[1, 2, 3]", encoding="utf-8")
    # A real record saved under another comment's name.
    first = comment_files(copy_root)[0]
    (comments_dir / "CMS-2022-0163-9005.json").write_bytes(first.read_bytes())

    report = import_mirrulations(con, copy_root)
    assert report.new == BUNDLED_COMMENTS
    assert report.skipped_total == 5
    assert report.rows_read == BUNDLED_COMMENTS + 5
    rejects = dict(con.execute("select locator, reason from import_rejects where source = 'mirrulations'").fetchall())
    assert rejects["CMS-2022-0163-9001.json"].startswith("not JSON")
    assert rejects["CMS-2022-0163-9002.json"] == "not UTF-8 text"
    assert "not a comment record" in rejects["CMS-2022-0163-9003.json"]
    assert "no data object" in rejects["CMS-2022-0163-9004.json"]
    assert "file says CMS-2022-0163-9005" in rejects["CMS-2022-0163-9005.json"]
    assert report.skipped["record id differs from its file name"] == 1
    assert store.scalar(con, "select count(*) from comments where comment_id like 'CMS-2022-0163-900%'") == 0


def test_extracted_text_fills_the_matching_attachments(con, copy_root):
    with_files = []
    for path in comment_files(copy_root):
        record = json.loads(path.read_text(encoding="utf-8"))
        for item in record.get("included") or []:
            with_files.append((record["data"]["id"], item["attributes"].get("docOrder") or 1))
        if len(with_files) >= 2:
            break
    (cid1, order1), (cid2, order2) = with_files[:2]
    extracted = copy_root / "derived-data/CMS" / DEMO_DOCKET / "mirrulations/extracted_txt/comments_extracted_text/pypdf"
    extracted.mkdir(parents=True)
    (extracted / f"{cid1}_attachment_{order1}_extracted.txt").write_text("Dear CMS,\nwe support a directory.\n", encoding="utf-8")
    (extracted / f"{cid2}_attachment_{order2}_extracted.txt").write_text("  \n", encoding="utf-8")
    (extracted / "CMS-2022-0163-0002_attachment_9_extracted.txt").write_text("no such attachment", encoding="utf-8")

    report = import_mirrulations(con, copy_root)
    assert report.attachments == 2
    got = {(r[0], r[1]): r[2:] for r in con.execute(
        "select comment_id, doc_order, status, text, extraction_method from attachments where status <> 'pending'").fetchall()}
    assert got == {
        (cid1, order1): ("ok", "Dear CMS,\nwe support a directory.", "mirrulations"),
        (cid2, order2): ("empty", "", "mirrulations"),
    }
    assert "extracted text for an attachment" in store.scalar(
        con, "select reason from import_rejects where locator = 'CMS-2022-0163-0002_attachment_9'")
    again = import_mirrulations(con, copy_root)
    assert again.attachments == 0 and again.unchanged == BUNDLED_COMMENTS


def test_docket_option_picks_one_of_several(con, copy_root):
    other = copy_root / "raw-data/EPA/EPA-HQ-OAR-2024-0001/text-EPA-HQ-OAR-2024-0001/comments"
    other.mkdir(parents=True)
    record = json.loads(comment_files(copy_root)[0].read_text(encoding="utf-8"))
    record["data"]["id"] = "EPA-HQ-OAR-2024-0001-0002"
    record["data"]["attributes"]["docketId"] = "EPA-HQ-OAR-2024-0001"
    (other / "EPA-HQ-OAR-2024-0001-0002.json").write_text(json.dumps(record), encoding="utf-8")

    only = import_mirrulations(con, copy_root, docket_id="EPA-HQ-OAR-2024-0001")
    assert (only.new, only.dockets) == (1, ["EPA-HQ-OAR-2024-0001"])
    assert store.scalar(con, "select count(*) from comments") == 1
    both = import_mirrulations(con, copy_root)
    assert both.new == BUNDLED_COMMENTS and both.unchanged == 1
    with pytest.raises(InputError, match="docket NOPE-2024-0001 is not under"):
        import_mirrulations(con, copy_root, docket_id="NOPE-2024-0001")


def test_a_directory_that_is_not_a_mirrulations_copy_is_refused(con, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a Mirrulations layout"):
        import_mirrulations(con, tmp_path / "empty")
    code = cli.main(["import", "mirrulations", str(tmp_path / "empty"), "--db", str(tmp_path / "x.duckdb")])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.duckdb").exists()

    file = tmp_path / "file.json"
    file.write_text("{}", encoding="utf-8")
    assert cli.main(["import", "mirrulations", str(file), "--db", str(tmp_path / "x.duckdb")]) != 0
    assert "not a directory" in capsys.readouterr().err


def test_cli_summary(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    assert cli.main(["import", "mirrulations", str(bundled_mirrulations()), "--docket", DEMO_DOCKET, "--db", str(db)]) == 0
    assert f"{BUNDLED_COMMENTS:,} new" in capsys.readouterr().out
    assert cli.main(["import", "mirrulations", str(bundled_mirrulations()), "--db", str(db)]) == 0
    assert f"0 new, 0 updated, {BUNDLED_COMMENTS:,} unchanged" in capsys.readouterr().out
