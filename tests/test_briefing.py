"""Briefings: numbers equal SQL counts, quotes are verbatim, names withheld, payloads inert.

The database is the bundled real docket plus two planted comments (an HTML
payload from an "organization", and a private individual whose name is in
the quoted text), analysed by the real pipeline (see briefing_fixture.py).
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
from pathlib import Path

import briefing_fixture as fx
import docx
import pytest

from comments import records, store
from comments.briefing import gather, write_briefing
from comments.briefing.data import STANCES, campaign_check_line
from comments.briefing.privacy import REDACTED, NameGuard, name_from_title
from comments.briefing.renderers import _org_stance, fmt_num, md_escape
from comments.cli import main as cli_main
from comments.resources import sql_text

DOCKET = fx.DOCKET


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return fx.build(tmp_path_factory.mktemp("brief") / "comments.duckdb")


@pytest.fixture(scope="module")
def con(db):
    c = store.connect(db)
    yield c
    c.close()


@pytest.fixture(scope="module")
def outputs(con, tmp_path_factory) -> dict:
    """The briefing in all three formats, default (names withheld) and --show-names."""
    out_dir = tmp_path_factory.mktemp("out")
    files = {}
    for show in (False, True):
        for ext in ("html", "md", "docx"):
            path = out_dir / f"brief{'-names' if show else ''}.{ext}"
            write_briefing(con, DOCKET, path, show_names=show)
            files[(ext, show)] = path
    return files


def _docx_text(path: Path) -> str:
    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    # hyperlink runs are not in paragraph.text in every python-docx version
    xml_text = re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", d.element.xml)
    return "\n".join(parts + [htmllib.unescape(t) for t in xml_text])


def _docx_tables(path: Path) -> list[list[list[str]]]:
    d = docx.Document(str(path))
    return [[[cell.text for cell in row.cells] for row in t.rows] for t in d.tables]


def _html_metrics(text: str) -> dict[str, tuple[str, str]]:
    """data-metric -> (data-value, displayed text)."""
    found = re.findall(r'data-metric="([^"]+)" data-value="([^"]*)">([^<]*)<', text)
    metrics = {}
    for key, value, shown in found:
        assert key not in metrics, f"metric {key} shown twice"
        metrics[key] = (value, shown)
    return metrics


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _q(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def _expected_counts(con) -> dict[str, float]:
    """The briefing's numbers computed here, from the tables, independently of sql/reports."""
    d = DOCKET
    exp = {}
    exp["comments_posted"], exp["agency_duplicates"] = _q(
        con, "select count(*), sum(coalesce(duplicate_comments, 0)) from comments where docket_id = ?", d)[0]
    exp["submissions_represented"] = exp["comments_posted"] + exp["agency_duplicates"]
    exp["unique_texts"] = _q(con, """select count(distinct coalesce(m.campaign_id, c.comment_id))
        from comments c left join campaign_members m using (comment_id) where c.docket_id = ?""", d)[0][0]
    exp["campaigns"] = _q(con, "select count(*) from campaigns where docket_id = ?", d)[0][0]
    exp["campaign_comments"] = _q(con, "select count(*) from campaign_members where docket_id = ?", d)[0][0]
    camp_subs = _q(con, """select sum(1 + coalesce(c.duplicate_comments, 0)) from campaign_members m
        join comments c using (comment_id) where m.docket_id = ?""", d)[0][0]
    exp["campaign_share_pct"] = round(100 * exp["campaign_comments"] / exp["comments_posted"], 1)
    exp["campaign_submissions_share_pct"] = round(100 * camp_subs / exp["submissions_represented"], 1)
    exp["not_read"] = _q(con, "select count(*) from comment_labels where docket_id = ? and stance = 'not read'", d)[0][0]
    # one definition of `not read` everywhere: attachments read, plus the comments `not read`
    exp["attachment_substance_with_text"] = _q(con, """select count(*) from comment_bodies b
        join comment_labels l using (comment_id)
        where b.docket_id = ? and b.body_source in ('attachment', 'both') and l.stance <> 'not read'""", d)[0][0]
    exp["attachment_substance"] = exp["attachment_substance_with_text"] + exp["not_read"]
    for stance in STANCES:
        key = stance.replace(" ", "_")
        singles = _q(con, """select count(*) from comments c left join campaign_members m using (comment_id)
            left join comment_labels l using (comment_id)
            where c.docket_id = ? and m.comment_id is null and coalesce(l.stance, 'unclear') = ?""", d, stance)[0][0]
        camps = _q(con, "select count(*) from campaigns where docket_id = ? and coalesce(stance, 'unclear') = ?", d, stance)[0][0]
        exp[f"stance_{key}_unique_texts"] = singles + camps
        exp[f"stance_{key}_submissions"] = _q(con, """select coalesce(sum(1 + coalesce(c.duplicate_comments, 0)), 0)
            from comments c left join comment_labels l using (comment_id)
            where c.docket_id = ? and coalesce(l.stance, 'unclear') = ?""", d, stance)[0][0]
    for tid, uniq, n, subs in _q(con, "select theme_id, unique_texts, comments, submissions from themes where docket_id = ?", d):
        exp[f"theme_{tid}_unique_texts"], exp[f"theme_{tid}_comments"], exp[f"theme_{tid}_submissions"] = uniq, n, subs
    # by main theme (each comment once), the campaign with most copies in each theme, and stance per theme
    for tid, n, uniq, subs in _q(con, """select ct.theme_id, count(*),
            count(distinct coalesce('campaign:' || m.campaign_id, ct.comment_id)), sum(1 + coalesce(c.duplicate_comments, 0))
        from comment_themes ct join comments c using (comment_id) left join campaign_members m using (comment_id)
        where ct.docket_id = ? and ct.is_primary group by 1""", d):
        exp[f"theme_{tid}_main_comments"], exp[f"theme_{tid}_main_unique_texts"], exp[f"theme_{tid}_main_submissions"] = n, uniq, subs
    for tid, n in _q(con, """select ct.theme_id, max(n) from (select ct.theme_id, m.campaign_id, count(*) as n
        from comment_themes ct join campaign_members m using (comment_id) where ct.docket_id = ? group by 1, 2) ct
        group by 1""", d):
        exp[f"theme_{tid}_campaign_copies"] = n
    stances = [r[0] for r in _q(con, "select distinct coalesce(stance, 'unclear') from comment_labels where docket_id = ?", d)]
    for tid, in _q(con, "select theme_id from themes where docket_id = ?", d):
        for st in stances:
            key = st.replace(" ", "_")
            exp[f"theme_{tid}_stance_{key}_comments"] = _q(con, """select count(*) from comment_themes ct
                left join comment_labels l using (comment_id) where ct.docket_id = ? and ct.theme_id = ?
                and coalesce(l.stance, 'unclear') = ?""", d, tid, st)[0][0]
            singles = _q(con, """select count(*) from comment_themes ct left join campaign_members m using (comment_id)
                left join comment_labels l using (comment_id) where ct.docket_id = ? and ct.theme_id = ?
                and m.comment_id is null and coalesce(l.stance, 'unclear') = ?""", d, tid, st)[0][0]
            camps = _q(con, """select count(distinct m.campaign_id) from comment_themes ct join campaign_members m using (comment_id)
                join campaigns k on k.campaign_id = m.campaign_id and k.docket_id = m.docket_id
                where ct.docket_id = ? and ct.theme_id = ? and coalesce(k.stance, 'unclear') = ?""", d, tid, st)[0][0]
            exp[f"theme_{tid}_stance_{key}_unique_texts"] = singles + camps
    exp["themes_main_comments"] = _q(con, "select count(*) from comment_themes where docket_id = ? and is_primary", d)[0][0]
    exp["comments_without_theme"] = exp["comments_posted"] - _q(
        con, "select count(distinct comment_id) from comment_themes where docket_id = ?", d)[0][0]
    for cid, size, adds in _q(con, "select campaign_id, size, members_with_additions from campaigns where docket_id = ?", d):
        exp[f"campaign_{cid}_size"], exp[f"campaign_{cid}_members_with_additions"] = size, adds
    exp["organizations_total"], exp["unnamed_commenter_comments"] = _q(con, """select
        count(distinct trim(commenter_name)) filter (where commenter_type = 'organization'),
        count(*) filter (where nullif(trim(commenter_name), '') is null)
        from comment_labels where docket_id = ? and commenter_type in ('organization', 'government')""", d)[0]
    return exp


