"""The explorer in real headless Chromium: one server and one browser for the module, over the
demo docket synced from the project's regulations.gov stand-in and analysed.

Follows a campaign's count to its list, searches a phrase, filters and shares the URL, labels
five comments with key presses, and opens hostile comments. Each test also checks that the page
ran no script but the explorer's own and asked nothing of any host but the explorer (it works
offline). The screenshots in docs/explorer/ are taken here when asked:
`COMMENTS_SCREENSHOT_DIR=docs ./run test tests/test_explorer_browser.py`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import duckdb
import explorer_fixture as fx
import pytest

from comments.explorer import server

DOCKET = fx.DOCKET
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    db = fx.build(tmp_path_factory.mktemp("explorer-browser") / "comments.duckdb", sync=True)
    ex = server.start(db, port=0, poll=0.3)
    import time

    deadline = time.monotonic() + 60
    while ex.manager.status()["index"].get(DOCKET) != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            try:
                yield {"db": db, "ex": ex, "browser": browser, "shots": tmp_path_factory.mktemp("shots")}
            finally:
                browser.close()
    finally:
        ex.stop()


class Watched:
    """A page with everything it did recorded: console lines, errors, dialogs, requested hosts."""

    def __init__(self, env):
        self.base = env["ex"].base_url.rstrip("/")
        self.context = env["browser"].new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.console, self.errors, self.dialogs, self.hosts = [], [], [], set()
        self.page.on("console", lambda m: self.console.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.hosts.add(urlparse(r.url).netloc))
        self.shots = env["shots"]

    def goto(self, path: str):
        self.page.goto(self.base + path, wait_until="load")

    def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        fx.save_screenshot(path, name)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [] and self.dialogs == [] and self.console == []
        assert self.hosts <= {urlparse(self.base).netloc}, f"requests left the explorer: {self.hosts}"

    def rows(self) -> list[str]:
        return self.page.eval_on_selector_all("tr.row", "rs => rs.map(r => r.dataset.comment)")


@pytest.fixture
def web(env):
    w = Watched(env)
    yield w
    w.close()


def test_a_campaigns_count_leads_to_that_many_rows(web):
    web.goto("/")
    web.shot("dockets")
    web.page.click(f'a[href="/d/{DOCKET}"] >> nth=0')
    web.page.wait_for_url(f"**/d/{DOCKET}")
    web.shot("docket")
    link = web.page.locator('#campaigns a.count[data-measure="comments"]').first
    count = int(link.get_attribute("data-count"))
    assert count > 50  # the largest campaign spans several pages
    link.click()
    web.page.wait_for_url("**/comments?campaign=*")
    assert int(web.page.get_attribute("#summary", "data-total")) == count
    seen = []
    while True:
        seen += web.rows()
        nxt = web.page.locator("#next")
        if not nxt.count():
            break
        nxt.click()
        web.page.wait_for_load_state("load")
    assert len(seen) == len(set(seen)) == count


def test_search_highlights_the_phrase_and_follows_the_typing(web):
    web.goto(f"/d/{DOCKET}/comments")
    web.page.fill("#q", '"provider directory"')
    web.page.press("#q", "Enter")
    web.page.wait_for_url("**q=*")
    marks = web.page.eval_on_selector_all("#list mark.match", "ms => ms.map(m => m.textContent)")
    assert marks and all(re.fullmatch(r"provider\W+directory", m, re.IGNORECASE) for m in marks)
    total = int(web.page.get_attribute("#summary", "data-total"))
    web.shot("comments")
    # the list follows the search box as you type (no submit)
    web.page.fill("#q", '"provider directory" -privacy')
    web.page.wait_for_function(
        "t => { const s = document.getElementById('summary'); return s && Number(s.dataset.total) < t; }", arg=total)
    assert "-privacy" in parse_qs(urlparse(web.page.url).query)["q"][0]


def test_filters_by_stance_and_theme_make_a_link_to_share(env, web):
    web.goto(f"/d/{DOCKET}/comments")
    with web.page.expect_navigation():
        web.page.select_option("select[name=stance]", "oppose")
    theme = web.page.eval_on_selector("select[name=theme] option:nth-child(2)", "o => o.value")
    with web.page.expect_navigation():
        web.page.select_option("select[name=theme]", theme)
    with web.page.expect_navigation():
        web.page.select_option("select[name=per]", "500")
    query = parse_qs(urlparse(web.page.url).query)
    # the link says what it filters and nothing else
    assert query == {"stance": ["oppose"], "theme": [theme], "per": ["500"]}
    rows = web.rows()
    assert rows and int(web.page.get_attribute("#summary", "data-total")) == len(rows)
    other = Watched(env)  # someone else opens the shared link
    try:
        other.page.goto(web.page.url, wait_until="load")
        assert other.rows() == rows
        assert other.page.eval_on_selector("select[name=stance]", "s => s.value") == "oppose"
    finally:
        other.close()


def test_comment_and_campaign_pages(env, web):
    con = duckdb.connect(str(env["db"]), read_only=True)
    try:
        cid, campaign_id = con.execute("""select comment_id, campaign_id from campaign_members
            where docket_id = ? and len(unique_additions) > 0 and not is_template
            order by len(unique_additions) desc, comment_id limit 1""", [DOCKET]).fetchone()
    finally:
        con.close()
    web.goto(f"/d/{DOCKET}/c/{cid}")
    assert web.page.locator("#comment-text mark.addition").count() > 0
    web.shot("comment")
    web.page.click(f'a[href="/d/{DOCKET}/campaigns/{campaign_id}"] >> nth=0')
    web.page.wait_for_url(f"**/campaigns/{campaign_id}")
    assert web.page.locator("table.members tr[data-comment]").count() > 0
    web.shot("campaign")


def test_five_key_presses_label_five_comments_in_the_store(env, web):
    web.goto(f"/d/{DOCKET}/label?campaign=none")
    before = int(web.page.get_attribute("#label-count", "data-count"))
    keys = ["s", "o", "m", "u", "o"]
    stances = {"s": "support", "o": "oppose", "m": "mixed", "u": "unclear"}
    labeled = []
    for i, key in enumerate(keys):
        cid = web.page.get_attribute("article.card.current", "data-comment")
        web.page.keyboard.press(key)
        try:
            web.page.wait_for_function("t => document.getElementById('label-count').textContent === t",
                                       arg=f"{before + i + 1:,}", timeout=10_000)
        except Exception:
            raise AssertionError(web.page.inner_text("#label-message") + " | " + web.page.inner_text("#label-count")) from None
        labeled.append((cid, stances[key]))
    web.shot("label")
    con = duckdb.connect(str(env["db"]), read_only=True)
    try:
        stored = con.execute(
            f"select comment_id, stance from analyst_labels where source = 'explorer' and comment_id in ({', '.join('?' for _ in labeled)})",
            [c for c, _ in labeled]).fetchall()
    finally:
        con.close()
    assert sorted(stored) == sorted(labeled) and len({c for c, _ in labeled}) == 5


def test_hostile_comments_render_as_text(web):
    for cid in (fx.HOSTILE_ID, fx.XSS_ID):
        web.goto(f"/d/{DOCKET}/c/{cid}")
        web.page.wait_for_timeout(200)  # let any onerror or onload handler fire
        assert web.page.evaluate("() => window.__pwned === undefined")
        assert "pwned" not in web.page.title()
        assert web.page.evaluate("() => document.querySelectorAll('#comment-text *:not(mark)').length") == 0
        assert web.page.evaluate("() => Array.from(document.scripts).map(s => s.src)") == [web.base + "/static/explorer.js"]
    text = web.page.inner_text("#comment-text")
    assert "<script>document.title='pwned-script'" in text and '<img src=x onerror="window.__pwned=1">' in text
    web.goto(f"/d/{DOCKET}/c/{fx.HOSTILE_ID}")
    text = web.page.inner_text("#comment-text")
    assert "<script>window.__pwned=3</script>" in text and '<a href="javascript:window.__pwned=4">click me</a>' in text
    assert "\x1b" not in text and "\u202e" not in text
    assert web.page.evaluate("() => document.querySelectorAll('a[href^=\"javascript:\"]').length") == 0
