"""The briefing's "What changed since the last run" section.

Two tracked states of the real bundled docket (briefing_fixture.py): a
baseline, then a new form-letter campaign whose template carries a `<script>`
payload and a private commenter's name, two more copies of the docket's real
campaign, and a singleton signed by a private individual; re-analysed by the
real pipeline. The HTML, Markdown and Word briefings must carry the numbers of
the changes dict (which `comments.changes` computes from SQL state), escape
the payload, and never show the private names.
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime, timedelta

import briefing_fixture as fx
import docx
import pytest

from comments import changes, records, store
from comments.analysis.pipeline import analyze_docket
from comments.briefing import changes_file, write_briefing
from comments.briefing.privacy import REDACTED
from comments.briefing.renderers import fmt_num, fmt_signed, md_escape
from comments.errors import InputError

DOCKET = fx.DOCKET
T0 = datetime(2026, 3, 2, 6, 0)
T1 = T0 + timedelta(days=7)
T2 = T1 + timedelta(days=7)

PRIVATE_FIRST, PRIVATE_LAST = "Zebulon", "Marchetti"
PAYLOAD = "<script>document.title='pwned';window.__pwned=1</script>"
HOSTILE_LETTER = (
    f"{PAYLOAD} Like my neighbor {PRIVATE_FIRST} {PRIVATE_LAST}, I oppose sharing the provider directory with "
    "enforcement agencies. Patients will avoid clinics if their visits can be matched against other databases, "
    "and the notice does not say how long the data will be kept or how errors can be corrected. Withdraw it."
)
NEW_CAMPAIGN_COPIES = 5


def _comment(n: int, text: str, *, first=None, last=None, category="Individual") -> dict:
    when = "2026-03-05T15:00:00Z"
    return {"data": {"id": f"{DOCKET}-8{n:03d}", "type": "comments", "attributes": {
        "docketId": DOCKET, "commentOnDocumentId": f"{DOCKET}-0001", "agencyId": "CMS",
        "documentType": "Public Submission",
        # the API sends comment text as HTML: a typed "<script>" arrives escaped
        "comment": htmllib.escape(text, quote=False), "title": f"Comment on {DOCKET}-0001",
        "postedDate": when, "receiveDate": when, "firstName": first, "lastName": last,
        "category": category, "duplicateComments": 0}}}


def _docx_text(path) -> str:
    """Paragraphs and table rows (cells joined by " | ") in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(str(path))
    parts = []
    for child in d.element.body.iterchildren():
        if child.tag.endswith("}p"):
            parts.append(Paragraph(child, d).text)
        elif child.tag.endswith("}tbl"):
            parts += [" | ".join(c.text for c in row.cells) for row in Table(child, d).rows]
    return "\n".join(parts)


def _briefings(con, out_dir, name: str, changes: dict) -> dict[str, str]:
    texts = {}
    for ext in ("html", "md", "docx"):
        path = out_dir / f"{name}.{ext}"
        write_briefing(con, DOCKET, path, changes=changes)
        texts[ext] = _docx_text(path) if ext == "docx" else path.read_text(encoding="utf-8")
    return texts


