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
# Everything that is not a letter or digit separates words (underscore too).
_NON_WORD = re.compile(r"[\W_]+")


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
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text)
    # "Medicare & Medicaid" and "Medicare and Medicaid" are the same words
    text = text.replace("&", " and ")
    text = _NON_WORD.sub(" ", text)
    return text.strip()


def key_of_normalized(normalized: str) -> str:
    """`text_key` of an already-normalized text (saves normalizing twice)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()


def text_key(text: str | None) -> str:
    """Stable hash (blake2b, 16 bytes, hex) of `normalize(text)`: equal keys = exact copies."""
    return key_of_normalized(normalize(text))


# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace, or at a line break. Lines are treated as units because comment
# text keeps list items and paragraphs as lines.
_SENTENCE_END = re.compile(r"""[.!?]+["'’”)\]]*(?=\s)|\n""")
# Abbreviations whose period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "co",
    "corp", "ltd", "no", "u.s", "dept", "gov", "sec", "fig", "al", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}


def sentences(text: str | None) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` into the original text, whitespace trimmed.

    `text[start:end]` is always a verbatim, non-empty substring of `text`.
    """
    if not text:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if match.group() != "\n":
            # "Dr. Smith", "e.g. this": the word before the period is an abbreviation.
            word = text[start:match.start()].rsplit(None, 1)[-1:] or [""]
            token = word[0].lower().lstrip("(\"'“‘")
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