# ---------------------------------------------------------------- numbers


def test_every_number_in_the_html_equals_its_sql_count(con, outputs):
    page = outputs[("html", False)].read_text(encoding="utf-8")
    shown = _html_metrics(page)
    expected = _expected_counts(con)
    assert set(shown) <= set(expected), f"numbers in the briefing with no SQL check: {set(shown) - set(expected)}"
    # every headline and stance number is shown, plus every displayed theme and campaign
    for key in ("comments_posted", "submissions_represented", "unique_texts", "campaigns", "attachment_substance",
                "stance_support_unique_texts", "stance_oppose_submissions", "organizations_total"):
        assert key in shown
    assert any(k.startswith("theme_") for k in shown) and any(k.startswith("campaign_C") for k in shown)
    for key, (value, text) in shown.items():
        assert _number(value) == pytest.approx(expected[key]), key
        assert _number(text) == pytest.approx(expected[key]), key
    # the counts reconcile
    assert shown["comments_posted"][0] == str(647 + 2)  # 647 real comments + 2 planted
    assert expected["campaign_comments"] + (expected["unique_texts"] - expected["campaigns"]) == expected["comments_posted"]
    for measure, total in (("unique_texts", "unique_texts"), ("submissions", "submissions_represented")):
        assert sum(expected[f"stance_{s.replace(' ', '_')}_{measure}"] for s in STANCES) == expected[total]
    # the comments nobody read have their own count, in the headline and in the stance table
    assert shown["not_read"][0] == str(expected["not_read"]) == shown["stance_not_read_submissions"][0]
    assert expected["not_read"] >= 179
    assert expected["agency_duplicates"] == 12  # the planted payload comment says 12 duplicates


def test_timeline_bars_add_up_to_the_dated_comments(con, outputs):
    page = outputs[("html", False)].read_text(encoding="utf-8")
    bars = re.findall(r'data-day="([\d-]+)" data-comments="(\d+)" data-campaign-comments="(\d+)"', page)
    per_day = dict(_q(con, """select strftime(cast(coalesce(received_date, posted_date) as date), '%Y-%m-%d'), count(*)
        from comments where docket_id = ? and coalesce(received_date, posted_date) is not null group by all""", DOCKET))
    shown = {day: int(n) for day, n, _ in bars if int(n)}
    assert shown == per_day
    campaign_copies = sum(int(c) for _, _, c in bars)
    assert campaign_copies == _q(con, "select count(*) from campaign_members where docket_id = ?", DOCKET)[0][0]