def _for_briefing(result: changes_file.DocketChanges) -> dict:
    return {**result.changes, "previous_run_at": result.previous_run_at, "run_at": result.run_at}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """Three tracked runs (baseline, changed, unchanged) and the briefings written after each."""
    tmp = tmp_path_factory.mktemp("changes")
    db = fx.build(tmp / "comments.duckdb")
    con = store.connect(db)
    try:
        first = changes_file.record_changes(con, DOCKET, run_at=T0)
        out = {"first": (first, _briefings(con, tmp, "first", _for_briefing(first)))}

        old_campaign, template = con.execute(
            "select k.campaign_id, c.text from campaigns k join comments c on c.comment_id = k.template_comment_id "
            "where k.docket_id = ? order by k.size desc limit 1", [DOCKET]).fetchone()
        added = [_comment(n, HOSTILE_LETTER, first=f"Pat{n}", last=f"Quill{n}") for n in range(1, NEW_CAMPAIGN_COPIES + 1)]
        added += [_comment(10 + n, template, first=f"Pat{n}", last=f"Quill{n}") for n in (1, 2)]
        added.append(_comment(20, "Rural clinics need the directory to stay free of charge; a subscription would "
                                  "push the smallest practices out of it.", first=PRIVATE_FIRST, last=PRIVATE_LAST))
        records.save_comments(con, added, source="mirrulations")
        analyze_docket(con, DOCKET)

        second = changes_file.record_changes(con, DOCKET, run_at=T1)
        out["second"] = (second, _briefings(con, tmp, "second", _for_briefing(second)))
        out["old_campaign"] = old_campaign
        out["added"] = sorted(a["data"]["id"] for a in added)

        third = changes_file.record_changes(con, DOCKET, run_at=T2)   # nothing new, no re-analysis
        out["third"] = (third, _briefings(con, tmp, "third", _for_briefing(third)))
        write_briefing(con, DOCKET, tmp / "plain.html")
        out["plain"] = (tmp / "plain.html").read_text(encoding="utf-8")
        out["dir"] = tmp
        out["db"] = db
    finally:
        con.close()
    return out


def _section(texts: dict[str, str]) -> dict[str, str]:
    """Each format's what-changed section only (it ends where section 1 begins)."""
    html = texts["html"]
    return {
        "html": html[html.index('<section id="changes"'): html.index('<section id="headline"')],
        "md": texts["md"][texts["md"].index("## What changed"): texts["md"].index("## 1. The numbers")],
        "docx": texts["docx"][texts["docx"].index("What changed"): texts["docx"].index("1. The numbers")],
    }


def _metric(html: str, key: str) -> int:
    found = re.findall(rf'data-metric="{re.escape(key)}" data-value="(-?\d+)"', html)
    assert len(found) == 1, (key, found)
    return int(found[0])


