"""`comments import bulk-csv`: the real regulations.gov bulk download, read independently with csv."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comments import cli, records, store
from comments.errors import InputError
from comments.importers import bulk_csv
from comments.importers.bulk_csv import import_bulk_csv
from comments.importers.csv_columns import rebuild_row
from comments.importers.csv_lines import too_large
from comments.textutil import html_to_text

REAL = Path(__file__).parent / "data" / "CMS-2025-0050-0031.bulk.csv"
SUBMISSIONS = 982  # stated by the issue for this file


def read_rows(path: Path = REAL) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def first_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line its row starts on, fields) for each data row, read with the csv module.

    Lines are counted by "\\n" (as `wc -l` and `sed -n Np` count them); blank lines are no rows."""
    reader = csv.reader(_lines(path.read_bytes()))
    next(reader)
    out, end = [], reader.line_num
    for record in reader:
        start, end = end + 1, reader.line_num
        if record:
            out.append((start, record))
    return out


def _lines(data: bytes):
    parts = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    for i, line in enumerate(parts):
        if i < len(parts) - 1:
            yield line.decode("utf-8") + "\n"
        elif line:
            yield line.decode("utf-8")


def write_csv(path: Path, header: list[str], rows: list[dict], *, bom: bool = False) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + buf.getvalue(), encoding="utf-8")
    return path