def test_html_markdown_and_word_carry_the_same_numbers(outputs, con):
    brief = gather(con, DOCKET)
    md = outputs[("md", False)].read_text(encoding="utf-8")
    tables = _docx_tables(outputs[("docx", False)])
    word_text = _docx_text(outputs[("docx", False)])
    html_metrics = _html_metrics(outputs[("html", False)].read_text(encoding="utf-8"))
    measures = {row[0]: row[1] for t in tables if t[0] == ["Measure", "Count"] for row in t[1:]}
    for m in brief["metrics"]:
        if m["key"].startswith("stance_"):
            continue
        assert f"| {md_escape(m['label'])} | {fmt_num(m['value'])} |" in md, m["key"]
        assert measures[m["label"]] == fmt_num(m["value"]), m["key"]
        assert _number(html_metrics[m["key"]][0]) == pytest.approx(m["value"])
    stance_word = next(t for t in tables if t[0][0] == "Stance")
    stance_md = re.findall(r"^\| (support|oppose|mixed|unclear|not read) \| ([\d,]+) \| [\d.]+%(?: of all)? \| "
                           r"([\d,]+) \| [\d.]+%(?: of all)? \|$", md, re.M)
    assert [s for s, _, _ in stance_md] == list(STANCES)
    for (stance, uniq, subs), row in zip(stance_md, stance_word[1:], strict=True):
        assert [row[0], row[1], row[3]] == [stance, uniq, subs]
        key = stance.replace(" ", "_")
        assert html_metrics[f"stance_{key}_unique_texts"][1] == uniq
        assert html_metrics[f"stance_{key}_submissions"][1] == subs
    # how stance was decided, and the comments nobody read, in all three formats
    statement = brief["stance_method"]["statement"]
    assert statement.startswith("Stance: rules only, not measured on this docket")
    assert md_escape(statement) in md and statement in word_text
    assert htmllib.escape(statement, quote=False) in outputs[("html", False)].read_text(encoding="utf-8")
    note = brief["not_read_note"]
    assert note.endswith(f"run `comments attachments {DOCKET}` to download and read them.")
    assert md_escape(note) in md and note in word_text
    # theme and campaign lines are worded identically in Markdown and Word
    for t in brief["themes"]:
        line = re.search(rf"^{re.escape(fmt_num(t['unique_texts']))} unique texts \(.*$", word_text, re.M)
        assert line and line.group(0) in md


# ---------------------------------------------------------------- quotes


def _bodies(con) -> dict[str, str]:
    return dict(_q(con, "select comment_id, body from comment_bodies where docket_id = ?", DOCKET))


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_every_quote_is_verbatim_and_linked_to_its_comment(con, outputs):
    bodies = _bodies(con)
    brief = gather(con, DOCKET)
    quotes = [q for t in brief["themes"] for q in t["quotes"]]
    quotes += [k["addition_example"] for k in brief["campaigns"] if k["addition_example"]]
    assert len(quotes) >= 8
    for q in quotes:
        assert q["quote"] in bodies[q["comment_id"]]
        assert q["url"] == f"https://www.regulations.gov/comment/{q['comment_id']}"

    page = outputs[("html", False)].read_text(encoding="utf-8")
    shown = re.findall(r'<blockquote class="quote" data-comment-id="([^"]+)">(?:One sender added: )?“(.*?)”'
                       r'<span class="src">.*?<a class="ref" href="([^"]+)">', page, re.S)
    assert len(shown) == len(quotes)
    for comment_id, text, href in shown:
        assert htmllib.unescape(href) == f"https://www.regulations.gov/comment/{comment_id}"
        assert _squash(htmllib.unescape(text)) in _squash(bodies[comment_id])

    md = outputs[("md", False)].read_text(encoding="utf-8")
    md_quotes = re.findall(r"^> “(.*)”\n> — .*\]\(https://www\.regulations\.gov/comment/([^)]+)\)$", md, re.M)
    assert len(md_quotes) == sum(len(t["quotes"]) for t in brief["themes"])
    for text, comment_id in md_quotes:
        assert re.sub(r"\\(.)", r"\1", text) in _squash(bodies[comment_id])

    word = _docx_text(outputs[("docx", False)])
    for q in quotes:
        assert _squash(q["quote"]) in _squash(word)


