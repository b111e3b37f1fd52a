"""The analysis on the bundled real docket CMS-2022-0163 (647 comments), stored in a tmp DuckDB."""

from __future__ import annotations

import copy
import glob
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from comments import records, store
from comments.analysis.pipeline import AnalysisParams, analysis_status_lines, analyze_docket
from comments.analysis.themes import QUOTE_CANDIDATES
from comments.briefing.data import campaign_also_line
from comments.cli import main as cli_main
from comments.errors import InputError
from comments.resources import sql_dir

ROOT = Path(__file__).resolve().parents[1]
COMMENTS_DIR = ROOT / "src/comments/data/mirrulations/raw-data/CMS/CMS-2022-0163/text-CMS-2022-0163/comments"
DOCKET = "CMS-2022-0163"
CAMPAIGN_OPENING = "One piece of information that is often important to a patient"
ANALYSIS_TABLES = ("campaigns", "campaign_members", "campaign_also_copies", "themes", "comment_themes", "comment_labels", "bursts")


def _details() -> list[dict]:
    return [json.loads(Path(f).read_text(encoding="utf-8")) for f in sorted(glob.glob(str(COMMENTS_DIR / "*.json")))]


def report(con, name: str, docket_id: str = DOCKET):
    sql = (sql_dir() / "reports" / f"{name}.sql").read_text(encoding="utf-8")
    cur = con.execute(sql, {"docket_id": docket_id})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def snapshot(con) -> dict[str, list]:
    """Every analysis table, sorted, without run ids."""
    out = {}
    for table in ANALYSIS_TABLES:
        cols = [c for c in store.table_columns(con, table) if c != "run_id"]
        out[table] = con.execute(f"select {', '.join(cols)} from {table} order by all").fetchall()
    return out


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    path = tmp_path_factory.mktemp("analysis") / "comments.duckdb"
    con = store.connect(path)
    records.save_comments(con, _details(), source="mirrulations")
    result = analyze_docket(con, DOCKET)
    yield path, con, result
    con.close()


def test_form_letter_campaign_is_one_campaign_with_amp_variants(analyzed):
    _, con, _ = analyzed
    raw = {d["data"]["id"]: d["data"]["attributes"].get("comment") or "" for d in _details()}
    # The raw API text spells the greeting three ways: "and", "&amp;" and the double-escaped "&amp;amp;".
    double = [cid for cid, t in raw.items() if t.startswith("Dear Centers for Medicare &amp;amp; Medicaid") and CAMPAIGN_OPENING in t]
    single = [cid for cid, t in raw.items() if t.startswith("Dear Centers for Medicare &amp; Medicaid") and CAMPAIGN_OPENING in t]
    plain = [cid for cid, t in raw.items() if t.startswith("Dear Centers for Medicare and Medicaid") and CAMPAIGN_OPENING in t]
    assert len(double) >= 10 and len(single) >= 4 and len(plain) >= 100
    amp = double + single
    rows = con.execute(
        "select comment_id, campaign_id from campaign_members where comment_id in (select unnest(?))", [amp + plain]
    ).fetchall()
    assert len(rows) == len(amp) + len(plain), "every copy is in a campaign"
    assert len({cid for _, cid in rows}) == 1, "one campaign, whatever the spelling of &"
    campaign_id = rows[0][1]
    size, stance = con.execute("select size, stance from campaigns where campaign_id = ?", [campaign_id]).fetchone()
    assert size >= len(amp) + len(plain)
    assert stance == "oppose"  # "I am writing to urge CMS to reject this proposal."


def test_every_quote_is_verbatim_in_its_comment(analyzed):
    _, con, _ = analyzed
    total, missing = con.execute(
        """
        with q as (select t.theme_id, unnest(t.quotes) as q from themes t where t.docket_id = ?)
        select count(*), count(*) filter (where b.body is null or strpos(b.body, (q.q).quote) = 0)
        from q left join comment_bodies b on b.comment_id = (q.q).comment_id
        """,
        [DOCKET],
    ).fetchone()
    assert total > 0 and missing == 0
    per_theme = con.execute(
        "select label, len(quotes), is_catch_all from themes where docket_id = ? order by rank", [DOCKET]
    ).fetchall()
    assert 3 <= sum(1 for _, _, catch in per_theme if not catch) <= 12
    for label, n_quotes, _ in per_theme:
        assert 3 <= n_quotes <= QUOTE_CANDIDATES, label
        assert label and not label.islower()  # a phrase, capitalized