def ts(value: str):
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def stored(con, table: str, key: str) -> dict[str, dict]:
    cur = con.execute(f"select * from {table}")
    cols = [d[0] for d in cur.description]
    return {row[cols.index(key)]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


@pytest.fixture
def con(tmp_path):
    c = store.connect(tmp_path / "bulk.duckdb")
    yield c
    c.close()


def test_real_csv_gives_every_public_submission_with_its_fields(con):
    report = import_bulk_csv(con, REAL)
    _, rows = read_rows()
    submissions = [r for r in rows if r["Document Type"] == "Public Submission"]
    assert len(submissions) == SUBMISSIONS
    assert (report.new, report.updated, report.unchanged, report.skipped) == (SUBMISSIONS, 0, 0, {})
    comments = stored(con, "comments", "comment_id")
    assert set(comments) == {r["Document ID"] for r in submissions}
    for row in submissions:
        got = comments[row["Document ID"]]
        assert got["docket_id"] == row["Docket ID"]
        assert got["document_id"] == row["Comment on Document ID"]
        assert got["agency_id"] == row["Agency ID"]
        assert got["tracking_nbr"] == (row["Tracking Number"] or None)
        assert got["title"] == (row["Title"] or None)
        assert got["first_name"] == (row["First Name"].strip() or None)
        assert got["last_name"] == (row["Last Name"].strip() or None)
        assert got["organization"] == (row["Organization Name"].strip() or None)
        assert got["category"] == (row["Category"] or None)
        assert got["state"] == (row["State/Province"] or None)
        assert got["country"] == (row["Country"] or None)
        assert got["posted_date"] == ts(row["Posted Date"])
        assert got["received_date"] == ts(row["Received Date"])
        assert got["withdrawn"] == (row["Is Withdrawn?"] == "true")
        assert got["page_count"] == (int(row["Page Count"]) if row["Page Count"] else None)
        # The comment box as html_to_text gives it (tidied white space, entities decoded).
        assert got["text"] == (html_to_text(row["Comment"]) if row["Comment"] else None)
        assert got["source"] == "bulk_csv"
        assert got["last_modified"] is None  # so the next API sync fetches the full detail
    # A withdrawn one and a multi-line one, as they read in the file.
    assert any(c["withdrawn"] for c in comments.values())
    multiline = next(r for r in submissions if "\n" in r["Comment"] and "<" not in r["Comment"])
    assert "\n" in comments[multiline["Document ID"]]["text"]


def test_the_notice_becomes_a_document_and_the_docket_is_recorded(con):
    report = import_bulk_csv(con, REAL)
    _, rows = read_rows()
    notices = [r for r in rows if r["Document Type"] != "Public Submission"]
    docs = stored(con, "documents", "document_id")
    assert set(docs) == {r["Document ID"] for r in notices}
    assert report.documents["new"] == len(notices)
    notice = notices[0]
    doc = docs[notice["Document ID"]]
    assert doc["document_type"] == notice["Document Type"]
    assert doc["title"] == notice["Title"]
    assert doc["fr_doc_num"] == notice["Federal Register Number"]
    assert doc["comment_start_date"] == ts(notice["Comment Start Date"])
    assert doc["comment_end_date"] == ts(notice["Comment Due Date"])
    assert doc["source"] == "bulk_csv"
    # Every comment points at that notice, and the docket row exists.
    assert store.scalar(con, "select count(*) from comments where document_id = ?", [notice["Document ID"]]) == SUBMISSIONS
    assert store.scalar(con, "select agency_id from dockets where docket_id = ?", [notice["Docket ID"]]) == notice["Agency ID"]


def test_attachment_files_become_pending_attachment_rows(con):
    import_bulk_csv(con, REAL)
    _, rows = read_rows()
    expected: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        if row["Document Type"] != "Public Submission":
            continue
        for url in filter(None, row["Attachment Files"].split(",")):
            order = int(url.rsplit("/attachment_", 1)[1].split(".")[0])
            expected.setdefault((row["Document ID"], order), []).append(url)
    got = {(r[0], r[1]): r[2:] for r in con.execute(
        "select comment_id, doc_order, url, format, file_formats, status, attachment_id from attachments").fetchall()}
    assert set(got) == set(expected)
    for key, urls in expected.items():
        url, fmt, file_formats, status, attachment_id = got[key]
        assert status == "pending" and attachment_id is None
        assert [f["fileUrl"] for f in json.loads(file_formats)] == urls
        # Several formats of one attachment: the most text-bearing one is chosen, as for the API.
        offered = [{"fileUrl": u, "format": u.rsplit(".", 1)[1]} for u in urls]
        assert (url, fmt) == records.choose_file(offered)[:2]
    assert any(len(urls) > 1 for urls in expected.values())
    counts = dict(con.execute("select comment_id, attachment_count from comments").fetchall())
    for (comment_id, _order) in expected:
        assert counts[comment_id] == len({o for (c, o) in expected if c == comment_id})


def test_importing_twice_changes_nothing(con):
    import_bulk_csv(con, REAL)
    before = {t: sorted(con.execute(f"select * from {t}").fetchall(), key=str) for t in ("comments", "documents", "attachments", "dockets")}
    again = import_bulk_csv(con, REAL)
    assert (again.new, again.updated, again.unchanged, again.skipped) == (0, 0, SUBMISSIONS, {})
    assert again.documents["unchanged"] == 1 and again.attachments == 0
    after = {t: sorted(con.execute(f"select * from {t}").fetchall(), key=str) for t in before}
    assert after == before


def test_csv_never_overwrites_an_api_record_and_updates_its_own(con, tmp_path):
    header, rows = read_rows()
    target = next(r for r in rows if r["Document Type"] == "Public Submission" and r["Attachment Files"])
    api_detail = {
        "data": {
            "id": target["Document ID"], "type": "comments",
            "attributes": {"docketId": target["Docket ID"], "comment": "Text from the API.",
                           "modifyDate": "2025-06-01T10:00:00Z", "commentOn": "0900006400000001"},
            "relationships": {"attachments": {"data": [{"id": "0900006400000002", "type": "attachments"}]}},
        },
        "included": [{"id": "0900006400000002", "type": "attachments", "attributes": {
            "docOrder": 1, "title": "Letter", "fileFormats": [{"fileUrl": "https://downloads.regulations.gov/x/attachment_1.pdf", "format": "pdf", "size": 10}]}}],
    }
    records.save_comments(con, [api_detail], last_modified={target["Document ID"]: "2025-06-02T00:00:00Z"}, source="api")

    report = import_bulk_csv(con, REAL)
    assert report.new == SUBMISSIONS - 1
    assert report.skipped == {"already stored from a richer source (api/mirrulations)": 1}
    kept = con.execute("select source, text, comment_on_object_id from comments where comment_id = ?", [target["Document ID"]]).fetchone()
    assert kept == ("api", "Text from the API.", "0900006400000001")
    assert con.execute("select attachment_id, title from attachments where comment_id = ? and doc_order = 1",
                       [target["Document ID"]]).fetchone() == ("0900006400000002", "Letter")

    # A changed CSV row replaces the earlier CSV copy of itself (and only that row).
    other = next(r for r in rows if r["Document Type"] == "Public Submission" and r is not target)
    other["Comment"] = "Edited &amp; re-exported<br/>second line"
    edited = write_csv(tmp_path / "edited.csv", header, rows)
    report = import_bulk_csv(con, edited)
    assert (report.new, report.updated, report.unchanged) == (0, 1, SUBMISSIONS - 2)
    assert store.scalar(con, "select text from comments where comment_id = ?", [other["Document ID"]]) == "Edited & re-exported\nsecond line"


def test_a_byte_order_mark_and_crlf_line_ends_are_read_the_same(con, tmp_path):
    header, rows = read_rows()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    report = import_bulk_csv(con, path)
    assert report.new == SUBMISSIONS and report.skipped == {}
    ids = {r[0] for r in con.execute("select comment_id from comments").fetchall()}
    assert ids == {r["Document ID"] for r in rows if r["Document Type"] == "Public Submission"}


def test_comment_text_matches_html_to_text_on_hard_cases(con, tmp_path):
    header, rows = read_rows()
    template = next(r for r in rows if r["Document Type"] == "Public Submission")
    cases = [
        "plain", "  leading and trailing  ", "tabs\tand\r\ncrlf", "a  \n  b", "a\n\n\n\nb", "\n\nx\n\n",
        "line one \n line two", "nbsp\u00a0here", "em space line\n\u2003\nnext", "ideographic\u3000",
        "Fish &amp; chips &lt;b&gt;", "A & B &c", "&notit; &#39;quoted&#39;", "<p>para</p><p>two</p>",
        "x<br/>y<br>z", "   ", "\u2028sep", "\x1fcontrol", "a \t \u00a0 b", "trailing newline\n",
    ]
    out = []
    for i, text in enumerate(cases):
        row = dict(template)
        row["Document ID"] = f"TEST-2025-0001-{i:04d}"
        row["Comment"] = text
        out.append(row)
    path = write_csv(tmp_path / "cases.csv", header, out)
    import_bulk_csv(con, path)
    got = dict(con.execute("select comment_id, text from comments").fetchall())
    for i, text in enumerate(cases):
        assert got[f"TEST-2025-0001-{i:04d}"] == html_to_text(text), repr(text)


def test_malformed_rows_are_recorded_and_the_rest_imported(con, tmp_path):
    header, rows = read_rows()
    subs = [r for r in rows if r["Document Type"] == "Public Submission"]
    no_id, bad_date, repeated = subs[10], subs[20], subs[30]
    no_id["Document ID"] = ""
    bad_date["Posted Date"] = "next Tuesday"
    duplicate = dict(repeated)
    duplicate["Comment"] = "a second row with the same id"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[:100])
    buf.write('"SHORT-2025-0001-0001","CMS","CMS-2025-0050",,"Public Submission"\n')  # row 101: too few fields
    writer.writerows(rows[100:] + [duplicate])
    # The file ends inside a quoted field: a download cut short.
    buf.write('"CUT-2025-0001-0001","CMS","CMS-2025-0050",,"Public Submission",2025-05-28T04:00Z,false,,,"Comment on')
    path = tmp_path / "broken.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")

    report = import_bulk_csv(con, path)
    assert report.new == SUBMISSIONS - 2  # no_id and bad_date
    assert report.skipped_total == 5
    assert report.rows_read == len(rows) + 3  # the short row, the repeated one, the cut one
    rejects = dict(con.execute("select locator, reason from import_rejects where file = ?", [str(path.resolve())]).fetchall())
    assert len(rejects) == 5
    # Each reject names the line its row starts on, as the csv module reads the file.
    line_of = {}
    for line, record in first_lines(path):
        line_of.setdefault(record[0], []).append(line)
    assert rejects[f"line {line_of['SHORT-2025-0001-0001'][0]}"].startswith("MISSING COLUMNS")
    assert "unterminated quote" in rejects[f"line {line_of['CUT-2025-0001-0001'][0]}"]
    assert rejects[f"line {line_of[''][0]}"] == "missing Document ID"
    assert rejects[f"line {line_of[bad_date['Document ID']][0]} ({bad_date['Document ID']})"].startswith("Posted Date is not a date")
    assert "repeated" in rejects[f"line {line_of[repeated['Document ID']][1]} ({repeated['Document ID']})"]
    # Rows after the bad ones arrived, and the first copy of the repeated id won.
    assert store.scalar(con, "select count(*) from comments where comment_id = ?", [subs[-1]["Document ID"]]) == 1
    assert store.scalar(con, "select text from comments where comment_id = ?", [repeated["Document ID"]]) == html_to_text(repeated["Comment"])
    # Re-running records the same rejects once, not twice.
    import_bulk_csv(con, path)
    assert store.scalar(con, "select count(*) from import_rejects where file = ?", [str(path.resolve())]) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x00<<>>", "binary data"),
        (b"name,email\nann,a@example.org\n", 'lacks the column(s) "Document ID", "Document Type"'),
        (b"\xff\xfeD\x00o\x00c\x00", "binary data"),
        (b"Document ID;Document Type\nX;Y\n", "lacks the column(s)"),
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_a_bulk_csv_is_refused(con, tmp_path, content, message):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_bulk_csv(con, path)
    assert store.scalar(con, "select count(*) from comments") == 0


