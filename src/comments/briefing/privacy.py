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

But not at any cost: name fields are free text. Real titles read "Comment
Submitted by Shar in Minneapolis", "Anonymous (An American)", "A practical
Peeson" (ICEB-2015-0002), and guarding "in", "An", "American" and "Practical"
turned a template into "Optional [name withheld] Training ... stay [name
withheld] the country". So function words and words that describe rather
than name ("American", "Citizen", "Taxpayer") are never name tokens; a name in
a title that starts "Anonymous" is a pseudonym, not a name; and in a title,
a lowercase word beside capitalized ones is free text ("in", "practical"),
while a wholly lowercase title name ("jane doe") is still a name.

And a word many commenters use is not identifying, whoever also wears it as a
name: on ICEB-2015-0002, titles named "STEM STEM" and "love america", and
"STEM" and "America" are in 8,883 and 2,952 of its comments, so every quote
of two themes was withheld. With `is_common` (the briefing asks the
database: is the word in at least max(20, 0.2%) of the docket's comments?),
such a word alone neither withholds a quote nor is redacted. A person's
first and last name together ("John Smith") always are, however common
each word is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

REDACTED = "[name withheld]"

# Values seen in name fields that are not names.
_NOT_NAMES = {
    "anonymous", "anon", "anonymous anonymous", "n/a", "na", "none", "null", "unknown", "individual",
    "citizen", "concerned", "public", "private", "comment", "comments", "mr", "mrs", "ms", "dr",
    "miss", "the", "and", "for", "from", "not", "provided", "given", "name", "withheld", "see",
    "attached", "on", "of", "jr", "sr", "md", "rn", "phd", "do", "np", "pa",
}
# Words that are never a name token, whatever field they come in: function words (not "will",
# "may", "bill", "mark": those are names too) and words people use to describe themselves.
_NEVER_NAMES = {
    "a", "an", "the", "in", "at", "by", "to", "as", "is", "it", "or", "if", "so", "no", "yes", "but", "nor",
    "with", "into", "onto", "over", "under", "about", "after", "before", "near", "via", "per", "than", "then",
    "this", "that", "these", "those", "who", "what", "which", "whom", "my", "me", "we", "us", "our", "you",
    "your", "he", "she", "him", "his", "her", "they", "them", "their", "its", "be", "am", "are", "was",
    "were", "has", "have", "had", "all", "any", "some", "very", "just", "also", "here", "there", "up", "out",
    "american", "americans", "citizen", "citizens", "taxpayer", "voter", "resident", "worker", "workers",
    "student", "students", "parent", "mother", "father", "mom", "dad", "grandmother", "grandfather",
    "nurse", "doctor", "physician", "patient", "veteran", "teacher", "engineer", "retired", "registered",
    "upset", "real", "proud", "true", "usa",
}
_TITLE_NAME = re.compile(r"^\s*comment\s+(?:from|submitted\s+by|by)\s+(?P<name>.+?)\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


def _alternation(tokens: set[str]) -> re.Pattern | None:
    if not tokens:
        return None
    # longest first so 'Mary-Jane' wins over 'Mary'
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    return re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w'’-])")


def name_from_title(title: str | None) -> str | None:
    """'Comment from Jane Doe' -> 'Jane Doe'; titles like 'Comment on CMS-...' give None."""
    if not title:
        return None
    m = _TITLE_NAME.match(title)
    if not m:
        return None
    name = m.group("name").split(",")[0].strip()
    return name or None


def _tokens(name: str, *, from_title: bool = False) -> set[str]:
    """The forms of a name's words to guard. `from_title`: the name was cut from a free-text title."""
    words = [t.strip(".-'’") for t in _TOKEN.findall(name)]
    if from_title and words and words[0].lower() in ("anonymous", "anon"):
        return set()  # "Anonymous (Upset American)": a pseudonym, not a name
    capitalized = any(w[:1].isupper() for w in words)
    out = set()
    for token in words:
        if len(token) < 2 or token.lower() in _NOT_NAMES or token.lower() in _NEVER_NAMES:
            continue
        if from_title and capitalized and token.islower():
            continue  # "Shar in Minneapolis", "A practical Peeson": free text beside the name
        out.update({token.title(), token.upper()})
        if not from_title or not token.islower():
            out.add(token)  # as given: a name field in lowercase may be signed in lowercase
    return out


class NameGuard:
    """Tells whether text contains a private individual's name, and redacts it."""

    def __init__(self, names: Iterable[str | None], title_names: Iterable[str | None] = (), *,
                 full_names: Iterable[tuple[str, str]] = (), is_common: Callable[[str], bool] | None = None):
        tokens: set[str] = set()
        for name in names:
            if name:
                tokens |= _tokens(name)
        for name in title_names:
            if name:
                tokens |= _tokens(name, from_title=True)
        self.tokens = frozenset(tokens)
        self._pattern = _alternation(tokens)
        # a person's first and last name together (lowercase pairs): guarded however common each word is
        self._pairs: set[tuple[str, str]] = set()
        for first, last in full_names:
            if _tokens(first or "") and _tokens(last or ""):
                self._pairs.add((first.strip(".-'’").lower(), last.strip(".-'’").lower()))
        self._is_common = is_common
        self._common: dict[str, bool] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[tuple], is_common: Callable[[str], bool] | None = None) -> NameGuard:
        """From (first_name, last_name, title) rows of private commenters."""
        names: list[str | None] = []
        titles: list[str | None] = []
        full: list[tuple[str, str]] = []
        for first, last, title in rows:
            names += [first, last]
            from_title = name_from_title(title)
            titles.append(from_title)
            if first and last:
                full.append((first, last))
            words = _TOKEN.findall(from_title or "")
            full += list(zip(words, words[1:], strict=False))
        return cls(names, titles, full_names=full, is_common=is_common)

    def _common_word(self, token: str) -> bool:
        if self._is_common is None:
            return False
        if token not in self._common:
            self._common[token] = bool(self._is_common(token))
        return self._common[token]

    def _guarded(self, text: str) -> list[tuple[int, int]]:
        """Spans of `text` to withhold: name words that are not common, and first-last pairs."""
        if not self._pattern:
            return []
        found = list(self._pattern.finditer(text))
        paired: set[int] = set()
        for k, (x, y) in enumerate(zip(found, found[1:], strict=False)):
            if text[x.end():y.start()].isspace() and (x.group(0).lower(), y.group(0).lower()) in self._pairs:
                paired.update((k, k + 1))
        return [(m.start(), m.end()) for k, m in enumerate(found) if k in paired or not self._common_word(m.group(0))]

    def contains(self, text: str | None) -> bool:
        return bool(text) and bool(self._guarded(text))

    def redact(self, text: str | None) -> str | None:
        if not text:
            return text
        out, at = [], 0
        for start, end in self._guarded(text):
            out += [text[at:start], REDACTED]
            at = end
        return "".join(out) + text[at:]


def shown_title(title: str | None, commenter_type: str | None, show_names: bool) -> str | None:
    """A comment's title with a private sender's name ("Comment from Jane Doe") withheld; an
    organization's or government's title as it is."""
    if show_names or not title or commenter_type in ("organization", "government"):
        return title
    name = name_from_title(title)
    return title.replace(name, REDACTED) if name else title


class NoGuard(NameGuard):
    """What `--show-names` uses: nothing is withheld."""

    def __init__(self):
        super().__init__([])
