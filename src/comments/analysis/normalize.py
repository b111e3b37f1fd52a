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

import numpy as np

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


def _normalize_full(text: str) -> str:
    """The definition of `normalize` (every step, for any text); the fast paths must agree with it."""
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


# Non-ASCII punctuation common in real comments, and what `_normalize_full` makes of it
# in any ASCII context: curly apostrophes are dropped, the rest separate words. None of
# them composes with a neighbour under NFKC, so replacing them first and taking the ASCII
# path gives the same words (tests check each one against `_normalize_full`).
_DROPPED = "’‘ʼ"
_SEPARATORS = "—“”•–≥≤…  ‑⸻●§‐‬‭​   «»·°‒―″′‚„‎‏﻿"
# ASCII: letters and digits lower-cased, apostrophes dropped, everything else a space.
_ASCII_WORDS = bytes(
    (c | 0x20 if 65 <= c <= 90 else c) if chr(c).isalnum() else 32 for c in range(128)
) + bytes(range(128, 256))


def _words_bytes(text: str) -> bytes:
    """UTF-8 normalized words of `text`, separated by runs of spaces (not yet collapsed)."""
    original = text
    if "&" in text:
        text = unescape_entities(text)
    if not text.isascii():
        for ch in _DROPPED:
            if ch in text:
                text = text.replace(ch, "")
        for ch in _SEPARATORS:
            if ch in text:
                text = text.replace(ch, " ")
        if not text.isascii():  # letters beyond ASCII, rare symbols: every step, the slow way
            return _normalize_full(original).encode("utf-8")
    if "&" in text:
        text = text.replace("&", " and ")
    return text.encode("ascii").translate(_ASCII_WORDS, b"'`")


def normalize(text: str | None) -> str:
    """Case-folded, entities decoded, `&` read as "and", punctuation removed, whitespace collapsed.

    The result is a space-separated sequence of words: the exact-copy key and
    the token stream for near-copy detection.
    """
    if not text:
        return ""
    return " ".join(_words_bytes(text).decode("utf-8").split())


def normalize_many(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`normalize` of many texts at once, as UTF-8 in one buffer: (buffer, starts, ends).

    `buffer[starts[i]:ends[i]]` is `normalize(texts[i]).encode()`; every text is
    followed by a newline (which no normalized text contains), so words are the
    runs between spaces and newlines. Whitespace is collapsed for all texts in
    one vectorized pass instead of a split and join per text.
    """
    if not texts:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(b"\n".join([_words_bytes(t).strip(b" ") if t else b"" for t in texts]) + b"\n",
                        dtype=np.uint8)
    # texts are stripped, so collapsing is dropping every space followed by another
    keep = raw != 32
    keep[:-1] |= raw[1:] != 32
    buf = raw[keep]
    ends = np.flatnonzero(buf == 10)
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    return buf, starts, ends


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