def test_cli_prints_a_summary_or_one_line_error(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    assert cli.main(["import", "bulk-csv", str(REAL), "--db", str(db)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.splitlines()[-1].startswith("bulk_csv ") and f"{SUBMISSIONS:,} new" in out

    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code = cli.main(["import", "bulk-csv", str(bad), "--db", str(tmp_path / "other.duckdb")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "other.duckdb").exists()  # refused before a database was created

    code = cli.main(["import", "bulk-csv", str(tmp_path / "missing.csv"), "--db", str(db)])
    assert code != 0 and "no such file" in capsys.readouterr().err


@pytest.mark.prefect
def test_prefect_flows_import_both_sources(tmp_path, prefect_harness):
    from comments.resources import bundled_mirrulations
    from flows.imports import import_bulk_csv_flow, import_mirrulations_flow

    db = str(tmp_path / "flow.duckdb")
    with prefect_harness():
        csv_report = import_bulk_csv_flow(str(REAL), db)
        mirr_report = import_mirrulations_flow(str(bundled_mirrulations()), db)
    assert csv_report["new"] == SUBMISSIONS and mirr_report["new"] == 647
    con = store.connect(db, read_only=True)
    assert dict(con.execute("select source, count(*) from comments group by 1").fetchall()) == {
        "bulk_csv": SUBMISSIONS, "mirrulations": 647}
    con.close()


def test_a_later_api_sync_merges_with_csv_rows_instead_of_duplicating(replay, tmp_path):
    from comments.client import RegulationsClient
    from comments.resources import DEMO_DOCKET, bundled_mirrulations
    from comments.sync import sync_docket

    # A bulk CSV naming some of the bundled docket's comments, with the API's ids.
    header, rows = read_rows()
    template = next(r for r in rows if r["Document Type"] == "Public Submission")
    files = sorted((bundled_mirrulations() / "raw-data/CMS" / DEMO_DOCKET / f"text-{DEMO_DOCKET}" / "comments").glob("*.json"))
    picked = [json.loads(f.read_text(encoding="utf-8"))["data"] for f in files[:25]]
    out = []
    for data in picked:
        row = {k: "" for k in header} | {"Document Type": "Public Submission", "Agency ID": "CMS"}
        row |= {"Document ID": data["id"], "Docket ID": DEMO_DOCKET, "Title": template["Title"],
                "Comment on Document ID": data["attributes"]["commentOnDocumentId"], "Comment": "from the CSV"}
        out.append(row)
    path = write_csv(tmp_path / "demo.csv", header, out)
    con = store.connect(tmp_path / "merge.duckdb")
    assert import_bulk_csv(con, path).new == len(picked)

    server = replay()
    result = sync_docket(con, RegulationsClient("test-key", server.base_url, 1_000_000, sleep=lambda s: None), DEMO_DOCKET)
    assert result.status == "complete"
    counts = con.execute("select count(*), count(distinct comment_id) from comments").fetchone()
    assert counts == (len(files), len(files))
    # The CSV rows were re-fetched from the API (last_modified was left null for this).
    assert dict(con.execute("select source, count(*) from comments group by 1").fetchall()) == {"api": len(files)}
    assert store.scalar(con, "select count(*) from comments where text = 'from the CSV'") == 0
    con.close()


def test_attachment_count_counts_distinct_attachments_on_odd_url_lists(con, tmp_path):
    # The common list (every URL .../attachment_N.ext) takes a cheaper SQL path than
    # the rest; both must count distinct attachments: formats of one attachment once,
    # a URL with no attachment number as its own attachment.
    header, rows = read_rows()
    template = next(r for r in rows if r["Document Type"] == "Public Submission")
    lists = {
        "formats": ("https://d.example/X/attachment_1.pdf,https://d.example/X/attachment_1.docx,"
                    "https://d.example/X/attachment_2.pdf", 2),
        "unnumbered": ("https://d.example/X/content.pdf", 1),
        "spaced": ("https://d.example/X/attachment_1.pdf, https://d.example/X/attachment_1.docx", 1),
        "mixed": ("https://d.example/X/attachment_3.pdf,https://d.example/X/other.pdf", 2),
        "numbered_dir": ("https://d.example/attachment_9/x.pdf,https://d.example/X/attachment_9.pdf", 2),
        "none": ("", 0),
    }
    out = []
    for i, (files, _count) in enumerate(lists.values()):
        out.append(dict(template) | {"Document ID": f"TEST-2025-0002-{i:04d}", "Attachment Files": files})
    import_bulk_csv(con, write_csv(tmp_path / "urls.csv", header, out))
    got = dict(con.execute("select comment_id, attachment_count from comments").fetchall())
    for i, (name, (_files, count)) in enumerate(lists.items()):
        assert got[f"TEST-2025-0002-{i:04d}"] == count, name


# --------------------------------------------------------------------------- provenance


def _api_detail(comment_id: str, docket_id: str) -> dict:
    return {"data": {"id": comment_id, "type": "comments",
                     "attributes": {"docketId": docket_id, "comment": "Text from the API.", "modifyDate": "2025-06-01T10:00:00Z"}}}


def test_a_comment_row_is_rebuilt_exactly_from_its_typed_columns_and_leftovers(con, tmp_path):
    header, rows = read_rows()
    subs = [r for r in rows if r["Document Type"] == "Public Submission"]
    # Spellings the typed columns cannot give back, and a newline outside the comment.
    subs[0]["First Name"] = "  Ann "
    subs[1]["Posted Date"] = "2025-05-28 04:00:00"
    subs[2]["Received Date"] = "2025-05-15T04:00:00Z"
    subs[3]["Received Date"] = "2025-05-15T04:00:30Z"
    subs[4]["Page Count"] = "01"
    subs[5]["Is Withdrawn?"] = "TRUE"
    subs[6]["Docket ID"] = ""
    subs[7]["Docket ID"] = " CMS-2025-0050"
    subs[8]["Organization Name"] = "Acme\nHealth"
    path = write_csv(tmp_path / "odd.csv", header, rows)
    report = import_bulk_csv(con, path)
    assert report.new == SUBMISSIONS and report.skipped == {}

    data = path.read_bytes()
    assert con.execute("select sha256, name, size_bytes, rows, columns::varchar from import_files").fetchall() == [
        (hashlib.sha256(data).hexdigest(), str(path.resolve()), len(data), len(rows), json.dumps(header))]
    file_id = store.scalar(con, "select file_id from import_files")
    stored = {r[0]: r[1:] for r in con.execute("select comment_id, source_file_id, source_line, raw from comments").fetchall()}
    checked = 0
    for line, record in first_lines(path):
        row = dict(zip(header, record, strict=True))
        if row["Document Type"] != "Public Submission":
            continue
        # Every field as the file holds it; the comment as stored (html_to_text's cleaning).
        assert rebuild_row(con, row["Document ID"]) == row | {"Comment": html_to_text(row["Comment"]) or ""}
        assert stored[row["Document ID"]] == (file_id, line, None)  # the file and line, and no copy of the row
        checked += 1
    assert checked == SUBMISSIONS
    # Leftovers hold what has no typed home and the odd spellings, never the comment.
    extra = {r[0]: json.loads(r[1]) for r in con.execute("select comment_id, source_extra from comments").fetchall()}
    assert all("Comment" not in e for e in extra.values())
    assert extra[subs[1]["Document ID"]]["Posted Date"] == "2025-05-28 04:00:00"
    assert extra[subs[6]["Document ID"]]["Docket ID"] == ""
    assert "Received Date" not in extra[subs[3]["Document ID"]]  # rendered back exactly
    assert "Organization Name" not in extra[subs[8]["Document ID"]]
    assert extra[subs[9]["Document ID"]]["Allow Late Comments"] == subs[9]["Allow Late Comments"]


def test_leftovers_are_null_when_every_field_has_a_typed_home(con, tmp_path):
    header = ["Document ID", "Docket ID", "Document Type", "Title", "Comment", "Posted Date", "Page Count"]
    rows = [{"Document ID": "ABC-2025-0001-0001", "Docket ID": "ABC-2025-0001", "Document Type": "Public Submission",
             "Title": "A title", "Comment": "Plain text.", "Posted Date": "2025-05-28T04:00Z", "Page Count": "2"}]
    import_bulk_csv(con, write_csv(tmp_path / "typed.csv", header, rows))
    assert con.execute("select source_extra, raw from comments").fetchall() == [(None, None)]
    assert rebuild_row(con, "ABC-2025-0001-0001") == rows[0]


def test_a_later_api_record_clears_the_csv_provenance(con):
    import_bulk_csv(con, REAL)
    target = next(r for r in read_rows()[1] if r["Document Type"] == "Public Submission")
    records.save_comments(con, [_api_detail(target["Document ID"], target["Docket ID"])], source="api")
    row = con.execute("select source, source_file_id, source_line, source_extra from comments where comment_id = ?",
                      [target["Document ID"]]).fetchone()
    assert row == ("api", None, None, None)
    assert rebuild_row(con, target["Document ID"]) is None


def test_reimporting_the_same_bytes_reads_nothing_unless_what_they_stored_changed(con, tmp_path, monkeypatch):
    staged = []
    real_stage = bulk_csv._stage
    monkeypatch.setattr(bulk_csv, "_stage", lambda *a: staged.append(1) or real_stage(*a))
    first = import_bulk_csv(con, REAL)
    assert len(staged) == 1

    def reimport(path=REAL):
        before = len(staged)
        report = import_bulk_csv(con, path)
        return report, len(staged) > before

    # Same bytes, nothing changed since: answered from the store, same summary.
    again, parsed = reimport()
    assert not parsed
    assert (again.new, again.updated, again.unchanged, again.skipped) == (0, 0, SUBMISSIONS, {})
    assert (again.rows_read, again.documents, again.dockets) == (first.rows_read, {"new": 0, "updated": 0, "unchanged": 1, "kept": 0}, first.dockets)
    copy = tmp_path / "copy.csv"
    copy.write_bytes(REAL.read_bytes())
    assert reimport(copy)[1] is False and store.scalar(con, "select count(*) from import_files") == 1
    assert store.scalar(con, "select name from import_files") == str(copy.resolve())  # where it was last read

    # A row it stored was deleted since: the file is read again and the row comes back.
    gone = next(r for r in read_rows()[1] if r["Document Type"] == "Public Submission")["Document ID"]
    con.execute("delete from comments where comment_id = ?", [gone])
    report, parsed = reimport()
    assert parsed and (report.new, report.unchanged) == (1, SUBMISSIONS - 1)
    assert reimport()[1] is False

    # Another file changed one row; importing the first file again puts it back.
    header, rows = read_rows()
    edited = next(r for r in rows if r["Document Type"] == "Public Submission" and r["Document ID"] != gone)
    original = edited["Comment"]
    edited["Comment"] = "Changed in a later export."
    report, parsed = reimport(write_csv(tmp_path / "edited.csv", header, rows))
    assert parsed and (report.new, report.updated, report.unchanged) == (0, 1, SUBMISSIONS - 1)
    report, parsed = reimport()
    assert parsed and (report.new, report.updated, report.unchanged) == (0, 1, SUBMISSIONS - 1)
    assert store.scalar(con, "select text from comments where comment_id = ?", [edited["Document ID"]]) == html_to_text(original)

    # A sync replaced a row: the CSV leaves it alone and says so, every time.
    records.save_comments(con, [_api_detail(gone, edited["Docket ID"])], source="api")
    for _ in range(2):
        report, parsed = reimport()
        assert parsed and report.unchanged == SUBMISSIONS - 1
        assert report.skipped == {"already stored from a richer source (api/mirrulations)": 1}


# --------------------------------------------------------------------------- every row accounted for


def _account(con, path: Path) -> tuple[int, dict[str, str]]:
    key = str(path.resolve())
    stored = store.scalar(con, "select count(*) from comments c join import_files f on f.file_id = c.source_file_id where f.name = ?", [key])
    stored += store.scalar(con, "select count(*) from documents d join import_files f on f.file_id = d.source_file_id where f.name = ?", [key])
    rejects = dict(con.execute("select locator, reason from import_rejects where file = ?", [key]).fetchall())
    return stored, rejects


@pytest.fixture
def big_fields():
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # for the test's own csv reading
    yield
    csv.field_size_limit(limit)


def test_a_50_mb_field_is_rejected_with_its_line_and_every_other_row_stored(con, tmp_path, big_fields):
    header, rows = read_rows()
    template = next(r for r in rows if r["Document Type"] == "Public Submission")
    one_line = template | {"Document ID": "BIG-2025-0001-0001", "Comment": "x" * (50 << 20)}
    many_lines = template | {"Document ID": "BIG-2025-0001-0002", "Comment": "a line\n" * (50 << 20 >> 3)}
    everything = rows[:300] + [one_line] + rows[300:600] + [many_lines] + rows[600:]
    path = write_csv(tmp_path / "big.csv", header, everything)

    report = import_bulk_csv(con, path)
    stored, rejects = _account(con, path)
    assert stored + len(rejects) == len(everything) == report.rows_read
    line_of = {record[0]: line for line, record in first_lines(path)}
    for big in (one_line, many_lines):
        reason = rejects[f"line {line_of[big['Document ID']]} ({big['Document ID']})"]
        assert reason == too_large("Comment", len(big["Comment"].encode()))
    assert report.skipped == {"field over the size limit": 2}
    # The rows after them arrived, on their own lines.
    last = rows[-1]["Document ID"]
    assert store.scalar(con, "select source_line from comments where comment_id = ?", [last]) == line_of[last]


def test_blank_lines_and_records_duckdb_cannot_hold_take_the_exact_path(con, tmp_path, monkeypatch, big_fields):
    # DuckDB is told to hold records of up to 1 MiB: the 1.5 MB one below makes its
    # account of the file wrong (it loses or misplaces rows), as blank lines do.
    monkeypatch.setattr(bulk_csv, "_MAX_RECORD", 1 << 20)
    exact = []
    real_exact = bulk_csv._stage_exact
    monkeypatch.setattr(bulk_csv, "_stage_exact", lambda *a: exact.append(1) or real_exact(*a))
    header, rows = read_rows()
    template = next(r for r in rows if r["Document Type"] == "Public Submission")
    big = template | {"Document ID": "BIG-2025-0001-0003", "Comment": "words\n" * 250_000}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[:100])
    buf.write("\n\n")
    writer.writerows([big] + rows[100:200])
    buf.write("\n")
    writer.writerows(rows[200:])
    path = tmp_path / "blank.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")

    report = import_bulk_csv(con, path)
    assert exact == [1]
    stored, rejects = _account(con, path)
    assert stored + len(rejects) == len(rows) + 1 == report.rows_read
    line_of = {record[0]: line for line, record in first_lines(path)}
    assert rejects == {f"line {line_of[big['Document ID']]}": too_large("Comment", len(big["Comment"].encode()))}
    lines = dict(con.execute("select comment_id, source_line from comments").fetchall())
    assert lines == {i: line_of[i] for i in lines}