def test_section_comes_first_and_reports_the_changes_dict(tracked):
    result, texts = tracked["second"]
    ch = result.changes
    sec = _section(texts)
    # Right after the docket header, before the numbers, in every format.
    assert texts["html"].index('<section id="changes"') < texts["html"].index('<section id="headline"')
    heading = "What changed since the last run (2026-03-02 06:00 UTC)"
    assert all(heading in s for s in sec.values())

    # New comments: exactly the ones added, as the dict counts them.
    assert ch["new_comments"] == tracked["added"]
    n = len(ch["new_comments"])
    assert _metric(sec["html"], "changes_new_comments") == n == NEW_CAMPAIGN_COPIES + 3
    comments_line = (f"{fmt_num(n)} new comments: posted comments {fmt_num(ch['comments_before'])} → "
                     f"{fmt_num(ch['comments_after'])}, submissions represented {fmt_num(ch['submissions_before'])} → "
                     f"{fmt_num(ch['submissions_after'])}.")
    assert comments_line in sec["md"] and comments_line in sec["docx"]
    assert ch["comments_after"] - ch["comments_before"] == n

    # The new campaign (the hostile letters) and the real campaign that grew by 2.
    assert len(ch["new_campaigns"]) == 1 and ch["new_campaigns"][0]["size"] == NEW_CAMPAIGN_COPIES
    new = ch["new_campaigns"][0]
    assert _metric(sec["html"], f"changes_campaign_{new['campaign_id']}_size") == NEW_CAMPAIGN_COPIES
    new_line = (f"New campaign {new['campaign_id']}: {NEW_CAMPAIGN_COPIES} copies ({fmt_num(new['submissions'])} "
                f"submissions represented), stance {new['stance']}.")
    assert new_line in sec["docx"] and new_line.replace(f"New campaign {new['campaign_id']}:",
                                                        f"**New campaign {new['campaign_id']}**:") in sec["md"]
    grown = {c["campaign_id"]: c for c in ch["grown_campaigns"]}
    assert list(grown) == [tracked["old_campaign"]] and grown[tracked["old_campaign"]]["added"] == 2
    g = grown[tracked["old_campaign"]]
    assert _metric(sec["html"], f"changes_campaign_{g['campaign_id']}_added") == 2
    grown_line = f"Campaign {g['campaign_id']} grew by 2: {fmt_num(g['size_before'])} → {fmt_num(g['size_after'])} copies"
    assert grown_line in sec["docx"] and grown_line.replace(": ", "**: ", 1) in sec["md"].replace("**Campaign", "Campaign")

    # Stance, by unique texts and by submissions: the dict's before/after and change, in all three.
    by = ch["stance"]["by"]
    assert sum(by["submissions"][s]["delta"] for s in changes.STANCES) == n
    for s in changes.STANCES:
        for measure in ("unique_texts", "submissions"):
            row = by[measure][s]
            key = s.replace(" ", "_")  # 'not read' -> not_read in keys
            assert _metric(sec["html"], f"changes_stance_{key}_{measure}") == row["after"]
            assert _metric(sec["html"], f"changes_stance_{key}_{measure}_delta") == row["delta"]
        u, m = by["unique_texts"][s], by["submissions"][s]
        cells = [s, f"{fmt_num(u['before'])} → {fmt_num(u['after'])}", fmt_signed(u["delta"]),
                 f"{fmt_num(m['before'])} → {fmt_num(m['after'])}", fmt_signed(m["delta"])]
        md_row = next(line for line in sec["md"].splitlines() if line.startswith(f"| {s} |"))
        docx_row = next(line for line in sec["docx"].splitlines() if line.startswith(f"{s} | "))
        for cell in cells:
            assert f" {cell} " in md_row + " " and cell in docx_row.split(" | "), (cell, md_row, docx_row)

    # Where the stance change came from, by comments: the new comments' own stances, as stored.
    src = ch["stance_sources"]
    con = store.connect(tracked["db"], read_only=True)
    try:
        stored = dict(con.execute(
            "select stance, count(*) from comment_analysis where comment_id in (select unnest(?)) group by stance",
            [tracked["added"]]).fetchall())
    finally:
        con.close()
    assert src["known"] and src["new"] == {s: stored[s] for s in changes.STANCES if stored.get(s)}
    sources = "By comments: " + f"{n} new comments (" + ", ".join(f"{k} {v}" for k, v in src["new"].items()) + ")"
    assert all(sources in htmllib.unescape(x) for x in sec.values()), sources

    # Themes: every new or grown theme is named, with the dict's numbers.
    for t in ch["new_themes"]:
        assert _metric(sec["html"], f"changes_theme_{t['theme_id']}_comments") == t["comments"]
        assert f"“{t['label']}”: {fmt_num(t['comments'])} comments" in sec["docx"]
    for t in ch["grown_themes"]:
        assert _metric(sec["html"], f"changes_theme_{t['theme_id']}_added") == t["added"]
        assert f"grew by {fmt_num(t['added'])}: {fmt_num(t['comments_before'])} → {fmt_num(t['comments_after'])}" in sec["docx"]
    assert ch["new_themes"] or ch["grown_themes"]  # eight new comments land in some theme


def test_hostile_template_is_escaped_and_private_names_are_withheld(tracked):
    result, texts = tracked["second"]
    sec = _section(texts)
    # The excerpt is shown, as text: escaped by Jinja in HTML, inert in Markdown, a plain run in Word.
    assert "&lt;script&gt;document.title=" in sec["html"]
    assert "<script" not in texts["html"]
    assert md_escape(PAYLOAD)[:40] in sec["md"] and not re.search(r"(?<!\\)<", texts["md"])
    assert "<script>document.title=" in sec["docx"]          # Word shows the characters, nothing runs
    # the neighbour's name in the template is withheld
    assert REDACTED in sec["html"] and REDACTED in sec["docx"] and md_escape(REDACTED) in sec["md"]
    # No private individual's name anywhere, in any run's briefing.
    for run in ("first", "second", "third"):
        for fmt, text in tracked[run][1].items():
            for name in (PRIVATE_FIRST, PRIVATE_LAST, fx.PRIVATE_LAST):
                assert name not in text, (run, fmt, name)
            assert not re.search(r"Quill\d", text), (run, fmt)


