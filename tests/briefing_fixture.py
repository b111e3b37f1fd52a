"""A real docket with analysis rows filled in by hand, for the briefing tests.

The comments are the bundled real CMS-2022-0163 records saved through
`comments.records`, plus two planted ones (an organization whose name and
text carry HTML payloads, and a private individual whose name is in her
text). The analysis is the real one (`comments.analysis.pipeline`); the only
hand-made rows are the planted comments' quotes (`plant_quotes`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from comments import records, store
from comments.analysis.pipeline import analyze_docket
from comments.resources import DEMO_DOCKET, bundled_mirrulations

DOCKET = DEMO_DOCKET
BASE = bundled_mirrulations() / "raw-data" / "CMS" / DOCKET / f"text-{DOCKET}"

XSS_ID = f"{DOCKET}-9001"
XSS_ORG = '<img src=x onerror="document.title=\'pwned-img\';window.__pwned=1">Acme Privacy Org'
XSS_TEXT = (
    "We strongly support strong privacy protections for this directory. "
    "<script>document.title='pwned-script';window.__pwned=1;alert('x')</script> "
    "Also <img src=x onerror=\"window.__pwned=1\"> and <b>bold</b> &amp; <a href='https://evil.example/'>link</a>."
)
NAMED_ID = f"{DOCKET}-9002"
PRIVATE_FIRST, PRIVATE_LAST = "Quintessa", "Vandermolen"
NAMED_TEXT = (
    "I support the directory because privacy of my records matters to me, "
    "Quintessa Vandermolen, a patient."
)

def _details() -> list[dict]:
    details = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((BASE / "comments").glob("*.json"))]
    template = details[0]
    xss = copy.deepcopy(template)
    xss["data"]["id"] = XSS_ID
    a = xss["data"]["attributes"]
    # The API sends comment text as HTML: a typed "<script>" arrives escaped.
    a.update(comment=XSS_TEXT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
             organization=XSS_ORG, firstName=None, lastName=None, category="Consumer Group",
             receiveDate="2022-11-01T05:00:00Z", duplicateComments=12)
    xss.pop("included", None)
    xss["data"].get("relationships", {}).pop("attachments", None)
    named = copy.deepcopy(xss)
    named["data"]["id"] = NAMED_ID
    named["data"]["attributes"].update(
        comment=NAMED_TEXT, organization=None, firstName=PRIVATE_FIRST, lastName=PRIVATE_LAST,
        category="Individual", title=f"Comment from {PRIVATE_FIRST} {PRIVATE_LAST}", duplicateComments=0,
    )
    return details + [xss, named]


def plant_quotes(con, docket_id: str = DOCKET) -> None:
    """Lead the largest theme's quotes with the two planted comments' words.

    Both are verbatim substrings of those comments, as the analysis's own
    quotes are; this stands in for the analysis happening to pick them, so
    the escaping and privacy tests always have a payload and a name to guard.
    """
    planted = [{"comment_id": NAMED_ID, "quote": NAMED_TEXT},
               {"comment_id": XSS_ID, "quote": XSS_TEXT.split("&amp;")[0].strip()}]
    con.execute(
        """update themes set quotes = list_concat(?::struct(comment_id varchar, quote varchar)[], quotes)
           where docket_id = ? and theme_id = (select theme_id from themes where docket_id = ? and not is_catch_all
                                               order by rank limit 1)""",
        [planted, docket_id, docket_id],
    )


def load_docket(con) -> None:
    """The bundled real docket plus two test comments (an HTML payload, a private name)."""
    records.save_docket(con, json.loads((BASE / "docket" / f"{DOCKET}.json").read_text()), source="mirrulations")
    records.save_documents(con, [json.loads(p.read_text()) for p in sorted((BASE / "documents").glob("*.json"))],
                           source="mirrulations")
    records.save_comments(con, _details(), source="mirrulations")


def build(path: Path, *, analyze: bool = True) -> Path:
    con = store.connect(path)
    try:
        load_docket(con)
        if analyze:
            analyze_docket(con, DOCKET)
            plant_quotes(con)
    finally:
        con.close()
    return path