def test_the_briefing_gives_every_theme_with_quotes_and_counts_that_add_up(con, outputs):
    """Issue 10: every theme present, 3-5 quotes each, all verbatim, no label inside the docket
    title and none generic, theme counts add up by main theme."""
    bodies = _bodies(con)
    title = _q(con, "select title from dockets where docket_id = ?", DOCKET)[0][0]
    themes = _q(con, "select theme_id, label from themes where docket_id = ? order by rank", DOCKET)
    assert len(themes) >= 6
    page = outputs[("html", False)].read_text(encoding="utf-8")
    md = outputs[("md", False)].read_text(encoding="utf-8")
    word = _docx_text(outputs[("docx", False)])
    def plain(text):
        return " ".join(re.findall(r"[a-z0-9]+", text.lower()))

    for theme_id, label in themes:
        # every theme, in every format (the HTML folds those past the sixth, but carries them)
        block = re.search(rf'<div class="theme" data-theme="{theme_id}">(.*?)</div>', page, re.S)
        assert block, f"theme {theme_id} missing from the HTML"
        assert htmllib.escape(label, quote=False) in block.group(1)
        assert md_escape(label) in md and label in word
        # 3 to 5 quotes, each verbatim in the comment it links to
        quotes = re.findall(r'<blockquote class="quote" data-comment-id="([^"]+)">“(.*?)”<span', block.group(1), re.S)
        withheld = re.search(r"(\d+) quote\(s\) not shown", block.group(1))
        assert 3 <= len(quotes) + (int(withheld.group(1)) if withheld else 0) and len(quotes) <= 5, (label, len(quotes))
        for comment_id, text in quotes:
            assert _squash(htmllib.unescape(text)) in _squash(bodies[comment_id])
        # labels are specific: not a piece of the docket's title, not a generic term
        assert plain(label) not in plain(title), label
        assert plain(label) not in ("health care", "patient care", "healthcare", "providers", "national directory")
    assert page.index('<details class="more-themes">') > page.index(f'data-theme="{themes[5][0]}"')
    # by main theme each comment counts once: the themes' main counts add up to the comments with a theme
    metrics = _html_metrics(page)
    main = sum(int(metrics[f"theme_{t}_main_comments"][0]) for t, _ in themes)
    with_theme = _q(con, "select count(distinct comment_id) from comment_themes where docket_id = ?", DOCKET)[0][0]
    assert main == with_theme == int(metrics["themes_main_comments"][0])
    assert main + int(metrics["comments_without_theme"][0]) == int(metrics["comments_posted"][0])
    # a theme whose comments are mostly one campaign says so
    biggest = _q(con, "select campaign_id, size from campaigns where docket_id = ? order by size desc limit 1", DOCKET)[0]
    assert re.search(rf"are copies of campaign {biggest[0]}", page)


def test_the_comments_the_agency_must_answer(con, outputs):
    brief = gather(con, DOCKET)
    top = brief["significant"]
    assert len(top) == 10
    assert [r["rank"] for r in top] == list(range(1, 11))
    assert [r["score"] for r in top] == sorted((r["score"] for r in top), reverse=True)
    bodies = _bodies(con)
    private = {(f or "").lower() for f, in _q(con, "select first_name from comments where docket_id = ? and organization is null "
                                               "and first_name is not null and first_name not in ('Anonymous', 'anonymous')", DOCKET)}
    for r in top:
        assert r["key_sentence"] is None or r["key_sentence"] in bodies[r["comment_id"]]
        if r["commenter_type"] in ("organization", "government") and r["commenter_name"]:
            assert r["commenter"] == r["commenter_name"]
        else:
            assert r["commenter"] in ("individual", "an organization", "a government body")
        assert r["commenter"].lower() not in private
        assert r["signals"], "a comment ranked for substance says what substance"
    # the most substantive text outranks a one-line reaction on every measure the issue names
    page = outputs[("html", False)].read_text(encoding="utf-8")
    section = page[page.index('<section id="significant">'):page.index('<section id="who">')]
    assert [m for m in re.findall(r'<li data-comment-id="([^"]+)">', section)] == [r["comment_id"] for r in top]
    md = outputs[("md", False)].read_text(encoding="utf-8")
    assert "## 4. Comments the agency must answer" in md and f"[{md_escape(top[0]['comment_id'])}]" in md


def test_comments_stored_after_the_analysis_are_flagged(db, tmp_path):
    path = tmp_path / "late.duckdb"
    shutil.copy(db, path)
    con = store.connect(path)
    try:
        assert not any("after the last analysis" in c for c in gather(con, DOCKET)["caveats"])
        late = json.loads(next((fx.BASE / "comments").glob("*.json")).read_text(encoding="utf-8"))
        late["data"]["id"] = f"{DOCKET}-9100"
        records.save_comments(con, [late], source="api")
        brief = gather(con, DOCKET)
    finally:
        con.close()
    assert brief["caveats"][0].startswith("1 stored comment(s) arrived after the last analysis")
    assert brief["headline"]["comments_posted"] == 650


def test_a_quote_that_is_not_in_the_comment_is_never_shown(db, tmp_path):
    path = tmp_path / "c.duckdb"
    shutil.copy(db, path)
    con = store.connect(path)
    try:
        con.execute("""update themes set quotes = list_prepend({'comment_id': ?, 'quote': 'Words nobody wrote at all.'}, quotes)
                       where docket_id = ? and theme_id = 'T002'""", ["CMS-2022-0163-0004", DOCKET])
        brief = gather(con, DOCKET)
    finally:
        con.close()
    theme = next(t for t in brief["themes"] if t["theme_id"] == "T002")
    assert theme["quotes_not_verbatim"] == 1
    assert all(q["quote"] != "Words nobody wrote at all." for q in theme["quotes"])


# ---------------------------------------------------------------- privacy


def _private_full_names(con) -> list[str]:
    rows = _q(con, """select c.first_name, c.last_name from comments c left join comment_labels l using (comment_id)
        where c.docket_id = ? and coalesce(l.commenter_type, 'unknown') not in ('organization', 'government')
          and c.first_name is not null and c.last_name is not null""", DOCKET)
    return [f"{a} {b}" for a, b in rows if len(a) > 1 and len(b) > 1]