def test_first_run_and_no_change_notes(tracked):
    first, texts = tracked["first"]
    assert first.changes["first_run"]
    for fmt, sec in _section(texts).items():
        assert "First tracked run: baseline recorded" in sec, fmt
        assert "New campaign" not in sec and "Stance" not in sec, fmt  # a baseline, not "everything is new"
    third, texts = tracked["third"]
    assert not changes.has_changes(third.changes)
    for fmt, sec in _section(texts).items():
        assert "No changes since 2026-03-09 06:00 UTC" in sec, fmt
    # Without changes (plain `comments brief`) there is no such section.
    assert "What changed" not in tracked["plain"] and "<section id=\"headline\"" in tracked["plain"]


def test_long_lists_are_cut_and_say_how_many_more(tracked):
    """Twelve new campaigns and twenty grown themes: the two-page briefing lists the largest, counts the rest."""
    from comments.briefing.data import what_changed
    from comments.briefing.privacy import NameGuard
    from comments.briefing.renderers import changes_markdown

    def state(n_comments, campaigns, themes):
        return {"docket_id": DOCKET, "comments": n_comments, "submissions": n_comments,
                "comment_ids": [f"{DOCKET}-{i:04d}" for i in range(n_comments)], "campaigns": campaigns,
                "themes": themes, "stance": {"oppose": {"comments": n_comments, "submissions": n_comments,
                                                        "unique_texts": n_comments}}}

    themes_before = {f"T{i:03d}": {"label": f"topic {i}", "comments": 10, "unique_texts": 10, "submissions": 10,
                                   "catch_all": False} for i in range(20)}
    themes_after = {t: {**v, "comments": 10 + i + 1} for i, (t, v) in enumerate(themes_before.items())}
    campaigns = {f"C{i:04d}": {"size": 3 + i, "submissions": 3 + i, "stance": "oppose", "excerpt": f"letter {i}"}
                 for i in range(12)}
    diff = changes.diff_states(state(100, {}, themes_before), state(250, campaigns, themes_after))
    w = what_changed({**diff, "previous_run_at": T0}, NameGuard([]))
    assert w["new_comments"] == 150 and len(w["new_comment_links"]) == 10 and w["new_comments_not_listed"] == 140
    assert [c["size"] for c in w["new_campaigns"]] == [14, 13, 12, 11, 10]   # the largest new campaigns
    assert w["not_listed"]["new_campaigns"] == 7
    # grown themes come largest growth first, so the eight shown are the eight that grew most
    assert [t["added"] for t in w["grown_themes"]] == list(range(20, 12, -1)) and w["not_listed"]["grown_themes"] == 12
    md = "\n".join(changes_markdown(w))
    assert "… and 7 more new campaigns" in md and "… and 12 more themes that grew" in md and "and 140 more" in md
    con = store.connect(tracked["db"])
    try:
        page = tracked["dir"] / "long.html"
        write_briefing(con, DOCKET, page, changes={**diff, "previous_run_at": T0})
        html = page.read_text(encoding="utf-8")
        assert "… and 7 more new campaigns" in html and "… and 12 more themes that grew" in html
        with pytest.raises(InputError, match="not CMS-2022-0163"):   # another docket's changes
            write_briefing(con, DOCKET, tracked["dir"] / "other.html", changes={**diff, "docket_id": "EPA-HQ-OAR-2021-0317"})
    finally:
        con.close()
