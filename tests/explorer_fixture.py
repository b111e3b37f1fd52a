"""The explorer's test docket: the bundled real CMS-2022-0163 (647 comments) analysed by the real
pipeline, plus the briefing's planted comments (an HTML payload, a private name) and one more
hostile comment (control characters, bidirectional overrides, javascript: links, a fake closing
tag), and a running explorer over it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import briefing_fixture as bfx

from comments import records, store
from comments.analysis.pipeline import analyze_docket

DOCKET = bfx.DOCKET
XSS_ID = bfx.XSS_ID
HOSTILE_ID = f"{DOCKET}-9003"
HOSTILE_TEXT = (
    "Bell\x07 and escape \x1b[31mRED\x1b[0m and a right-to-left \u202eoverride\u202c in the text. "
    "</textarea></div><script>window.__pwned=3</script> "
    "<a href=\"javascript:window.__pwned=4\">click me</a> javascript:alert(document.cookie) "
    "<svg onload=\"window.__pwned=5\"></svg> hostilemarkerword"
)
HOSTILE_TITLE = "javascript:window.__pwned=6 <b>title</b>"


def hostile_detail() -> dict:
    template = json.loads(next(iter(sorted((bfx.BASE / "comments").glob("*.json")))).read_text(encoding="utf-8"))
    d = copy.deepcopy(template)
    d["data"]["id"] = HOSTILE_ID
    a = d["data"]["attributes"]
    # the API sends comment text as HTML: typed markup arrives escaped
    a.update(comment=HOSTILE_TEXT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
             title=HOSTILE_TITLE, organization=None, firstName=None, lastName=None, category="Individual",
             receiveDate="2022-11-02T05:00:00Z", duplicateComments=0)
    d.pop("included", None)
    d["data"].get("relationships", {}).pop("attachments", None)
    return d


COMPOUND_ID = f"{DOCKET}-9004"
COMPOUND_OF = (f"{DOCKET}-0150", f"{DOCKET}-0163")  # the big form letter, then a small campaign's letter


def compound_detail() -> dict:
    """A sender who pasted two form letters into one comment (a member of one campaign, listed with the other)."""
    texts = [json.loads((bfx.BASE / "comments" / f"{cid}.json").read_text(encoding="utf-8"))["data"]["attributes"]["comment"]
             for cid in COMPOUND_OF]
    d = hostile_detail()
    d["data"]["id"] = COMPOUND_ID
    d["data"]["attributes"].update(comment="<br/><br/>".join(texts), title="Comment on two letters")
    return d


def build(path: Path, *, sync: bool = False) -> Path:
    """The docket imported from the bundled Mirrulations copy, or (`sync`) synced from the project's
    regulations.gov stand-in on 127.0.0.1 as `comments demo` does; then the planted comments; analysed."""
    con = store.connect(path)
    try:
        if sync:
            _sync(con)
            records.save_comments(con, bfx._details()[-2:], source="api")  # the briefing's two planted ones
        else:
            bfx.load_docket(con)
        records.save_comments(con, [hostile_detail(), compound_detail()], source="mirrulations")
        analyze_docket(con, DOCKET)
        bfx.plant_quotes(con)
    finally:
        con.close()
    return path


def _sync(con) -> None:
    from comments.client import RegulationsClient
    from comments.replay import ReplayServer, Snapshot
    from comments.resources import bundled_mirrulations
    from comments.sync import sync_docket

    with ReplayServer(Snapshot.from_mirrulations(bundled_mirrulations(), DOCKET)) as server:
        client = RegulationsClient("test-key", server.base_url, 1_000_000, sleep=lambda s: None, backoff_base=0.001)
        sync_docket(con, client, DOCKET)


def screenshot_dir() -> Path | None:
    """Where the test run writes the explorer's screenshots: $COMMENTS_SCREENSHOT_DIR/explorer, or
    nowhere. Opt-in, so a test run leaves the checkout as it found it; the pictures in
    docs/explorer/ are refreshed with `COMMENTS_SCREENSHOT_DIR=docs ./run test tests/test_explorer_browser.py`."""
    if os.environ.get("COMMENTS_SCREENSHOT_DIR"):
        return Path(os.environ["COMMENTS_SCREENSHOT_DIR"]) / "explorer"
    return None


def save_screenshot(source: Path, name: str) -> None:
    target = screenshot_dir()
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target / f"{name}.png")


# ---------------------------------------------------------------- reading pages

COUNT_LINK = re.compile(
    r'<a class="count" href="([^"]+)"(?: data-metric="([^"]*)")? data-measure="(comments|submissions)" data-count="([^"]*)">')
SUMMARY = re.compile(r'id="summary" data-total="(\d+)" data-submissions="(\d+)"')
ROW = re.compile(r'<tr class="row" data-comment="([^"]+)">')
NEXT = re.compile(r'<a href="([^"]+)" rel="next" id="next">')
PREV = re.compile(r'<a href="([^"]+)" rel="prev" id="prev">')


def unescape_href(href: str) -> str:
    return href.replace("&amp;", "&")
