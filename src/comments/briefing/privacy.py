"""Keeping private individuals' names out of briefings.

A briefing names organizations and government bodies, never private people,
unless the user asks (`--show-names`). Names reach a briefing in two ways:
fields we control (we simply do not print them) and verbatim text, where a
signature ("Sincerely, Jane Doe") can carry one. For text, `NameGuard` knows
every private commenter's first and last name on the docket (and names in
titles like "Comment from Jane Doe") and tells whether a passage contains one,
so exemplar quotes can be chosen among passages that do not, and excerpts
that are not claimed verbatim can be redacted.

Matching is on capitalized forms (as given, Title, UPPER) at word boundaries:
signatures are written that way, and matching lowercase forms would also hit
ordinary words ("will", "young", "care"). The guard errs on the side of
withholding: a capitalized common word that is also someone's name excludes
a quote, which costs a quote, not privacy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[name withheld]"

# Values seen in name fields that are not names.
_NOT_NAMES = {
    "anonymous", "anon", "anonymous anonymous", "n/a", "na", "none", "null", "unknown", "individual",
    "citizen", "concerned", "public", "private", "comment", "comments", "mr", "mrs", "ms", "dr",
    "miss", "the", "and", "for", "from", "not", "provided", "given", "name", "withheld", "see",
    "attached", "on", "of", "jr", "sr", "md", "rn", "phd", "do", "np", "pa",
}
_TITLE_NAME = re.compile(r"^\s*comment\s+(?:from|submitted\s+by|by)\s+(?P<name>.+?)\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


def name_from_title(title: str | None) -> str | None:
    """'Comment from Jane Doe' -> 'Jane Doe'; titles like 'Comment on CMS-...' give None."""
    if not title:
        return None
    m = _TITLE_NAME.match(title)
    if not m:
        return None
    name = m.group("name").split(",")[0].strip()
    return name or None


def _tokens(name: str) -> set[str]:
    out = set()
    for token in _TOKEN.findall(name):
        token = token.strip(".-'’")
        if len(token) < 2 or token.lower() in _NOT_NAMES:
            continue
        out.update({token, token.title(), token.upper()})
    return out


class NameGuard:
    """Tells whether text contains a private individual's name, and redacts it."""

    def __init__(self, names: Iterable[str | None]):
        tokens: set[str] = set()
        for name in names:
            if name:
                tokens |= _tokens(name)
        self.tokens = frozenset(tokens)
        if tokens:
            # longest first so 'Mary-Jane' wins over 'Mary'
            alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w'’-])")
        else:
            self._pattern = None

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> NameGuard:
        """From (first_name, last_name, title) rows of private commenters."""
        names: list[str | None] = []
        for first, last, title in rows:
            names += [first, last, name_from_title(title)]
        return cls(names)

    def contains(self, text: str | None) -> bool:
        return bool(text and self._pattern and self._pattern.search(text))

    def redact(self, text: str | None) -> str | None:
        if not text or not self._pattern:
            return text
        return self._pattern.sub(REDACTED, text)


class NoGuard(NameGuard):
    """What `--show-names` uses: nothing is withheld."""

    def __init__(self):
        super().__init__([])