def test_private_names_never_appear_by_default(con, outputs):
    names = _private_full_names(con)
    assert f"{fx.PRIVATE_FIRST} {fx.PRIVATE_LAST}" in names and len(names) > 100
    for ext, read in (("html", lambda p: htmllib.unescape(p.read_text(encoding="utf-8"))),
                      ("md", lambda p: re.sub(r"\\(.)", r"\1", p.read_text(encoding="utf-8"))),
                      ("docx", _docx_text)):
        text = read(outputs[(ext, False)])
        leaked = [n for n in names if n in text]
        assert not leaked, f"{ext}: {leaked[:5]}"
        assert fx.PRIVATE_LAST not in text and fx.PRIVATE_FIRST not in text, ext
    # the quote that named her was withheld, and the briefing says so
    brief = gather(con, DOCKET)
    first = brief["themes"][0]
    assert first["quotes_withheld"] >= 1
    assert fx.NAMED_ID not in {q["comment_id"] for q in first["quotes"]}
    # a withheld quote gives its place to the next candidate the analysis kept
    stored = _q(con, "select len(quotes) from themes where docket_id = ? and theme_id = ?", DOCKET, first["theme_id"])[0][0]
    assert stored > 5
    assert len(first["quotes"]) == min(5, stored - first["quotes_withheld"] - first["quotes_not_verbatim"])
    assert fx.XSS_ID in {q["comment_id"] for q in first["quotes"]}
    assert f"{first['quotes_withheld']} quote(s) not shown because they name a private individual" in (
        outputs[("md", False)].read_text(encoding="utf-8"))


def test_show_names_shows_them(outputs):
    for ext in ("html", "md"):
        text = outputs[(ext, True)].read_text(encoding="utf-8")
        assert f"{fx.PRIVATE_FIRST} {fx.PRIVATE_LAST}" in re.sub(r"\\(.)", r"\1", text), ext
    assert f"{fx.PRIVATE_FIRST} {fx.PRIVATE_LAST}" in _docx_text(outputs[("docx", True)])


def test_organizations_and_governments_are_named(con, outputs):
    page = htmllib.unescape(outputs[("html", False)].read_text(encoding="utf-8"))
    orgs = _q(con, """select commenter_name, count(*) n from comment_labels where docket_id = ? and commenter_type = 'organization'
          and commenter_name is not null group by all order by n desc, commenter_name limit 5""", DOCKET)
    govs = _q(con, "select distinct commenter_name from comment_labels where docket_id = ? and commenter_type = 'government' and commenter_name is not null", DOCKET)
    assert orgs and govs
    for (name, _n) in orgs:
        assert name in page
    for (name,) in govs:
        assert name in page


def test_name_guard_finds_signatures_and_title_names():
    guard = NameGuard.from_rows([("Jane", "Doe", None), (None, None, "Comment from Robert O'Neil, MD"),
                                 ("Anonymous", "Anonymous", None)])
    assert name_from_title("Comment Submitted by Ann Lee, Acme Health") == "Ann Lee"
    assert name_from_title("Comment on CMS-2022-0163-0001") is None
    assert guard.contains("Thank you. Sincerely, JANE DOE")
    assert guard.contains("Robert O'Neil")
    assert not guard.contains("Anonymous comments about janes and does")  # placeholders and lowercase words
    assert guard.redact("Signed, Jane Doe.") == f"Signed, {REDACTED} {REDACTED}."


def test_a_name_word_the_docket_uses_widely_is_not_withheld_alone_but_a_full_name_is(con):
    from comments.briefing.data import common_word_test

    is_common = common_word_test(con, DOCKET)
    assert is_common("CMS") and not is_common("CM")  # whole words, in at least 20 comments here
    assert not is_common(fx.PRIVATE_LAST)
    # titles as ICEB-2015-0002 has them: "STEM STEM", "love america"; real names beside them
    common = {"STEM", "America", "John", "Smith"}
    guard = NameGuard.from_rows([(None, None, "Comment Submitted by STEM STEM"),
                                 (None, None, "Comment Submitted by love america"),
                                 ("John", "Smith", None), (None, None, "Comment from Zhijian Song")],
                                is_common=lambda word: word in common)
    assert not guard.contains("STEM graduates should stay in America.")
    assert not guard.contains("John Adams wrote it.")
    assert guard.contains("Sincerely, John Smith") and guard.contains("Zhijian")
    assert guard.redact("John Smith, STEM student") == f"{REDACTED} {REDACTED}, STEM student"


def test_name_guard_keeps_ordinary_words_that_free_text_titles_carry():
    # titles as a real docket has them (ICEB-2015-0002): the words around a name are not names
    guard = NameGuard.from_rows([(None, None, "Comment Submitted by Shar in Minneapolis"),
                                 (None, None, "Comment Submitted by Anonymous (An American)"),
                                 (None, None, "Comment Submitted by A practical Peeson"),
                                 (None, None, "Comment Submitted by tianjin an"),
                                 ("mary", "smith", None)])
    template = ("The proposed rule to expand the Optional Practical Training program would hurt American tech "
                "workers. An international student should stay in the country.")
    assert guard.redact(template) == template
    # the names themselves stay guarded, a lowercase name field in lowercase too
    assert guard.redact("Shar, Minneapolis") == f"{REDACTED}, {REDACTED}"
    assert guard.contains("Thanks, A. Peeson") and guard.contains("from TIANJIN")
    assert guard.redact("signed mary smith") == f"signed {REDACTED} {REDACTED}"


