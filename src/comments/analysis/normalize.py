"""Text normalization shared by every analysis step.

`normalize` is the exact-copy key: two comments whose normalized texts are
equal are the same text for counting purposes (case, whitespace, HTML
entities and punctuation do not make a comment different). `sentences`
returns spans into the ORIGINAL text, so anything quoted from a comment is a
verbatim substring of it.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

# Apostrophes inside words are dropped ("don't" -> "dont", "patient’s" -> "patients")
# so that straight and curly quotes give the same key.
_APOSTROPHES = re.compile(r"['’‘ʼ`´]")
# Non-ASCII characters that are not letters or digits separate words; ASCII
# ones are mapped to spaces by a byte table (much faster than a regex).
_NON_ASCII_NON_WORD = re.compile(r"[^\x00-\x7f\w]+")
_ASCII_TO_SPACE = bytes(c if (chr(c).isalnum() or c >= 128) else 32 for c in range(256))


def unescape_entities(text: str) -> str:
    """HTML entities decoded, repeatedly, so double-escaped `&amp;amp;` also becomes `&`."""
    for _ in range(4):  # bounded: a few levels is all real data has
        if "&" not in text:
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def normalize(text: str | None) -> str:
    """Case-folded, entities decoded, `&` read as "and", punctuation removed, whitespace collapsed.

    The result is a space-separated sequence of words: the exact-copy key and
    the token stream for near-copy detection.
    """
    if not text:
        return ""
    text = unescape_entities(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if "'" in text or "`" in text or not text.isascii():
        text = _APOSTROPHES.sub("", text)
    # "Medicare & Medicaid" and "Medicare and Medicaid" are the same words
    text = text.replace("&", " and ")
    if not text.isascii():
        text = _NON_ASCII_NON_WORD.sub(" ", text)
    return " ".join(text.encode("utf-8").translate(_ASCII_TO_SPACE).decode("utf-8").split())


def key_of_normalized(normalized: str) -> str:
    """`text_key` of an already-normalized text (saves normalizing twice)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()


def text_key(text: str | None) -> str:
    """Stable hash (blake2b, 16 bytes, hex) of `normalize(text)`: equal keys = exact copies."""
    return key_of_normalized(normalize(text))


# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace, or at a line break. Lines are treated as units because comment
# text keeps list items and paragraphs as lines. A period after an
# abbreviation ("Dr.", "e.g.") or a single letter ("J. Smith") ends nothing;
# the lookbehinds run only after a period matched, so the scan stays fast.
_ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "co",
    "corp", "ltd", "no", "u.s", "dept", "gov", "sec", "fig", "al", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
)

def _not_after(words) -> str:
    """Lookbehinds that refuse a period right after one of `words` (grouped by length: fixed width)."""
    by_length: dict[int, list[str]] = {}
    for word in words:
        by_length.setdefault(len(word.replace("\\", "")) if word != r"[^\W\d_]" else 1, []).append(word)
    parts = []
    for options in by_length.values():
        group = "(?:" + "|".join(options) + ")"
        parts.append(rf"(?<![\s(\"“]{group}\.)(?<!^{group}\.)")
    return "".join(parts)


_NOT_AFTER = _not_after([*(re.escape(a) for a in _ABBREVIATIONS), r"[^\W\d_]"])
_SENTENCE_END = re.compile(rf"""(?:\.{_NOT_AFTER}|[!?])[.!?]*["'’”)\]]*(?=\s)|\n""", re.IGNORECASE)


def sentences(text: str | None) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` into the original text, whitespace trimmed.

    `text[start:end]` is always a verbatim, non-empty substring of `text`.
    """
    if not text:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for end in [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        piece = text[start:end]
        trimmed = piece.strip()
        if trimmed:
            first = start + len(piece) - len(piece.lstrip())
            spans.append((first, first + len(trimmed)))
        start = end
    return spans
