"""The explorer over HTTP: numbers that link to lists of the same length, search, filters in the
URL, keyset paging, escaping, labels, access control, and pages that keep answering while another
process holds the database. (The same pages in a real browser: test_explorer_browser.py.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from html import unescape

import duckdb
import explorer_fixture as fx
import httpx
import pytest

from comments import records, store
from comments.briefing import gather
from comments.explorer import server
from comments.explorer.app import CSP
from comments.theme_audit import import_audit

DOCKET = fx.DOCKET


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("explorer") / "comments.duckdb")


@pytest.fixture(scope="module")
def explorer(db):
    ex = server.start(db, port=0, poll=0.3)
    _wait_for_index(ex)
    yield ex
    ex.stop()


@pytest.fixture(scope="module")
def http(explorer):
    with httpx.Client(base_url=explorer.base_url, timeout=30) as client:
        yield client


def _wait_for_index(ex, docket=DOCKET, timeout=60):
    deadline = time.monotonic() + timeout
    while ex.manager.status()["index"].get(docket) != "ready":
        assert time.monotonic() < deadline, "the search index was not built"
        time.sleep(0.1)


def _summary(html: str) -> tuple[int, int]:
    m = fx.SUMMARY.search(html)
    assert m, "the list has no summary line"
    return int(m.group(1)), int(m.group(2))


def _all_rows(http, url: str) -> list[str]:
    """Every comment id of a list, following its next links."""
    ids = []
    while url:
        html = http.get(url).text
        ids += fx.ROW.findall(html)
        nxt = fx.NEXT.search(html)
        url = fx.unescape_href(nxt.group(1)) if nxt else None
    return ids


def _q(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


# ---------------------------------------------------------------- numbers


def test_every_number_on_the_docket_page_is_the_briefings_and_links_to_that_many_comments(db, http):
    page = http.get(f"/d/{DOCKET}")
    assert page.status_code == 200
    links = fx.COUNT_LINK.findall(page.text)
    assert len(links) > 40  # headline, stance, campaigns, themes, organizations
    con = store.connect(db, read_only=True)
    try:
        brief = {m["key"]: m["value"] for m in gather(con, DOCKET)["metrics"]}
        themes = {t: (c, u, s) for t, c, u, s in _q(
            con, "select theme_id, comments, unique_texts, submissions from themes where docket_id = ?", DOCKET)}
        campaigns = {k: (n, s) for k, n, s in _q(
            con, "select campaign_id, size, submissions_represented from campaigns where docket_id = ?", DOCKET)}
    finally:
        con.close()
    shown = {metric: int(count) for _, metric, _, count in links if metric}
    for key in ("comments_posted", "submissions_represented", "unique_texts", "campaign_comments",
                "attachment_substance", "attachment_substance_with_text"):
        assert shown[key] == brief[key], key
    # one definition of `not read`: the card's "not read" is the stance table's `not read` comments
    assert shown["attachment_substance_without_text"] == brief["not_read"] > 0
    for stance in ("support", "oppose", "mixed", "unclear"):
        assert shown[f"stance_{stance}_unique_texts"] == brief[f"stance_{stance}_unique_texts"]
        assert shown[f"stance_{stance}_submissions"] == brief[f"stance_{stance}_submissions"]
    for theme_id, (comments, unique, subs) in themes.items():
        assert (shown[f"theme_{theme_id}_comments"], shown[f"theme_{theme_id}_unique_texts"],
                shown[f"theme_{theme_id}_submissions"]) == (comments, unique, subs)
    for campaign_id, (size, subs) in campaigns.items():
        assert (shown[f"campaign_{campaign_id}_size"], shown[f"campaign_{campaign_id}_submissions"]) == (size, subs)
    # and each number leads to a list of exactly that many comments (or submissions); the
    # organization rows (links without a metric name, two per organization, ~270 of them) are
    # sampled: the first 20 links, i.e. the largest organizations
    checked = [link for link in links if link[1]] + [link for link in links if not link[1]][:20]
    for href, metric, measure, count in checked:
        total, submissions = _summary(http.get(fx.unescape_href(href)).text)
        assert (submissions if measure == "submissions" else total) == int(count), (metric, href)


def test_a_campaign_list_holds_exactly_its_members(db, http):
    con = store.connect(db, read_only=True)
    try:
        campaign_id, size = _q(con, "select campaign_id, size from campaigns where docket_id = ? order by size desc limit 1", DOCKET)[0]
        members = {r[0] for r in _q(con, "select comment_id from campaign_members where campaign_id = ?", campaign_id)}
    finally:
        con.close()
    ids = _all_rows(http, f"/d/{DOCKET}/comments?campaign={campaign_id}&per=20")
    assert len(ids) == size == len(set(ids)) and set(ids) == members


# ---------------------------------------------------------------- lists


def test_keyset_pages_visit_every_comment_once_forward_and_back(db, http):
    ids = _all_rows(http, f"/d/{DOCKET}/comments?per=50")
    con = store.connect(db, read_only=True)
    try:
        expected = [r[0] for r in _q(con, """select comment_id from comments where docket_id = ?
            order by coalesce(posted_date, timestamp '1970-01-01') desc, comment_id desc""", DOCKET)]
    finally:
        con.close()
    assert ids == expected
    # from the last page back to the first
    html = http.get(f"/d/{DOCKET}/comments?per=50").text
    while (nxt := fx.NEXT.search(html)):
        html = http.get(fx.unescape_href(nxt.group(1))).text
    last = fx.ROW.findall(html)
    # the page says where it is: its position is counted, not guessed
    assert f"showing {len(expected) - len(last) + 1}–{len(expected)}" in html
    back = []
    while True:
        back = fx.ROW.findall(html) + back
        prev = fx.PREV.search(html)
        if not prev:
            break
        html = http.get(fx.unescape_href(prev.group(1))).text
    assert back == expected


def test_filters_live_in_the_url_and_mean_what_sql_says(db, http):
    con = store.connect(db, read_only=True)
    try:
        theme_id = _q(con, "select theme_id from themes where docket_id = ? and not is_catch_all order by rank limit 1", DOCKET)[0][0]
        expected = {r[0] for r in _q(con, """select a.comment_id from comment_analysis a
            join comment_themes t using (comment_id)
            where a.docket_id = ? and a.stance = 'oppose' and t.theme_id = ?""", DOCKET, theme_id)}
        dated = {r[0] for r in _q(con, """select comment_id from comments where docket_id = ?
            and cast(coalesce(received_date, posted_date) as date) between date '2022-12-01' and date '2022-12-04'""", DOCKET)}
    finally:
        con.close()
    url = f"/d/{DOCKET}/comments?stance=oppose&theme={theme_id}&per=500"
    first = fx.ROW.findall(http.get(url).text)
    assert set(first) == expected and len(first) == len(expected) > 0
    # the same link, loaded again by someone else, shows the same comments
    with httpx.Client(base_url=str(http.base_url)) as other:
        assert fx.ROW.findall(other.get(url).text) == first
    assert set(_all_rows(http, f"/d/{DOCKET}/comments?from=2022-12-01&to=2022-12-04&per=500")) == dated
    # a malformed value is ignored with a note, never an error page
    bad = http.get(f"/d/{DOCKET}/comments?from=yesterday&attachment=maybe&sort=sideways&after=nonsense")
    assert bad.status_code == 200
    assert "is not a date" in bad.text and "filter &#39;attachment&#39; ignored" in bad.text


def test_search_finds_the_phrase_counts_it_and_highlights_it(db, http):
    con = store.connect(db, read_only=True)
    try:
        bodies = _q(con, "select comment_id, body from comment_bodies where docket_id = ?", DOCKET)
    finally:
        con.close()
    phrase = re.compile(r"(?<![^\W_])provider[\W_]+directory(?![^\W_])", re.IGNORECASE)
    expected = {cid for cid, body in bodies if body and phrase.search(body)}
    html = http.get(f"/d/{DOCKET}/comments", params={"q": '"provider directory"', "per": 500}).text
    total, _ = _summary(html)
    ids = fx.ROW.findall(html)
    assert total == len(expected) == len(ids) and set(ids) == expected
    marks = [unescape(m).lower() for m in re.findall(r'<mark class="match">([^<]*)</mark>', html)]
    assert marks and all(re.fullmatch(r"provider[\W_]+directory", m) for m in marks)
    # search and filters combine; the count is of the filtered matches
    opposed = http.get(f"/d/{DOCKET}/comments", params={"q": '"provider directory"', "stance": "oppose", "per": 500}).text
    assert 0 < _summary(opposed)[0] < total


def test_search_with_no_words_is_a_note_not_an_error(http):
    page = http.get(f"/d/{DOCKET}/comments", params={"q": " ;;; "})
    assert page.status_code == 200 and "has no words to look for" in page.text


# ---------------------------------------------------------------- pages


def test_comment_page_marks_the_evidence_and_the_senders_additions(db, http):
    con = store.connect(db, read_only=True)
    try:
        cid, additions = _q(con, """select m.comment_id, m.unique_additions from campaign_members m
            where m.docket_id = ? and len(m.unique_additions) > 0 and not m.is_template order by m.comment_id limit 1""", DOCKET)[0]
        evidence_id, evidence = _q(con, """select l.comment_id, l.stance_evidence from comment_labels l
            join comments c using (comment_id)
            where l.docket_id = ? and l.stance_evidence is not null and length(l.stance_evidence) > 30
              and contains(c.text, l.stance_evidence) order by l.comment_id limit 1""", DOCKET)[0]
    finally:
        con.close()
    page = http.get(f"/d/{DOCKET}/c/{cid}").text
    marked = [" ".join(unescape(m).split()) for m in re.findall(r'<mark class="addition">([^<]*)</mark>', page, re.S)]
    assert any(" ".join(a.split()) in marked for a in additions)
    page = http.get(f"/d/{DOCKET}/c/{evidence_id}").text
    marked = [" ".join(unescape(m).split()) for m in re.findall(r'<mark class="evidence">([^<]*)</mark>', page, re.S)]
    assert " ".join(evidence.split()) in marked
    assert f'href="https://www.regulations.gov/comment/{evidence_id}"' in page


def test_campaign_page_shows_the_template_copies_and_additions(db, http):
    con = store.connect(db, read_only=True)
    try:
        campaign_id, size, template_id = _q(con, """select campaign_id, size, template_comment_id from campaigns
            where docket_id = ? order by size desc limit 1""", DOCKET)[0]
    finally:
        con.close()
    page = http.get(f"/d/{DOCKET}/campaigns/{campaign_id}").text
    assert f'data-metric="campaign_size" data-measure="comments" data-count="{size}"' in page
    assert template_id in page and '<mark class="addition">' in page
    assert http.get(f"/d/{DOCKET}/campaigns/C9999").status_code == 404
    # a comment pasting two letters: counted under one campaign, listed on the other's page with where it is counted
    con = store.connect(db, read_only=True)
    try:
        (home, other), = _q(con, """select m.campaign_id, k.campaign_id from campaign_members m, campaigns k
            where m.comment_id = ? and k.template_comment_id = ?""", fx.COMPOUND_ID, fx.COMPOUND_OF[1])
        also = _q(con, "select campaign_id, comment_id from campaign_also_copies where docket_id = ?", DOCKET)
    finally:
        con.close()
    assert home != other and also == [(other, fx.COMPOUND_ID)]
    page = http.get(f"/d/{DOCKET}/campaigns/{other}").text
    listed = page[page.index('id="also-copies"'):]
    assert f'data-comment="{fx.COMPOUND_ID}"' in listed and f'/campaigns/{home}"' in listed
    assert 'id="also-copies"' not in http.get(f"/d/{DOCKET}/campaigns/{home}").text
    # and the comment's own page says which other letter it copies
    page = http.get(f"/d/{DOCKET}/c/{fx.COMPOUND_ID}").text
    also = page[page.index('class="also-copies"'):]
    assert f'/campaigns/{other}">{other}</a>' in also[: also.index("</p>")]
    assert http.get("/d/NOPE-2020-0001").status_code == 404


def test_campaign_page_pages_through_its_also_copies_and_names_a_longer_letter(explorer, tmp_path, monkeypatch):
    from comments.explorer import pages

    with explorer.manager.use() as snap:  # a copy of the explorer's own snapshot (it holds the page's tables)
        copy = tmp_path / "copy.duckdb"
        shutil.copy(snap.path, copy)
    con = duckdb.connect(str(copy))
    try:
        big, second = [r[0] for r in _q(con, "select campaign_id from campaigns where docket_id = ? "
                                             "order by size desc, campaign_id limit 2", DOCKET)]
        # five members of the second campaign also copy the biggest one's letter; the biggest one's
        # letter sits inside the second's
        ids = [r[0] for r in _q(con, "select comment_id from campaign_members where campaign_id = ? "
                                     "order by comment_id limit 5", second)]
        con.execute("delete from campaign_also_copies")
        con.executemany("insert into campaign_also_copies values (?, ?, ?, 0.5, 'r')", [[DOCKET, big, i] for i in ids])
        con.execute("update campaigns set contained_in = [?] where campaign_id = ?", [second, big])
        monkeypatch.setattr(pages, "ALSO_SHOWN", 2)
        seen, after = [], None
        while True:
            k = pages.campaign_page(con, DOCKET, big, after=None, show_names=False, also_after=after)
            assert len(k["also"]) <= 2 and {r["campaign_id"] for r in k["also"]} == {second}
            seen += [r["comment_id"] for r in k["also"]]
            if not (after := k["also_next"]):
                break
        size = _q(con, "select size from campaigns where campaign_id = ?", second)[0][0]
    finally:
        con.close()
    assert seen == sorted(ids)  # every listed comment once, in id order, over three pages
    assert k["contained_line"] == f"This letter is also part of the longer letter of {second} ({size} copies), counted there."


def test_dockets_page_lists_the_docket_with_its_counts(db, http):
    con = store.connect(db, read_only=True)
    try:
        stored = _q(con, "select count(*) from comments where docket_id = ?", DOCKET)[0][0]
    finally:
        con.close()
    page = http.get("/").text
    row = page[page.index(f'data-docket="{DOCKET}"'):]
    row = row[: row.index("</tr>")]
    assert f'<a href="/d/{DOCKET}/comments">{stored:,}</a>' in row and "not analyzed" not in row


def test_the_docket_page_says_how_far_the_themes_were_audited(db, http, tmp_path):
    page = http.get(f"/d/{DOCKET}").text
    assert "Themes: not audited on this docket" in page
    con = store.connect(db)
    try:
        theme, label = _q(con, "select theme_id, label from themes where docket_id = ? and not is_catch_all "
                               "order by theme_id limit 1", DOCKET)[0]
        members = [r[0] for r in _q(con, "select comment_id from comment_themes where docket_id = ? and theme_id = ? "
                                         "order by comment_id limit 3", DOCKET, theme)]
        audit = tmp_path / "audit.csv"
        audit.write_text("theme_id,theme_label,kind,comment_id,belongs\n" + "".join(
            f"{theme},{label},member,{c},{v}\n" for c, v in zip(members, ("yes", "yes", "no"), strict=True)),
            encoding="utf-8")
        assert import_audit(con, audit).saved == 3
    finally:
        con.close()
    deadline = time.monotonic() + 30
    while "Themes: precision" not in (page := http.get(f"/d/{DOCKET}").text):  # the next snapshot has it
        assert time.monotonic() < deadline, "the explorer never showed the audit"
        time.sleep(0.2)
    assert "Themes: precision 0.67 on 3 audited texts (2 of 3 argue what their theme's label says" in unescape(page)
    row = page[page.index(f'<tr data-theme="{theme}">'):]
    assert "audited: 2 of 3 sampled texts argue what this label says" in row[: row.index("</tr>")]



def test_the_docket_page_carries_the_form_letter_check_of_the_briefing(db, http):
    con = store.connect(db, read_only=True)
    try:
        line = [c for c in gather(con, DOCKET)["caveats"] if c.startswith("Form letters, checked on this docket")]
    finally:
        con.close()
    assert len(line) == 1
    assert f'<p class="sub" id="campaign-check">{line[0]}</p>' in unescape(http.get(f"/d/{DOCKET}").text)


# ---------------------------------------------------------------- hostile text


def test_hostile_comment_is_text_everywhere(http):
    pages = [http.get(f"/d/{DOCKET}/c/{fx.HOSTILE_ID}"), http.get(f"/d/{DOCKET}/c/{fx.XSS_ID}"),
             http.get(f"/d/{DOCKET}/comments", params={"q": "hostilemarkerword"}),
             http.get(f"/d/{DOCKET}/comments", params={"q": "pwned"}),
             http.get(f"/d/{DOCKET}/label", params={"stance": "unclear"})]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        body = page.text
        assert "<script>window" not in body and "<svg onload" not in body and "<img src=x" not in body
        assert 'href="javascript:' not in body and "</textarea></div>" not in body
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e]", body)
        # every script on the page is the explorer's own file
        assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/explorer.js" defer>']
    comment = pages[0].text
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in comment
    assert "\ufffd[31mRED" in comment and "\ufffdoverride" in comment
    assert "javascript:alert(document.cookie)" in comment  # as words, not a link
    assert "hostilemarkerword" in pages[2].text and fx.HOSTILE_ID in pages[2].text


def test_hostile_query_and_path_are_data(http):
    page = http.get(f"/d/{DOCKET}/comments", params={"q": "'; drop table comments; --", "org": "x' or '1'='1"})
    assert page.status_code == 200
    assert _summary(page.text)[0] == 0
    assert http.get(f"/d/{DOCKET}/comments").status_code == 200  # still there
    assert http.get(f"/d/{DOCKET}/c/..%2F..%2Fetc%2Fpasswd").status_code == 404


# ---------------------------------------------------------------- labels


def _csrf(http) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', http.get(f"/d/{DOCKET}/label").text).group(1)


def test_label_posts_need_the_csrf_token_and_json(http):
    body = {"comment_id": f"{DOCKET}-0002", "stance": "oppose"}
    assert http.post(f"/d/{DOCKET}/labels", json=body).status_code == 403
    assert http.post(f"/d/{DOCKET}/labels", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    token = _csrf(http)
    form = http.post(f"/d/{DOCKET}/labels", data=body, headers={"X-CSRF-Token": token})
    assert form.status_code == 415
    bad = http.post(f"/d/{DOCKET}/labels", json={**body, "stance": "furious"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "not one of" in bad.json()["message"]
    assert http.post(f"/d/{DOCKET}/labels", json={**body, "comment_id": "OTHER-1"},
                     headers={"X-CSRF-Token": token}).status_code == 404
    assert http.post(f"/d/{DOCKET}/labels", json={**body, "theme_id": "T999"},
                     headers={"X-CSRF-Token": token}).status_code == 400


def test_a_label_is_stored_in_the_database_and_shown(db, http):
    token = _csrf(http)
    cid = f"{DOCKET}-0010"
    r = http.post(f"/d/{DOCKET}/labels", json={"comment_id": cid, "stance": "mixed"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["status"] == "written"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert _q(con, "select stance, source from analyst_labels where comment_id = ?", cid) == [("mixed", "explorer")]
    finally:
        con.close()
    assert "analyst: mixed" in http.get(f"/d/{DOCKET}/comments", params={"labeled": "yes"}).text


# ---------------------------------------------------------------- another process holds the database

HOLD = ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
        "sys.stdin.readline(); con.close()")


def test_pages_answer_while_another_process_holds_the_database(db, tmp_path):
    path = tmp_path / "held.duckdb"
    shutil.copy(db, path)
    ex = server.start(path, port=0, poll=0.2)
    holder = None
    try:
        with httpx.Client(base_url=ex.base_url, timeout=30) as http:
            assert http.get(f"/d/{DOCKET}").status_code == 200
            holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            assert holder.stdout.readline().strip() == "ready"
            # a new comment lands while the writer holds the file: not visible yet, but nothing fails
            deadline = time.monotonic() + 10
            while ex.manager.status()["writer"] is None:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for url in ("/", f"/d/{DOCKET}", f"/d/{DOCKET}/comments?q=privacy", f"/d/{DOCKET}/c/{DOCKET}-0002",
                        f"/d/{DOCKET}/label"):
                page = http.get(url)
                assert page.status_code == 200, url
                assert f"(process {holder.pid}) is writing to the database" in page.text
            token = re.search(r'name="csrf-token" content="([^"]+)"', http.get(f"/d/{DOCKET}/label").text).group(1)
            r = http.post(f"/d/{DOCKET}/labels", json={"comment_id": f"{DOCKET}-0003", "stance": "support"},
                          headers={"X-CSRF-Token": token})
            assert r.status_code == 200 and r.json()["status"] == "queued"
            assert "labels-queue.jsonl" in r.json()["message"]
            assert "analyst: support" in http.get(f"/d/{DOCKET}/comments", params={"labeled": "yes"}).text
            # the writer finishes: the queued label is written and the view catches up
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
            deadline = time.monotonic() + 20
            while True:
                if not ex.manager.queued_count():
                    con = duckdb.connect(str(path), read_only=True)
                    try:
                        got = _q(con, "select stance from analyst_labels where comment_id = ?", f"{DOCKET}-0003")
                    finally:
                        con.close()
                    if got == [("support",)]:
                        break
                assert time.monotonic() < deadline, "the queued label was not written"
                time.sleep(0.1)
            deadline = time.monotonic() + 10
            while "is writing to the database" in http.get("/").text:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        if holder and holder.poll() is None:
            holder.kill()
            holder.wait()
        ex.stop()


def test_a_sync_after_start_reaches_pages_and_search(db, tmp_path):
    path = tmp_path / "grows.duckdb"
    shutil.copy(db, path)
    ex = server.start(path, port=0, poll=0.2)
    try:
        _wait_for_index(ex)
        con = store.connect(path)
        new = fx.hostile_detail()
        new["data"]["id"] = f"{DOCKET}-9100"
        new["data"]["attributes"].update(comment="A late comment about zebrafish registries.", title="late")
        records.save_comments(con, [new], source="api")
        con.close()
        with httpx.Client(base_url=ex.base_url, timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:
                html = http.get(f"/d/{DOCKET}/comments", params={"q": "zebrafish"}).text
                if f'data-comment="{DOCKET}-9100"' in html:
                    break
                assert time.monotonic() < deadline, "the new comment never reached the search"
                time.sleep(0.2)
            assert "1 stored comments arrived after the last analysis" in http.get(f"/d/{DOCKET}").text
    finally:
        ex.stop()


# ---------------------------------------------------------------- access


def test_with_host_every_request_needs_the_token(db):
    ex = server.start(db, host="127.0.0.1", port=0, poll=5)
    try:
        assert ex.token and ex.url.endswith(f"?token={ex.token}")
        with httpx.Client(base_url=ex.base_url, timeout=30) as http:
            assert http.get("/").status_code == 401
            assert http.get(f"/d/{DOCKET}", params={"token": "wrong"}).status_code == 401
            first = http.get(f"/d/{DOCKET}", params={"token": ex.token})
            assert first.status_code == 303 and first.headers["location"] == f"/d/{DOCKET}"
            assert "httponly" in first.headers["set-cookie"].lower() and "samesite=strict" in first.headers["set-cookie"].lower()
            assert http.get(f"/d/{DOCKET}").status_code == 200  # the cookie now carries it
        with httpx.Client(base_url=ex.base_url, timeout=30) as stranger:
            assert stranger.get(f"/d/{DOCKET}/comments").status_code == 401
    finally:
        ex.stop()


def test_without_host_it_listens_on_loopback_and_refuses_other_host_names(explorer, http):
    assert explorer.base_url.startswith("http://127.0.0.1:") and explorer.token is None
    assert http.get("/", headers={"Host": "evil.example"}).status_code == 421
    assert http.get("/", headers={"Host": "localhost"}).status_code == 200


def test_cli_serve_prints_the_address_and_serves(db, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "comments.cli", "serve", "--db", str(db), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline()
            if m := re.search(r"open (http://127\.0\.0\.1:\d+/)", line):
                url = m.group(1)
                break
        assert url, "serve printed no address"
        assert httpx.get(url, timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    missing = subprocess.run([sys.executable, "-m", "comments.cli", "serve", "--db", str(tmp_path / "none.duckdb")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.startswith("error: no database") and missing.stderr.count("\n") == 1


# ---------------------------------------------------------------- one definition of each filter


def test_a_filter_means_the_same_with_and_without_a_search_query(explorer):
    """Every filter, applied by the search index and by the list's SQL, picks the same comments."""
    from comments import search, search_index
    from comments.explorer import pages
    from comments.filters import Filters

    with explorer.manager.use() as snap:
        cur = snap.cursor()
        try:
            theme = cur.execute("select theme_id from themes where docket_id = ? order by rank limit 1", [DOCKET]).fetchone()[0]
            campaign = cur.execute("select campaign_id from campaigns where docket_id = ? order by size desc limit 1",
                                   [DOCKET]).fetchone()[0]
            org = cur.execute("""select commenter_name from explorer_facets where docket_id = ? and commenter_name is not null
                                 group by 1 order by count(*) desc limit 1""", [DOCKET]).fetchone()[0]
            combos = [
                Filters(), Filters(stance="oppose"), Filters(stance="support", unique=True), Filters(theme=theme),
                Filters(theme=theme, unique=True), Filters(campaign=campaign), Filters(campaign="any"),
                Filters(campaign="none", ctype="individual"), Filters(ctype="organization", org=org),
                Filters(date_from=__import__("datetime").date(2022, 12, 1), date_to=__import__("datetime").date(2022, 12, 5)),
                Filters(attachment="substance"), Filters(attachment="unread"), Filters(attachment="none"),
            ]
            parsed = search.parse_query("the")  # in nearly every comment
            with_word = {r[0] for r in cur.execute(
                r"select comment_id from comment_bodies where docket_id = ? and regexp_matches(lower(body), '(^|[^\p{L}\p{N}])the([^\p{L}\p{N}]|$)')",
                [DOCKET]).fetchall()}
            for f in combos:
                where, params = pages.where_clause(f, DOCKET)
                by_sql = {r[0] for r in cur.execute(f"select comment_id from explorer_facets f where {where}", params).fetchall()}
                result = search_index.query(explorer.manager.index_root, DOCKET, parsed, filters=f, limit=5000)
                by_index = {cid for cid, _ in result.hits}
                assert by_index == by_sql & with_word and result.total == len(by_index), f
                assert by_sql or f.attachment == "unread", f  # every combination selects something to compare
        finally:
            cur.close()