# ---------------------------------------------------------------- escaping


def test_payloads_are_escaped_in_html_and_markdown(outputs):
    for show in (False, True):
        page = outputs[("html", show)].read_text(encoding="utf-8")
        assert "&lt;script&gt;document.title=" in page
        assert "<script" not in page.lower()
        assert "<img" not in page.lower() and "onerror=" not in re.sub(r"&[^;]+;", "", page).split("<body>")[0]
        assert not re.search(r"<[a-z]+[^>]*\son\w+=", page, re.I), "an event handler attribute made it into a tag"
        assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page)).replace("https://www.regulations.gov/", "")
    md = outputs[("md", False)].read_text(encoding="utf-8")
    assert "\\<script\\>" in md and "\\<img src=x onerror" in md
    assert not re.search(r"(?<!\\)[<>]", md.replace("\n> ", "\n").replace("\n>", "\n")), "an unescaped angle bracket"


# ---------------------------------------------------------------- caveats


def test_caveats_state_measured_accuracy_only_when_measured(con, tmp_path):
    brief = gather(con, DOCKET, stance_eval_path=tmp_path / "missing.json")
    text = " ".join(brief["caveats"])
    for must in ("Posted counts are not received counts", "mass mail", "not verified", "not been measured"):
        assert must in text
    assert not re.search(r"\d+%", text.split("automated estimates")[1])
    path = tmp_path / "stance_eval.json"
    path.write_text(json.dumps({"n": 120, "accuracy": 0.8125,
                                "per_class": {"support": {"precision": 0.9, "recall": 0.75}}}))
    text = " ".join(gather(con, DOCKET, stance_eval_path=path)["caveats"])
    assert "on 120 hand-labeled comments" in text and "overall accuracy 81%" in text
    assert "support: precision 90%, recall 75%" in text
    # the shape tests/stance_eval.py's evaluate() returns: the held-out split is reported
    path.write_text(json.dumps({"dev": {"n": 10, "accuracy": 0.99},
                                "test": {"n": 87, "accuracy": 0.7931,
                                         "oppose": {"precision": 0.95, "recall": 0.6, "f1": 0.7, "n": 20}}}))
    text = " ".join(gather(con, DOCKET, stance_eval_path=path)["caveats"])
    assert "on 87 held-out hand-labeled comments: overall accuracy 79%; oppose: precision 95%, recall 60%." in text


