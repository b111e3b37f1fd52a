"""Full-text search: ranking, phrases, exclusions, incremental index, snippets, safe queries."""

from __future__ import annotations

import json

import pytest

from comments import records, search, search_index, store
from comments.cli import main
from comments.errors import InputError

DOCKET = "TEST-2025-0001"


def detail(comment_id: str, text: str, docket: str = DOCKET, **attrs) -> dict:
    return {
        "data": {
            "id": comment_id,
            "type": "comments",
            "attributes": {
                "docketId": docket,
                "comment": text,
                "postedDate": "2025-03-01T12:00:00Z",
                "title": f"Comment {comment_id}",
                **attrs,
            },
        }
    }


def save(con, *details):
    records.save_comments(con, list(details), source="api")


@pytest.fixture
def con(tmp_path):
    con = store.connect(tmp_path / "s.duckdb")
    filler = " ".join(["the agency should consider the record carefully"] * 3)
    save(
        con,
        detail(f"{DOCKET}-0001", f"Data sharing worries me. {filler}"),
        detail(f"{DOCKET}-0002", "Data sharing, data sharing, data sharing: the data sharing agreement "
               "between agencies invites abuse. Stop data sharing."),
        detail(f"{DOCKET}-0003", f"I support the rule. {filler} Sharing of data is fine by me."),
        detail(f"{DOCKET}-0004", "A system of records notice must say who can see the records."),
        detail(f"{DOCKET}-0005", "Unrelated comment about parking."),
        detail("OTHER-2025-0001-0001", "data sharing data sharing data sharing in another docket", docket="OTHER-2025-0001"),
    )
    yield con
    con.close()


def ids(hits):
    return [h.comment_id for h in hits]


def test_more_occurrences_rank_higher_and_other_dockets_stay_out(con):
    hits = search.search(con, DOCKET, "data sharing")
    assert ids(hits)[:1] == [f"{DOCKET}-0002"]
    assert set(ids(hits)) == {f"{DOCKET}-0001", f"{DOCKET}-0002", f"{DOCKET}-0003"}
    assert hits[0].score > hits[1].score >= hits[2].score > 0
    assert hits[0].matches == 10  # five "data" + five "sharing"


def test_all_words_required_unless_any(con):
    assert ids(search.search(con, DOCKET, "parking sharing")) == []
    assert set(ids(search.search(con, DOCKET, "parking sharing", require_all=False))) == {
        f"{DOCKET}-0001", f"{DOCKET}-0002", f"{DOCKET}-0003", f"{DOCKET}-0005"
    }


def test_phrase_needs_adjacent_words_in_order(con):
    # 0003 has both words but as "Sharing of data": not the phrase.
    assert set(ids(search.search(con, DOCKET, '"data sharing"'))) == {f"{DOCKET}-0001", f"{DOCKET}-0002"}
    assert ids(search.search(con, DOCKET, '"system of records"')) == [f"{DOCKET}-0004"]
    assert ids(search.search(con, DOCKET, '"records of system"')) == []


def test_excluded_words(con):
    assert set(ids(search.search(con, DOCKET, "data -agreement"))) == {f"{DOCKET}-0001", f"{DOCKET}-0003"}


def test_case_and_punctuation_insensitive(con):
    assert ids(search.search(con, DOCKET, "PARKING!")) == [f"{DOCKET}-0005"]


def test_hostile_query_is_data_not_sql(con):
    before = con.execute("select count(*) from comments").fetchone()[0]
    for q in ["x'; drop table comments; --", 'parking"; delete from comments where \'1\'=\'1', "parking' or 1=1 --"]:
        hits = search.search(con, DOCKET, q, require_all=False)
        assert all(h.comment_id.startswith(DOCKET) for h in hits)
    assert con.execute("select count(*) from comments").fetchone()[0] == before
    # The words of the hostile query are searched as words.
    assert ids(search.search(con, DOCKET, "parking' or 1=1 --", require_all=False)) == [f"{DOCKET}-0005"]


def test_query_without_words_is_a_user_error(con):
    with pytest.raises(InputError):
        search.search(con, DOCKET, "  ;;; '' ")


