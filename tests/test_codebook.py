"""The docket's own notice text, the analyst's codebook, and the substance score.

The notice is fetched from the project's regulations.gov stand-in on 127.0.0.1 (the bundled
docket's real Federal Register notice); the codebook is written, edited and read back on the
bundled real docket in a DuckDB file in tmp_path.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import briefing_fixture as fx
import pytest

from comments import records, store
from comments.analysis.codebook import default_path, load_codebook, notice_sections, write_codebook
from comments.analysis.pipeline import analyze_docket
from comments.analysis.significance import is_quotable_sentence, substance
from comments.attachments.extract import extract_file
from comments.attachments.pipeline import document_text_status_line, fetch_document_texts
from comments.briefing import gather, write_briefing
from comments.cli import main as cli_main
from comments.client import RegulationsClient
from comments.errors import InputError

DOCKET = fx.DOCKET
NOTICE_ID = f"{DOCKET}-0001"
NOTICE_FILE = fx.BASE / "documents" / f"{NOTICE_ID}_content.htm"


def _notice_text() -> str:
    return extract_file(str(NOTICE_FILE), "htm")["text"]


# ---------------------------------------------------------------- the notice's own text


def test_the_attachments_stage_fetches_the_notice_text_once(tmp_path, replay):
    server = replay()
    client = RegulationsClient("test-key", base_url=server.base_url, backoff_base=0.001)
    con = store.connect(tmp_path / "c.duckdb")
    # as the sync stores them: list items, which carry no file list
    records.save_documents(con, list(client.documents(DOCKET)))
    assert "fileFormats" not in con.execute("select raw from documents").fetchone()[0]
    counts = fetch_document_texts(con, DOCKET, files_dir=tmp_path / "files", client=client, hosts=("127.0.0.1",),
                                  pace_s=0, backoff_base=0.001)
    assert counts == {"ok": 1}
    status, fmt, text, url = con.execute("select status, format, text, url from document_texts where document_id = ?",
                                         [NOTICE_ID]).fetchone()
    assert (status, fmt) == ("ok", "htm") and url.startswith(server.files_url)
    assert "National Directory of Healthcare" in text and "What technical standards should an NDH support?" in " ".join(text.split())
    # the stored record is now the detail, with its file list
    assert json.loads(con.execute("select raw from documents").fetchone()[0])["data"]["attributes"]["fileFormats"]
    assert document_text_status_line(con, DOCKET).startswith(f"notice text: {NOTICE_ID} ok (")
    # done once: a second run asks for nothing
    assert (server.stats["document"], server.stats["file"]) == (1, 1)
    assert fetch_document_texts(con, DOCKET, files_dir=tmp_path / "files", client=client, hosts=("127.0.0.1",)) == {}
    assert (server.stats["document"], server.stats["file"]) == (1, 1)


def test_a_notice_that_cannot_be_fetched_is_recorded_with_its_reason(tmp_path, replay, monkeypatch):
    server = replay()
    client = RegulationsClient("test-key", base_url=server.base_url)
    con = store.connect(tmp_path / "c.duckdb")
    records.save_documents(con, list(client.documents(DOCKET)))
    # no key in the environment and no file list stored: one row that says why, nothing raised
    monkeypatch.delenv("REGULATIONS_GOV_API_KEY", raising=False)
    assert fetch_document_texts(con, DOCKET, files_dir=tmp_path / "f") == {"failed": 1}
    reason = con.execute("select reason from document_texts").fetchone()[0]
    assert "no API key" in reason
    assert fetch_document_texts(con, DOCKET, files_dir=tmp_path / "f") == {}  # still no key: left as it is
    # a key now: tried again at once; the file's host is not allowed: refused before any download, recorded
    counts = fetch_document_texts(con, DOCKET, files_dir=tmp_path / "f", client=client,
                                  hosts=("downloads.regulations.gov",))
    assert counts == {"failed": 1}
    assert con.execute("select reason from document_texts").fetchone()[0] == "host not allowed: 127.0.0.1"


def test_notice_sections_hold_the_questions_the_notice_asks():
    sections = dict(notice_sections(_notice_text()))
    assert "Technical Framework for an NDH" in sections
    assert "Phased Approach to Implementation" in sections
    assert not any(h.lower().startswith(("background", "introduction", "information collection")) for h in sections)
    questions = [q for qs in sections.values() for q in qs]
    assert len(questions) >= 40
    assert "What technical standards should an NDH support?" in sections["Technical Framework for an NDH"]
    assert all(q.endswith("?") and "http" not in q for q in questions)


# ---------------------------------------------------------------- the codebook


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("codebook") / "comments.duckdb"
    con = store.connect(path)
    fx.load_docket(con)
    con.execute("insert into document_texts (document_id, docket_id, status, text) values (?, ?, 'ok', ?)",
                [NOTICE_ID, DOCKET, _notice_text()])
    analyze_docket(con, DOCKET)
    con.close()
    return path


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def test_codebook_is_seeded_from_the_docket_and_never_overwritten_once_edited(analyzed, tmp_path, capsys):
    db = _copy(analyzed, tmp_path)
    assert cli_main(["codebook", DOCKET, "--db", str(db)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == default_path(db, DOCKET) and path.parent == db.parent
    book = load_codebook(path, DOCKET)
    text = path.read_text(encoding="utf-8")
    assert book.version == 1 and book.docket_id == DOCKET
    assert "Abstract: This request for information solicits public comments" in text
    assert "The notice asks: What technical standards should an NDH support?" in text
    names = [t.name for t in book.themes]
    assert "Technical Framework for an NDH" in names  # a section of the notice
    con = store.connect(db)
    labels = [r[0] for r in con.execute("select label from themes where docket_id = ? and not is_catch_all", [DOCKET]).fetchall()]
    biggest = con.execute("select campaign_id from campaigns where docket_id = ? order by size desc limit 1", [DOCKET]).fetchone()[0]
    con.close()
    assert set(labels) <= set(names)  # the analysis's themes, with their ids
    assert f"Campaign {biggest} (" in text  # the largest campaign's demand, for the analyst to judge
    # unedited: written again freely; edited: refused without --force, replaced with it
    assert cli_main(["codebook", DOCKET, "--db", str(db)]) == 0
    path.write_text(text.replace("version = 1", "version = 2"), encoding="utf-8")
    capsys.readouterr()
    assert cli_main(["codebook", DOCKET, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has been edited" in err and "--force" in err and err.count("\n") == 1
    assert "version = 2" in path.read_text(encoding="utf-8")
    assert cli_main(["codebook", DOCKET, "--db", str(db), "--force"]) == 0
    assert "version = 1" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("body, says", [
    ('docket = "CMS-2022-0163"\nversion = 1\n[stance\nsupport = "x"\n', "line 3"),
    ('docket = "CMS-2022-0163"\nversion = "two"\n', "version must be a whole number"),
    ('docket = "CMS-2022-0163"\n[[themes]]\ndescription = "no name"\n', "theme 1 has no name"),
    ('docket = "CMS-2022-0163"\n[stance]\noppose_cues = "reject"\n', "stance.oppose_cues must be a list"),
    ('docket = "EPA-2020-0001"\n', "not CMS-2022-0163"),
])
def test_a_malformed_codebook_is_one_line_naming_the_file(analyzed, tmp_path, capsys, body, says):
    db = _copy(analyzed, tmp_path)
    path = default_path(db, DOCKET)
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_codebook(path, DOCKET)
    assert str(path) in str(exc.value) and says in str(exc.value)
    # `comments analyze` refuses it before its flow starts, in one line, and changes nothing
    con = store.connect(db)
    runs = con.execute("select count(*) from analysis_runs").fetchone()[0]
    con.close()
    assert cli_main(["analyze", DOCKET, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: codebook ") and err.count("\n") == 1
    con = store.connect(db)
    assert con.execute("select count(*) from analysis_runs").fetchone()[0] == runs
    con.close()


def test_analyze_seeds_and_names_themes_from_the_codebook(analyzed, tmp_path):
    """The analyst merges the three sex-and-gender themes into one, adds a theme the automatic
    clustering lumps (insurers' network directories), and adds an oppose cue; the run uses all
    of it and records the codebook, which the briefing names."""
    from comments.analysis.codebook import find_codebook

    db = _copy(analyzed, tmp_path)
    con = store.connect(db)
    path = write_codebook(con, DOCKET, default_path(db, DOCKET))
    book = path.read_text(encoding="utf-8")
    stamp = book.index("\n") + 1
    edited = book[stamp:].split("\n[[themes]]")[0].replace("version = 1", "version = 3")
    edited = edited.replace("oppose_cues = []", 'oppose_cues = ["keep politics out of medicine"]')
    edited += '''
[[themes]]
id = "T001"
name = "Listing each provider's biological sex"
description = "Patients want to know the sex of their doctor, not a gender identity."
seeds = ["biological sex", "sex of the provider", "gender identity", "female doctor", "women's sex-based rights"]

[[themes]]
name = "Insurers' out-of-date network directories"
description = "Insurance plans list doctors who are not in network or not taking patients (ghost networks)."
seeds = ["insurance plans", "health plans", "in network", "accepting new patients", "insurance companies", "network adequacy"]
'''
    path.write_text(edited, encoding="utf-8")
    codebook = find_codebook(db, DOCKET)
    assert codebook.version == 3 and len(codebook.themes) == 2 and codebook.oppose_cues
    analyze_docket(con, DOCKET, codebook=codebook)
    rows = con.execute("select theme_id, label, unique_texts from themes where docket_id = ? order by rank", [DOCKET]).fetchall()
    labels = {label: (tid, n) for tid, label, n in rows}
    assert "Listing each provider's biological sex" in labels, rows
    assert labels["Listing each provider's biological sex"][0] == "T001"
    assert "Insurers' out-of-date network directories" in labels
    assert labels["Insurers' out-of-date network directories"][1] >= 3
    # the merge took: no other theme is about sex and gender
    about_sex = [label for label in labels if re.search(r"\b(?:sex|gender|women|female|male)\b", label, re.I)]
    assert about_sex == ["Listing each provider's biological sex"]
    recorded = con.execute("select codebook from analysis_runs where status = 'complete' order by finished_at desc limit 1").fetchone()[0]
    assert recorded == codebook.label and "version 3" in recorded and codebook.sha256[:12] in recorded
    write_briefing(con, DOCKET, tmp_path / "b.html")
    con.close()
    assert f"Codebook</td><td class=\"codebook\">{codebook.label}" in (tmp_path / "b.html").read_text(encoding="utf-8")


def test_without_a_codebook_the_briefing_says_so(analyzed):
    con = store.connect(analyzed)
    try:
        assert gather(con, DOCKET)["docket"]["codebook"] is None
    finally:
        con.close()


# ---------------------------------------------------------------- substance


def test_substance_ranks_evidence_and_demands_above_reactions():
    brief = ("As a practicing physician with 25 years of experience, I urge CMS to require that the directory list "
             "each clinician's state license and any sanctions under 42 U.S.C. 1320a-7. A 2019 study found that 52% of "
             "directory entries were inaccurate, costing patients an average of $300 in out-of-network bills. "
             "CMS should also verify entries every 90 days instead of annually.")
    reaction = "I think this is a terrible idea and nobody asked for it. Please just stop."
    promo = ("Acme Health is the leading platform for provider data, trusted by over 500 health systems. "
             "Our platform helps organizations keep directories accurate.")
    b, r, p = substance(brief), substance(reaction), substance(promo)
    assert b.score > 60 > 20 > r.score
    assert set(b.signals) >= {"requested change", "legal citation", "study or data", "numbers", "expertise"}
    assert b.key_sentence in brief and is_quotable_sentence(b.key_sentence)
    assert p.key_sentence is None and p.score < b.score
    assert substance("").score == 0 and substance("   ").key_sentence is None


SPACED_CITATIONS = ["We ask CMS to follow the law at 42 U S C 1320d before it builds this directory.",
                    "As the rule says, 45 C. F. R. 164.502 applies to this directory.",
                    "See 87\nFR. 1234 for the notice the agency published last year.",
                    "P. L. 111-148 applies to all of this.", "Under 42 U.S.C. 1320a-7 the sanctions are listed."]


def test_the_substance_pre_checks_never_skip_a_signal(monkeypatch):
    """The substring pre-checks only skip scans that cannot match: every bundled comment text, and
    citations spaced or dotted apart, score the same with every pattern scanned."""
    import csv

    from comments.analysis import significance
    from comments.textutil import html_to_text
    from tests.stance_eval import BULK, MIRR

    texts = [html_to_text(json.loads(f.read_text(encoding="utf-8"))["data"]["attributes"].get("comment")) or ""
             for f in sorted(MIRR.glob("*.json"))]
    with open(BULK, encoding="utf-8", newline="") as fh:
        texts += [row.get("Comment") or "" for row in csv.DictReader(fh)]
    texts += SPACED_CITATIONS
    hinted = [substance(t) for t in texts]
    monkeypatch.setattr(significance, "_HINTS", {k: ("",) for k in significance._HINTS})  # "" is in every text
    assert [substance(t) for t in texts] == hinted
    assert all("legal citation" in s.signals for s in hinted[-len(SPACED_CITATIONS):])


@pytest.mark.parametrize("sentence, ok", [
    ("Providers should be required to list every state license they hold and its status.", True),
    ("think kids in school or", False),                       # a fragment
    ("I vote no! J", False),                                  # too short to say anything
    ("Dear CMS, thank you for the opportunity to comment on this request.", False),
    ("Included Health is the leading virtual care company serving over 300 health plans nationwide.", False),
    ("Please see the attached letter for our full comments on the proposal.", False),
])
def test_quotable_sentences(sentence, ok):
    assert is_quotable_sentence(sentence) is ok