# ---------------------------------------------------------------- CLI


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_each_format_and_reports_user_errors(db, tmp_path, capsys):
    for ext in ("html", "md", "docx"):
        code, out, err = _cli(capsys, "brief", DOCKET, "--db", str(db), "--out", str(tmp_path / f"b.{ext}"))
        assert code == 0, err
        assert (tmp_path / f"b.{ext}").stat().st_size > 2000 and "649 comments posted" in out
    docx.Document(str(tmp_path / "b.docx"))  # real Word

    code, _, err = _cli(capsys, "brief", DOCKET, "--db", str(db), "--out", str(tmp_path / "b.pdf"))
    assert code != 0 and err.count("\n") == 1 and "unsupported briefing format '.pdf'" in err
    code, _, err = _cli(capsys, "brief", "NOPE-2020-0001", "--db", str(db), "--out", str(tmp_path / "n.html"))
    assert code != 0 and err.count("\n") == 1 and "unknown docket NOPE-2020-0001" in err
    assert not (tmp_path / "n.html").exists()

    raw = fx.build(tmp_path / "raw.duckdb", analyze=False)
    code, _, err = _cli(capsys, "brief", DOCKET, "--db", str(raw), "--out", str(tmp_path / "r.html"))
    assert code != 0 and err.count("\n") == 1 and "run `comments analyze CMS-2022-0163`" in err
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- browser


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_html_briefing_in_headless_chromium_runs_no_script_and_makes_no_request(outputs, tmp_path):
    from playwright.sync_api import sync_playwright

    page_file = outputs[("html", False)]
    dialogs, console, requests, errors = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: console.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # let any onerror handler fire
            title = page.title()
            pwned = page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")
            scripts = page.evaluate("() => document.scripts.length")
            images = page.evaluate("() => document.images.length")
            visible = page.inner_text("body")
            charts = page.evaluate(
                "() => Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().height)")
            bars = page.evaluate("() => document.querySelectorAll('svg.chart g.day rect').length")
            shot = tmp_path / "briefing.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert dialogs == [] and console == [] and errors == []
    assert pwned is None and scripts == 0 and images == 0
    assert title.startswith(f"Briefing: {DOCKET}") and "pwned" not in title
    assert [u for u in requests if not u.startswith("file://")] == []
    # the payloads are shown as text
    assert "<script>document.title='pwned-script'" in visible
    assert '<img src=x onerror="document.title=' in visible
    assert len(charts) == 2 and all(h > 100 for h in charts) and bars > 30
    assert shot.stat().st_size > 50_000
    if os.environ.get("COMMENTS_SCREENSHOT_DIR"):
        target = Path(os.environ["COMMENTS_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / "briefing.png")


# ---------------------------------------------------------------- Prefect


@pytest.mark.prefect
def test_brief_docket_flow_writes_the_file_and_publishes_artifacts(db, tmp_path, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.brief_docket import brief_docket

    out = tmp_path / "flow.md"
    with prefect_harness():
        result = brief_docket(DOCKET, db=str(db), out=str(out))

        async def artifacts():
            async with get_client() as client:
                return await client.read_artifacts(
                    artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="brief-cms-2022-0163")))

        import asyncio

        found = asyncio.run(artifacts())
    assert out.exists() and result["metrics"]["comments_posted"] == 649
    kinds = {a.type: a for a in found}
    assert set(kinds) >= {"markdown", "table"}
    assert "649 comments posted" in kinds["markdown"].data
    table = kinds["table"].data if isinstance(kinds["table"].data, list) else json.loads(kinds["table"].data)
    assert {"measure": "Comments posted on regulations.gov", "key": "comments_posted", "value": 649} in table


def test_an_organization_is_given_a_side_only_when_all_its_read_comments_take_it(db, tmp_path):
    """One support comment beside one that takes no side is not a settled position: 'mixed', with
    how it splits; 'not read' comments are left out (nobody read them)."""
    path = tmp_path / "orgs.duckdb"
    shutil.copy(db, path)
    con = store.connect(path)
    try:
        ids = [r[0] for r in _q(con, """select comment_id from comment_labels where docket_id = ?
                                       order by comment_id limit 6""", DOCKET)]
        for cid, name, stance in ((ids[0], "Org One", "support"), (ids[1], "Org One", "unclear"),
                                  (ids[2], "Org Two", "support"), (ids[3], "Org Two", "not read"),
                                  (ids[4], "Org Three", "oppose"), (ids[5], "Org Three", "oppose")):
            con.execute("""update comment_labels set commenter_type = 'organization', commenter_name = ?, stance = ?
                           where comment_id = ?""", [name, stance, cid])
        orgs = {o["name"]: o for o in gather(con, DOCKET)["commenters"]["organizations"]}
        cur = con.execute(sql_text("reports/organizations.sql"), {"docket_id": DOCKET})
        cols = [d[0] for d in cur.description]
        report = {r[cols.index("name")]: r[cols.index("stance")] for r in cur.fetchall()}
    finally:
        con.close()
    assert (orgs["Org One"]["stance"], orgs["Org One"]["stance_split"]) == ("mixed", "support 1, unclear 1")
    assert (orgs["Org Two"]["stance"], orgs["Org Two"]["stance_split"], orgs["Org Two"]["not_read"]) == ("support", None, 1)
    assert (orgs["Org Three"]["stance"], orgs["Org Three"]["stance_split"]) == ("oppose", None)
    # the organizations report (comments report) applies the same rule
    assert (report["Org One"], report["Org Two"], report["Org Three"]) == ("mixed", "support", "oppose")
    assert _org_stance(orgs["Org One"]) == "mixed (support 1, unclear 1)"


@pytest.fixture(scope="module")
def bulk_docket(tmp_path_factory):
    """The second real docket (CMS-2025-0050, from its bulk CSV): imported, analyzed, briefed."""
    from comments.analysis.pipeline import analyze_docket
    from comments.importers.bulk_csv import import_bulk_csv

    tmp = tmp_path_factory.mktemp("bulk")
    con = store.connect(tmp / "bulk.duckdb")
    try:
        import_bulk_csv(con, Path(__file__).parent / "data" / "CMS-2025-0050-0031.bulk.csv")
        title_before = con.execute("select title from dockets where docket_id = 'CMS-2025-0050'").fetchone()[0]
        analyze_docket(con, "CMS-2025-0050")
        out = tmp / "b.md"
        brief = write_briefing(con, "CMS-2025-0050", out)
        yield con, brief, out, title_before
    finally:
        con.close()


def test_a_docket_known_only_from_a_bulk_csv_is_titled_by_its_notice(bulk_docket):
    con, brief, out, title_before = bulk_docket
    assert title_before is None
    assert brief["docket"]["title"] == "Request for Information: Health Technology Ecosystem"
    md = re.sub(r"\\(.)", r"\1", out.read_text(encoding="utf-8"))
    assert md.startswith("# Request for Information: Health Technology Ecosystem\n")
    assert "- Title: from its notice CMS-2025-0050-0031 (the docket's own title is not in the data)" in md


def test_a_docket_whose_data_names_no_title_is_headed_by_its_id(tmp_path):
    """A bulk CSV of comments alone (no notice row) names no title: every format heads the briefing with the
    docket's id and says its title is not in the data, rather than "Untitled docket"."""
    import csv

    from comments.analysis.pipeline import analyze_docket
    from comments.importers.bulk_csv import import_bulk_csv

    src = tmp_path / "comments-only.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Document ID", "Docket ID", "Document Type", "Posted Date", "Comment"])
        for i, text in enumerate(["I support this rule.", "I oppose this rule.", "Please extend the deadline."], 1):
            w.writerow([f"ABC-2020-0001-{i:04d}", "ABC-2020-0001", "Public Submission", f"2020-01-0{i}", text])
    con = store.connect(tmp_path / "t.duckdb")
    try:
        import_bulk_csv(con, src)
        analyze_docket(con, "ABC-2020-0001")
        heading = "Docket ABC-2020-0001 (its title is not in the data)"
        for name in ("b.md", "b.html", "b.docx"):
            write_briefing(con, "ABC-2020-0001", tmp_path / name)
        md = re.sub(r"\\(.)", r"\1", (tmp_path / "b.md").read_text(encoding="utf-8"))
        assert md.startswith(f"# {heading}\n")
        assert f"<h1>{htmllib.escape(heading)}</h1>" in (tmp_path / "b.html").read_text(encoding="utf-8")
        assert docx.Document(str(tmp_path / "b.docx")).paragraphs[0].text == heading
    finally:
        con.close()