# ---------------------------------------------------------------- pieces


def test_highlights_are_segments_of_plain_text_escaped_by_the_template():
    from comments.explorer.app import make_env
    from comments.explorer.pages import segments

    text = 'a <b onmouseover="x()">bold</b> claim & more'
    segs = segments(text, [(2, 23, "evidence"), (0, 30, "addition")])
    assert "".join(t for t, _ in segs) == text
    assert segs[1] == ('<b onmouseover="x()">', "evidence")  # the first-listed kind wins where they overlap
    macro = make_env().from_string('{% import "_macros.html.j2" as m %}{{ m.segs(s) }}')
    html = macro.render(s=segs)
    assert '<mark class="evidence">&lt;b onmouseover=&#34;x()&#34;&gt;</mark>' in html
    assert "<b " not in html and "&amp; more" in html


def test_filters_from_a_url_and_back():
    from datetime import date

    from comments.filters import Filters

    f, notes = Filters.from_params({"stance": "not read", "from": "2022-12-01", "to": "someday", "unique": "1",
                                    "attachment": "unread", "labeled": "maybe", "theme": "x" * 201})
    assert f == Filters(stance="not read", date_from=date(2022, 12, 1), unique=True, attachment="unread")
    assert len(notes) == 3 and any("'to' ignored" in n for n in notes)
    assert Filters.from_params(f.to_params())[0] == f
    assert f.without("stance", "unique") == Filters(date_from=date(2022, 12, 1), attachment="unread")


