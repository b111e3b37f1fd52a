"""Plain text from the HTML fragments regulations.gov puts in comment text.

Only real markup is removed: a tag is stripped when its name is an HTML element
(or a Word tag such as `<o:p>`) and what follows the name is
attributes written `name=value`; comments, doctypes and `<?xml ...?>` go too.
Anything else between angle brackets is the writer's prose and stays: a real
22,567-comment docket had "<General Facts About The Optional Practical Training
Program (OPT): ... a year.>" (a general HTML parser read that as one unknown
tag and dropped 1,069 characters of it), and real CSV rows list codes as
"<<Imaging finding (finding): 365853002". Bare attributes are only HTML's boolean ones (`<td nowrap>`),
so "<I think this is wrong>" is not read as an `<i>` tag.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape

_BLOCK_TAGS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol"}
# Their content is not text a reader sees; skipped up to the closing tag (kept when there is none).
_SKIP_TAGS = {"script", "style", "head", "title"}
HTML_ELEMENTS = (
    "a abbr acronym address area article aside audio b base basefont bdi bdo big blink blockquote body br button "
    "canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt em embed "
    "fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html i iframe img "
    "input ins kbd label legend li link main map mark marquee menu meta meter nav nobr noframes noscript object ol "
    "optgroup option output p param picture pre progress q rp rt ruby s samp script section select small source "
    "span strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title tr "
    "track tt u ul var video wbr"
    # The Government Publishing Office's own markup, left in Federal Register notices' HTML
    # (regulations.gov's content.htm): '<bullet>' opens each bulleted question of an RFI.
    " bullet"
).split()
# Longest first so the alternation never stops at a prefix ('b' before 'br').
# Word's namespaces (o: office, v: VML, w: word, m: math, x: excel, st1: smart tags) and no
# others, so "<Re:Comment>" stays prose.
WORD_TAG = r"(?:o|v|w|m|x|st\d):[a-z]+"
_NAME = "|".join(sorted(HTML_ELEMENTS, key=len, reverse=True)) + "|" + WORD_TAG
# A bare attribute only from HTML's own boolean ones, so prose words never pass for attributes.
_BOOLEAN = "allowfullscreen|async|autoplay|checked|compact|controls|defer|disabled|hidden|loop|multiple|muted|noshade|nowrap|readonly|required|reversed|selected"
_ATTRIBUTE = rf"""\s+(?:[a-z_:][-a-z0-9_:.]*\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+)|(?:{_BOOLEAN})(?=[\s/>]))"""
_MARKUP = re.compile(
    rf"""
    (?P<comment><!--)
    | <!doctype[^<>]*>
    | <\?xml[^<>]*\?>
    | </(?P<end>{_NAME})\s*>
    | <(?P<start>{_NAME})(?:{_ATTRIBUTE})*\s*(?P<selfclose>/?)>
    """,
    # ASCII: tag names fold case only within ASCII ('<ſ>' is prose, not '<s>'), as HTML does
    re.IGNORECASE | re.VERBOSE | re.DOTALL | re.ASCII,
)

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _strip_markup(fragment: str) -> str:
    parts: list[str] = []
    pos = 0
    # Where a closer ('-->', '</script>') was last looked for in vain: it occurs nowhere after,
    # so the next opener does not scan to the end again (quadratic on '<!--' * 50,000).
    missing_after: dict[str, int] = {}

    def closing(closer: str, at: int) -> re.Match | None:
        if missing_after.get(closer, len(fragment) + 1) <= at:
            return None
        found = _closer(closer).search(fragment, at)
        if found is None:
            missing_after[closer] = at
        return found

    while (m := _MARKUP.search(fragment, pos)) is not None:
        parts.append(unescape(fragment[pos : m.start()]))
        pos = m.end()
        start, end = (m.group("start") or "").lower(), (m.group("end") or "").lower()
        if m.group("comment"):
            close = closing("-->", pos)
            if close is None:
                parts.append(m.group())  # no end: not a comment, the characters stay
            else:
                pos = close.end()
        elif start == "br" or end == "br":
            parts.append("\n")
        elif start in _BLOCK_TAGS or end in _BLOCK_TAGS:
            parts.append("\n\n")
        elif start == "td":
            parts.append(" ")
        elif start in _SKIP_TAGS and not m.group("selfclose"):
            close = closing(f"</{start}", pos)
            if close is not None:
                pos = close.end()
    parts.append(unescape(fragment[pos:]))
    return "".join(parts)


@lru_cache(maxsize=8)
def _closer(closer: str) -> re.Pattern:
    return re.compile(re.escape(closer) + (r"\s*>" if closer.startswith("</") else ""), re.IGNORECASE | re.ASCII)


def html_to_text(fragment: str | None) -> str | None:
    """Tags stripped, `<br/>` as newlines, paragraphs as blank lines, entities decoded, NULs dropped.

    Text without markup passes through with only whitespace tidied. Entities
    are decoded exactly once (`&amp;amp;` becomes `&amp;`, as a browser shows it).
    A NUL is never kept: DuckDB, CSV tools and C libraries end strings there.
    """
    if fragment is None:
        return None
    text = fragment.replace("\x00", "")
    if "<" in text or "&" in text:
        text = _strip_markup(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return _MANY_NEWLINES.sub("\n\n", text).strip()