def test_theme_labels_of_a_second_real_docket_name_what_its_comments_discuss(bulk_docket):
    """On a docket the labels were not written for: every label is a phrase of its theme's comments,
    not a piece of the docket's title, and neither starts nor ends on a stop word or a bare verb
    ("ONC to consider" was one)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from comments.analysis.themes import OVERALL_LABEL

    bounds = ENGLISH_STOP_WORDS | {"consider", "ensure", "provide", "allow", "include", "require", "improve",
                                   "create", "make", "take", "get", "give", "away"}

    def words(text: str) -> str:
        return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'", ""))) + " "

    con, brief, _, _ = bulk_docket
    title = words(brief["docket"]["title"])
    themes = con.execute("select theme_id, label from themes where docket_id = 'CMS-2025-0050' and not is_catch_all"
                         " and run_id = (select max(run_id) from themes where docket_id = 'CMS-2025-0050')").fetchall()
    named = [(tid, label) for tid, label in themes if not OVERALL_LABEL.match(label)]
    assert len(named) >= 5
    for tid, label in named:
        w = words(label)
        assert w not in title, label
        first, last = w.split()[0], w.split()[-1]
        assert first not in bounds and last not in bounds, label
        texts = [t for (t,) in con.execute(
            "select c.text from comment_themes ct join comments c using (comment_id) where ct.theme_id = ?"
            " and ct.docket_id = 'CMS-2025-0050' and ct.run_id = (select max(run_id) from themes"
            " where docket_id = 'CMS-2025-0050')", [tid]).fetchall()]
        assert sum(w in words(t or "") for t in texts) >= 2, f"{label!r} is not a phrase of its theme's comments"


def test_a_label_keeps_its_numbers_and_is_no_verdict_verb_or_piece_of_the_title():
    from comments.analysis.themes import _GENERIC, _phrases, _plain, _specific

    said = _phrases("We support the extension to 24 months for STEM students.")
    assert "extension to 24 months" in said and "extension to months" not in said
    assert not [p for p in said if p.split()[0] == "24" or p.split()[-1] == "24"]
    assert not [p for p in _phrases("We urge ONC to consider a phased approach.") if p.endswith("consider")]
    assert not [p for p in _phrases("They take jobs away from graduates.") if p.endswith("away")]
    clauses = _phrases("NLM should sign the forms, hosted by NLM and optionally by HIMSS.")
    assert "nlm should sign" not in clauses and "nlm and optionally by himss" not in clauses
    title = _plain("Improving and Expanding Training Opportunities for F–1 Nonimmigrant Students")
    assert not _specific("training opportunities for f-1", _GENERIC, title)  # the title's dash is another
    assert _specific("extension to 24 months", _GENERIC, title)
    for phrase in ("good decision", "following reasons", "united states of america", "young people"):
        assert not _specific(phrase, _GENERIC, title), phrase


def test_the_numbers_paragraph_says_none_and_all_in_words():
    """'with the 0 further copies the agency counted' and 'the text of 0 of them could be read' read
    as errors to a staffer; the counts stay exact."""
    from comments.briefing.renderers import numbers_paragraph

    h = {"comments_posted": 22569, "agency_duplicates": 0, "submissions_represented": 22569, "campaign_comments": 2391,
         "campaign_share_pct": 10.6, "campaigns": 400, "unique_texts": 20578, "attachment_substance": 66,
         "attachment_substance_with_text": 0}
    text = numbers_paragraph(h)
    assert text.startswith("22,569 comments are posted; the agency counted no further copies. 2,391 posted comments")
    assert "the text of none of them could be read" in text and " 0 " not in text
    text = numbers_paragraph({**h, "agency_duplicates": 12, "submissions_represented": 22581,
                              "attachment_substance_with_text": 66})
    assert "with the 12 further copies the agency counted, they represent 22,581 submissions" in text
    assert "the text of all of them could be read" in text
    assert "the text of 5 of them" in numbers_paragraph({**h, "attachment_substance_with_text": 5})
    assert numbers_paragraph({**h, "attachment_substance": 0}).endswith("No comment puts its substance in attachments.")


def test_the_form_letter_check_says_how_many_copies_by_opening_sit_in_their_letters_campaign():
    assert campaign_check_line({"letters": 0, "copies": 0, "grouped": 0, "listed": 0, "in_no_campaign": 0}) is None
    assert campaign_check_line({"letters": 12, "copies": 210, "grouped": 210, "listed": 0, "in_no_campaign": 0}) == (
        "Form letters, checked on this docket: 210 comments of 300+ characters open with the same 150 characters as "
        "another comment (12 letters by their opening); 210 (100%) are counted in the campaign that holds most copies "
        "of their letter.")
    line = campaign_check_line({"letters": 256, "copies": 1086, "grouped": 950, "listed": 31, "in_no_campaign": 60})
    assert "950 (87%) are counted in the campaign that holds most copies of their letter, 31 more are listed with it" in line
    assert line.endswith("; 105 are counted elsewhere or in no campaign (60 in none; a comment that kept only a "
                         "letter's opening and wrote the rest is one of them).")