def test_numbers_reconcile(analyzed):
    _, con, result = analyzed
    head = report(con, "headline_numbers")[0]
    assert head["posted_comments"] == 647 == result.comments
    assert head["campaign_members"] + head["singletons"] == head["posted_comments"]
    assert head["members_plus_singletons_ok"] and head["campaign_sizes_ok"] and head["every_comment_labelled_ok"]
    assert head["unique_texts"] == result.unique_texts == head["campaigns"] + head["singletons"]
    assert head["submissions_represented"] == result.submissions
    assert head["campaigns"] == result.campaigns and head["themes"] <= result.themes
    assert head["run_id"] == result.run_id
    themes = report(con, "themes")
    assert themes and all(t["counts_ok"] for t in themes)
    stance = report(con, "stance_counts")
    assert sum(r["comments"] for r in stance) == 647
    assert sum(r["unique_texts"] for r in stance) == head["unique_texts"]
    # the contract view: one row per comment
    n, distinct = con.execute(
        "select count(*), count(distinct comment_id) from comment_analysis where docket_id = ?", [DOCKET]
    ).fetchone()
    assert n == distinct == 647
    run = con.execute("select status, comments_analyzed, parameters from analysis_runs where run_id = ?", [result.run_id]).fetchone()
    assert run[0] == "complete" and run[1] == 647 and json.loads(run[2])["burst_min_comments"] >= 2


def test_commenter_types_on_real_comments(analyzed):
    _, con, _ = analyzed
    labels = dict(con.execute("select comment_id, commenter_type from comment_labels").fetchall())
    names = dict(con.execute("select comment_id, commenter_name from comment_labels").fetchall())
    assert labels["CMS-2022-0163-0029"] == "organization" and names["CMS-2022-0163-0029"] == "Saber Healthcare Group"
    assert labels["CMS-2022-0163-0375"] == "government" and "Colorado" in names["CMS-2022-0163-0375"]
    assert labels["CMS-2022-0163-0043"] == "anonymous"  # "Anonymous Anonymous", category Congressional
    # a named private person who picked "Federal Government" as category is an individual, unnamed
    assert labels["CMS-2022-0163-0150"] == "individual" and names["CMS-2022-0163-0150"] is None
    orgs = report(con, "organizations")
    by_name = {o["name"]: o for o in orgs}
    assert by_name["Saber Healthcare Group"]["stance"] == "support"
    people = {f"{d['data']['attributes'].get('firstName')} {d['data']['attributes'].get('lastName')}" for d in _details()}
    assert not people & set(by_name), "no private person's name in the organization list"


def test_status_lines_and_cli_errors(analyzed, capsys):
    path, con, result = analyzed
    lines = analysis_status_lines(con, DOCKET)
    assert len(lines) == 1 and "647 comments" in lines[0] and result.run_id in lines[0]
    assert analysis_status_lines(con, "EPA-0000-0000")[0].startswith("last analysis never")
    assert analysis_status_lines(con)[0].startswith(f"{DOCKET}: last analysis")
    with pytest.raises(InputError, match="unknown docket"):
        analyze_docket(con, "EPA-0000-0000")
    con.execute("checkpoint")
    other = path.parent / "cli.duckdb"
    shutil.copy(path, other)
    code = cli_main(["analyze", "EPA-0000-0000", "--db", str(other)])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: unknown docket") and err.count("\n") == 1