def test_index_is_incremental(con):
    first = search.update_index(con, DOCKET)
    assert first == {"indexed": 5, "removed": 0, "total": 5}
    assert search.update_index(con, DOCKET)["indexed"] == 0
    # An edited comment is re-indexed (old words gone), a new one added.
    save(con, detail(f"{DOCKET}-0005", "Now about biometrics."), detail(f"{DOCKET}-0006", "biometrics again"))
    assert search.update_index(con, DOCKET) == {"indexed": 2, "removed": 0, "total": 6}
    assert ids(search.search(con, DOCKET, "parking")) == []
    assert set(ids(search.search(con, DOCKET, "biometrics"))) == {f"{DOCKET}-0005", f"{DOCKET}-0006"}
    # the index itself holds no trace of the old text: no document has the word any more
    root = search_index.root_of(con)
    assert search_index.query(root, DOCKET, search.parse_query("parking")).total == 0
    assert search_index.query(root, DOCKET, search.parse_query("biometrics")).total == 2
    con.execute("delete from comments where comment_id = ?", [f"{DOCKET}-0006"])
    assert search.update_index(con, DOCKET) == {"indexed": 0, "removed": 1, "total": 5}


def test_attachment_text_is_searched(con):
    save(con, detail(f"{DOCKET}-0007", "See attached file(s)"))
    con.execute(
        "update attachments set status = 'ok', text = 'Fourth Amendment concerns' where comment_id = ?",
        [f"{DOCKET}-0007"],
    )
    con.execute(
        "insert into attachments (comment_id, doc_order, status, text) values (?, 1, 'ok', 'Fourth Amendment concerns')",
        [f"{DOCKET}-0007"],
    )
    assert ids(search.search(con, DOCKET, "amendment")) == [f"{DOCKET}-0007"]


def test_snippet_highlights_the_matches(con):
    hit = search.search(con, DOCKET, '"system of records"')[0]
    marked = [t for t, m in hit.snippet if m]
    assert marked == ["system of records"]
    assert hit.snippet_text() == "A [system of records] notice must say who can see the records."
    long_text = "word " * 200 + "the needle is here " + "word " * 200
    q = search.parse_query(con, "needle")
    snip = search.make_snippet(long_text, q, width=80)
    text = "".join(t for t, _ in snip)
    assert "needle" in text and text.startswith("… ") and text.endswith(" …") and len(text) < 100


def test_cli_escapes_markup_in_comment_text(con, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    save(con, detail(f"{DOCKET}-0008", "[bold red]fake[/bold red] markup and [link=http://evil]x[/link] tracker"))
    con.close()
    db = str(tmp_path / "s.duckdb")
    assert main(["search", DOCKET, "tracker", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "[bold red]fake[/bold red]" in out and "[link=http://evil]x[/link]" in out
    assert main(["search", DOCKET, "tracker", "--db", db, "--output", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["comment_id"] for r in rows] == [f"{DOCKET}-0008"]
    assert "**tracker**" in rows[0]["snippet"]


def test_cli_withholds_a_private_senders_name_in_titles_unless_asked(con, tmp_path, capsys, monkeypatch):
    from comments.analysis.pipeline import analyze_docket

    monkeypatch.setenv("COLUMNS", "250")
    save(con, detail(f"{DOCKET}-0009", "The zeppelin registry must stay private.",
                     title="Comment Submitted by Milton Brown", firstName="Milton", lastName="Brown"),
         detail(f"{DOCKET}-0010", "Our zeppelin association supports the registry.",
                title="Comment Submitted by Acme Zeppelin Association", organization="Acme Zeppelin Association"))
    analyze_docket(con, DOCKET)
    con.close()
    db = str(tmp_path / "s.duckdb")
    for extra in ([], ["--output", "json"]):
        assert main(["search", DOCKET, "zeppelin", "--db", db, *extra]) == 0
        out = capsys.readouterr().out
        assert "Milton" not in out and "Brown" not in out and "Comment Submitted by [name withheld]" in out
        assert "Acme Zeppelin Association" in out  # an organization is named
    assert main(["search", DOCKET, "zeppelin", "--db", db, "--show-names"]) == 0
    assert "Comment Submitted by Milton Brown" in capsys.readouterr().out


def test_unknown_docket_is_a_user_error(con):
    with pytest.raises(InputError, match="no comments for docket NOPE-2025-0001"):
        search.search(con, "NOPE-2025-0001", "data")


def test_cli_missing_database(tmp_path, capsys):
    assert main(["search", DOCKET, "x", "--db", str(tmp_path / "none.duckdb")]) != 0
    assert capsys.readouterr().err.startswith("error: no database")