def test_dblock_names_the_process_holding_the_file_without_locking_it(tmp_path):
    from comments import dblock

    path = tmp_path / "x.duckdb"
    duckdb.connect(str(path)).close()
    assert dblock.holder(path) is None
    for read_only in (False, True):
        proc = subprocess.Popen([sys.executable, "-c", (
            f"import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only={read_only}); "
            "print('ready', flush=True); sys.stdin.readline()"), str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            assert dblock.holder(path) == proc.pid
            # a reader does not stop a copy (it writes nothing); a writer does
            assert dblock.holder(path, writers_only=True) == (None if read_only else proc.pid)
        finally:
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(timeout=30)
    assert dblock.holder(path) is None and dblock.holder(tmp_path / "missing.duckdb") is None


def test_queued_labels_survive_a_restart_and_are_written_once_the_database_is_free(db, tmp_path):
    from comments import labels
    from comments.explorer.snapshot import SnapshotManager

    path = tmp_path / "q.duckdb"
    shutil.copy(db, path)
    first = SnapshotManager(path)
    first.start(background=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = first.save_label(DOCKET, labels.Label(f"{DOCKET}-0020", "oppose"))
        assert result.status == "queued" and result.holder == holder.pid
        first.save_label(DOCKET, labels.Label(f"{DOCKET}-0020", "support"))  # the later label wins
        first.stop()  # the explorer stops before the writer does
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    second = SnapshotManager(path)
    second.start(background=False)
    try:
        assert second.drain_queue() == 2 and second.queued_count() == 0
    finally:
        second.stop()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert _q(con, "select stance, source from analyst_labels where comment_id = ?", f"{DOCKET}-0020") == [("support", "explorer")]
    finally:
        con.close()


def test_label_mode_shows_the_label_count_and_the_measured_accuracy_when_there_is_one(db, http):
    from comments import labels

    page = http.get(f"/d/{DOCKET}/label").text
    assert "measured stance accuracy: <strong>not measured yet</strong>" in page
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = labels.label_count(con, DOCKET)
    finally:
        con.close()
    assert re.search(r'id="label-count" data-count="(\d+)"', page).group(1) == str(stored)
    # once an analysis records a measured accuracy (a per-docket model here), both pages show it
    # (the explorer reads the database through a refreshed copy: wait until it shows the change)
    con = duckdb.connect(str(db))
    try:
        con.execute(
            """insert into stance_models (docket_id, run_id, method, n_labels, accuracy, accuracy_sd, folds, trained_at)
               values (?, 'test-run', 'model', 120, 0.81, 0.04, 5, now())""", [DOCKET])
    finally:
        con.close()
    try:
        expected = "measured stance accuracy <strong>81%</strong> ± 4 (per-docket model, 5-fold cross-validation grouped by campaign, 120 labels)"
        deadline = time.monotonic() + 30
        while expected not in (page := http.get(f"/d/{DOCKET}/label").text) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert expected in page
        assert "measured accuracy 81% ± 4 (per-docket model, 5-fold cross-validation grouped by campaign, 120 labels)" in http.get(f"/d/{DOCKET}").text
    finally:
        con = duckdb.connect(str(db))
        con.execute("delete from stance_models where run_id = 'test-run'")
        con.close()


def test_started_while_a_writer_holds_the_database_it_waits_or_shows_the_last_copy(db, tmp_path):
    path = tmp_path / "busy.duckdb"
    shutil.copy(db, path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        # no copy yet: a page that waits and reloads itself, not an error
        ex = server.start(path, port=0, poll=0.2)
        try:
            page = httpx.get(ex.base_url + f"d/{DOCKET}", timeout=30)
            assert page.status_code == 200 and "Waiting for the database" in page.text
            assert f"process {holder.pid}" in page.text and 'http-equiv="refresh"' in page.text
        finally:
            ex.stop()
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    first = server.start(path, port=0, poll=0.2)  # free: takes a copy, kept when it stops
    first.stop()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        ex = server.start(path, port=0, poll=0.2)
        try:
            page = httpx.get(ex.base_url + f"d/{DOCKET}", timeout=30)
            assert page.status_code == 200 and "You are seeing" in page.text and "comments posted" in page.text
        finally:
            ex.stop()
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