def test_parameters_can_be_set_and_are_recorded_with_the_run(analyzed, capsys):
    path, con, _ = analyzed
    con.execute("checkpoint")
    other = path.parent / "params.duckdb"
    shutil.copy(path, other)
    # mistakes are one line, before anything runs
    assert cli_main(["analyze", DOCKET, "--db", str(other), "--set", "campaigns.nope=1"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: unknown analysis parameter 'campaigns.nope'") and "campaigns.min_containment" in err
    assert cli_main(["analyze", DOCKET, "--db", str(other), "--set", "campaigns.min_containment=high"]) != 0
    assert "takes a float" in capsys.readouterr().err
    # a stricter threshold is applied and recorded: the campaigns it keeps are a subset in size
    strict = AnalysisParams.from_overrides({"campaigns.min_containment": "0.95"})
    assert strict.campaigns.min_containment == 0.95 and strict.digest() != AnalysisParams().digest()
    loose_members = con.execute("select count(*) from campaign_members where docket_id = ?", [DOCKET]).fetchone()[0]
    con2 = store.connect(other)
    try:
        result = analyze_docket(con2, DOCKET, params=strict)
        params = json.loads(con2.execute("select parameters from analysis_runs where run_id = ?", [result.run_id]).fetchone()[0])
        strict_members = con2.execute("select count(*) from campaign_members where docket_id = ?", [DOCKET]).fetchone()[0]
    finally:
        con2.close()
    assert params["campaigns"]["min_containment"] == 0.95
    assert strict_members < loose_members  # reworked copies (containment 0.4-0.9) no longer join


def _new_comment(template: dict, comment_id: str, text: str) -> dict:
    detail = copy.deepcopy(template)
    detail["data"]["id"] = comment_id
    detail["data"]["attributes"]["comment"] = text
    detail["data"]["attributes"]["firstName"] = "Anonymous"
    detail["data"]["attributes"]["lastName"] = "Anonymous"
    detail.pop("included", None)
    detail["data"].get("relationships", {}).pop("attachments", None)
    return detail


NEW_LETTER = (
    "To the Administrator: I write as a rural clinic manager about the cost of keeping directory listings current. "
    "Every quarter our staff re-enter the same addresses, hours and phone numbers into six payer portals and the "
    "state Medicaid system, and every quarter at least one of them is wrong again within weeks. A single national "
    "directory that payers are required to read from would end this duplicated data entry, and it should let "
    "small practices attest once a year with a simple web form rather than an API. "
)


def _campaign_check_recount(con) -> dict:
    """brief_campaign_check.sql's figures, counted in Python: comments of 300+ characters sharing their
    first 150 with another are one letter's copies; its campaign holds most of them (ties: lowest id)."""
    camp = dict(con.execute("select comment_id, campaign_id from campaign_members where docket_id = ?", [DOCKET]).fetchall())
    other = set(con.execute("select comment_id, campaign_id from comment_other_letters where docket_id = ?",
                            [DOCKET]).fetchall())
    openings: dict[str, list[str]] = {}
    for comment_id, body in con.execute("select comment_id, text from comments where docket_id = ?", [DOCKET]).fetchall():
        body = body or ""
        if len(body) >= 300:
            openings.setdefault(body[:400].lstrip(" \t\n\r")[:150], []).append(comment_id)
    out = {"letters": 0, "copies": 0, "grouped": 0, "listed": 0, "in_no_campaign": 0}
    for ids in openings.values():
        if len(ids) < 2:
            continue
        held = Counter(camp[i] for i in ids if i in camp)
        letter = min(held, key=lambda c: (-held[c], c)) if held else None
        out["letters"] += 1
        out["copies"] += len(ids)
        out["grouped"] += sum(1 for i in ids if letter is not None and camp.get(i) == letter)
        out["listed"] += sum(1 for i in ids if camp.get(i) != letter and (i, letter) in other)
        out["in_no_campaign"] += sum(1 for i in ids if i not in camp)
    return out


def test_reanalysis_is_deterministic_and_keeps_ids(analyzed, tmp_path):
    path, con, _ = analyzed
    con.execute("checkpoint")
    before = snapshot(con)
    copy_path = tmp_path / "again.duckdb"
    shutil.copy(path, copy_path)
    con2 = store.connect(copy_path)
    try:
        analyze_docket(con2, DOCKET)
        assert snapshot(con2) == before, "same input, same tables (except run ids)"

        old_campaigns = dict(con2.execute("select template_comment_id, campaign_id from campaigns").fetchall())
        old_themes = {r[0]: set(r[1]) for r in con2.execute("select theme_id, keywords from themes where not is_catch_all").fetchall()}
        # More comments arrive: a new form letter (6 copies, some personalized) and 3 more copies of the big one.
        details = _details()
        template = details[0]
        big = next(d for d in details if d["data"]["id"] == "CMS-2022-0163-0150")
        added = [_new_comment(template, f"{DOCKET}-{9000 + i}", NEW_LETTER + (f"My clinic is in county {i}." if i % 2 else ""))
                 for i in range(6)]
        added += [_new_comment(template, f"{DOCKET}-{9100 + i}", big["data"]["attributes"]["comment"]) for i in range(3)]
        # and two senders paste both letters into one comment
        added += [_new_comment(template, f"{DOCKET}-{9200 + i}", big["data"]["attributes"]["comment"] + "\n\n" + NEW_LETTER)
                  for i in range(2)]
        records.save_comments(con2, added, source="mirrulations")
        result = analyze_docket(con2, DOCKET)
        assert result.comments == 658

        new_campaigns = dict(con2.execute("select template_comment_id, campaign_id from campaigns").fetchall())
        for template_id, campaign_id in old_campaigns.items():
            assert new_campaigns.get(template_id) == campaign_id, "a campaign that still exists keeps its id"
        new_letter = con2.execute(
            "select campaign_id, size from campaign_members join campaigns using (campaign_id) where comment_id = ?",
            [f"{DOCKET}-9000"],
        ).fetchone()
        assert new_letter is not None
        # each pasted pair counts once, in one of the two campaigns, and the other lists it as a copy of its letter
        compound = [f"{DOCKET}-{9200 + i}" for i in range(2)]
        big_id = old_campaigns["CMS-2022-0163-0150"]
        home = dict(con2.execute("select comment_id, campaign_id from campaign_members where comment_id in (?, ?)",
                                 compound).fetchall())
        assert set(home) == set(compound) and set(home.values()) <= {big_id, new_letter[0]}
        listed = con2.execute("select comment_id, campaign_id, template_share from campaign_also_copies").fetchall()
        assert sorted((c, k) for c, k, _ in listed) == sorted(
            (c, new_letter[0] if home[c] == big_id else big_id) for c in compound)
        assert all(share >= 0.9 for _, _, share in listed)
        assert new_letter[1] == 6 + sum(1 for c in compound if home[c] == new_letter[0])
        assert report(con2, "brief_campaign_overlap") == [{"comments": 2}]  # the briefing's caveat
        # the briefing's form-letter check, recounted here from the tables; a pasted pair opens with the big
        # letter, so when it counts under the new letter it is listed with the big one
        check = report(con2, "brief_campaign_check")[0]
        assert check == _campaign_check_recount(con2)
        assert check["listed"] == sum(1 for c in compound if home[c] != big_id) and check["copies"] >= 6 + 3 + 2
        rows = {r["campaign_id"]: r for r in report(con2, "brief_campaigns")}
        for campaign_id in {new_letter[0], big_id}:
            theirs = [c for c in compound if home[c] != campaign_id]
            assert rows[campaign_id]["also_copies"] == len(theirs)
            if theirs:
                assert rows[campaign_id]["also_copies_counted_in"] == [
                    {"campaign_id": home[theirs[0]], "comments": len(theirs)}]
                assert campaign_also_line(len(theirs), rows[campaign_id]["also_copies_counted_in"]) == (
                    f"2 more comments also copy this letter but are counted under another campaign: "
                    f"{home[theirs[0]]} (2 comments).")
        assert new_letter[0] not in old_campaigns.values(), "a new campaign gets a new id"
        assert con2.execute("select campaign_id from campaign_members where comment_id = ?", [f"{DOCKET}-9102"]).fetchone()[0] == big_id

        # (the catch-all "Other topics" keeps its own id whatever its keywords)
        new_themes = {r[0]: set(r[1]) for r in con2.execute("select theme_id, keywords from themes where not is_catch_all").fetchall()}
        kept = [tid for tid, kw in old_themes.items() if tid in new_themes and len(kw & new_themes[tid]) / len(kw | new_themes[tid] or {1}) >= 0.25]
        assert len(kept) >= len(old_themes) // 2, "themes that still exist keep their ids"
        reused = [tid for tid, kw in new_themes.items() if tid in old_themes and not (kw & old_themes[tid]) and kw]
        assert not reused, "an id is never given to an unrelated theme"
        head = report(con2, "headline_numbers")[0]
        assert head["members_plus_singletons_ok"] and head["campaign_sizes_ok"] and head["posted_comments"] == 658
    finally:
        con2.close()


def test_bursts_stand_out_from_a_campaigns_pace():
    from datetime import datetime, timedelta

    from comments.analysis.campaigns import Campaign, Member
    from comments.analysis.pipeline import AnalysisParams, _bursts

    ids = [f"X-{i:03d}" for i in range(40)]
    start = datetime(2025, 6, 1, 9, 0)
    received = [start + timedelta(seconds=12 * i) for i in range(15)]            # 15 within 3 minutes
    received += [start + timedelta(hours=7 * (i + 1)) for i in range(25)]        # the rest over a week
    camp = Campaign("k", ids[0], "text", [Member(c, 1.0, True, []) for c in ids])
    index = {c: i for i, c in enumerate(ids)}
    rows, notes = _bursts("X", [camp], {"k": "C0001"}, index, received, AnalysisParams(), "run")
    assert notes == [] and len(rows) == 1
    assert rows[0]["comments"] == 15 and rows[0]["started_at"] == start and rows[0]["campaign_id"] == "C0001"
    # day-precision received dates (every one at 05:00): minutes cannot be judged
    days = [datetime(2025, 6, 1 + i % 20, 5, 0) for i in range(40)]
    rows, notes = _bursts("X", [camp], {"k": "C0001"}, index, days, AnalysisParams(), "run")
    assert rows == [] and "no time of day" in notes[0]


@pytest.mark.prefect
def test_prefect_flow_analyzes_a_docket(analyzed, tmp_path, prefect_harness):
    from flows.analyze_docket import analyze_docket as analyze_flow

    path, con, _ = analyzed
    con.execute("checkpoint")
    copy_path = tmp_path / "flow.duckdb"
    shutil.copy(path, copy_path)
    with prefect_harness():
        out = analyze_flow(DOCKET, str(copy_path))
    assert out["comments"] == 647 and out["campaign_members"] + out["singletons"] == 647
    check = store.connect(copy_path)
    try:
        assert check.execute("select count(*) from analysis_runs where status = 'complete'").fetchone()[0] == 2
    finally:
        check.close()
