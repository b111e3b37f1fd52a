"""Ranked full-text search over comments' effective texts (the `comment_bodies` view).

The index is Tantivy's, one per docket in a folder beside the database
(`comments.search_index` says why and how it stays current: only comments
whose text or analysis changed are re-added). Ranking is Okapi BM25 (k1 1.2,
b 0.75) over the docket's own statistics.

Query syntax: words (all required by default), "quoted phrases" (words
adjacent in that order), -word to exclude. Queries are built from these
parts as index terms, never parsed by the engine's own query language, so
no input can reach another field or change the query's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from comments.errors import InputError

# Letters and digits, Unicode-aware (word characters less underscore): the
# index's tokenizer (Tantivy's default) splits and lower-cases text the same way.
_TOKEN_PY = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class Query:
    """A parsed query: required terms, phrases (each a tuple of terms), excluded terms."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def scoring_terms(self) -> tuple[str, ...]:
        """Every distinct positive term, from words and phrases, in query order."""
        seen: dict[str, None] = {}
        for t in self.terms:
            seen.setdefault(t, None)
        for p in self.phrases:
            for t in p:
                seen.setdefault(t, None)
        return tuple(seen)


@dataclass
class Hit:
    comment_id: str
    score: float
    title: str | None
    posted_date: object
    body_source: str | None
    # The snippet as (text, is_match) segments: renderers style the matches
    # themselves, so no comment text is ever parsed as markup.
    snippet: list[tuple[str, bool]] = field(default_factory=list)
    matches: int = 0

    @property
    def url(self) -> str:
        return f"https://www.regulations.gov/comment/{self.comment_id}"

    def snippet_text(self, mark: tuple[str, str] = ("[", "]")) -> str:
        return "".join(f"{mark[0]}{t}{mark[1]}" if m else t for t, m in self.snippet)


def tokenize(text: str) -> list[str]:
    """Tokens of `text` as the index sees them: runs of letters and digits, lower-cased."""
    return _TOKEN_PY.findall((text or "").lower())


def parse_query(con_or_text, text: str | None = None) -> Query:
    """Split a user's query into terms, "phrases" and -excluded terms."""
    if text is None and isinstance(con_or_text, str):  # parse_query(text); parse_query(con, text) still works
        text = con_or_text
    if text is None or not text.strip():
        raise InputError("empty search query: give one or more words, or a \"quoted phrase\"")
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    # A quoted part is a phrase; an unbalanced quote just ends the phrase at the end.
    for quoted, word in re.findall(r'"([^"]*)"?|(\S+)', text):
        if quoted:
            toks = tokenize(quoted)
            if len(toks) == 1:
                terms.extend(toks)
            elif toks:
                phrases.append(tuple(toks))
        elif word.startswith("-") and len(word) > 1:
            excluded.extend(tokenize(word[1:]))
        else:
            terms.extend(tokenize(word))
    query = Query(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(phrases)), tuple(dict.fromkeys(excluded)))
    if not query.scoring_terms:
        raise InputError(f"search query {text!r} has no words to look for (letters or digits)")
    if len(query.scoring_terms) > MAX_QUERY_TERMS:
        raise InputError(f"search query has more than {MAX_QUERY_TERMS} distinct words; shorten it")
    return query


# Bodies are read with a constant IN list (parameters), which DuckDB pushes into
# the view; a join or a list parameter would evaluate the view for every comment.
_BODY_CHUNK = 500


def effective_texts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, tuple]:
    """{comment_id: (title, posted_date, body_source, body)} for `ids`, read in chunks."""
    out: dict[str, tuple] = {}
    for i in range(0, len(ids), _BODY_CHUNK):
        chunk = ids[i : i + _BODY_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        for cid, title, posted, source, body in con.execute(
            f"""
            select c.comment_id, c.title, c.posted_date, b.body_source, b.body
            from comments c join comment_bodies b using (comment_id)
            where c.comment_id in ({marks}) and b.comment_id in ({marks})
            """,
            chunk + chunk,
        ).fetchall():
            out[cid] = (title, posted, source, body)
    return out


def update_index(con: duckdb.DuckDBPyConnection, docket_id: str, *, root: Path | None = None, wait: float = 10.0) -> dict[str, int]:
    """Bring the docket's index (beside the database) in line with its comments; re-index only what changed.

    Returns {"indexed": comments (re)indexed, "removed": comments dropped,
    "total": comments in the index with text}.
    """
    from comments import search_index

    return search_index.update(con, docket_id, root=root, wait=wait)


def search(
    con: duckdb.DuckDBPyConnection,
    docket_id: str,
    query: str,
    *,
    limit: int = 20,
    require_all: bool = True,
    snippet_chars: int = 240,
    refresh: bool = True,
    root: Path | None = None,
) -> list[Hit]:
    """The comments of `docket_id` that best match `query`, best first (BM25), with snippets.

    `require_all`: every word and phrase must occur (otherwise any word will do,
    phrases are still required). `refresh` brings the index up to date first;
    when another process is updating it, the index as it stands is searched.
    """
    from comments import search_index

    if limit < 1:
        raise InputError("--limit must be at least 1")
    parsed = parse_query(query)
    if not con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchone()[0]:
        raise InputError(f"no comments for docket {docket_id} in this database: run `comments sync {docket_id}` first")
    root = root or search_index.root_of(con)
    if refresh or not search_index.exists(root, docket_id):
        try:
            update_index(con, docket_id, root=root)
        except search_index.IndexBusy:
            if not search_index.exists(root, docket_id):
                raise InputError(
                    f"the search index of {docket_id} is being built by another process; try again in a moment"
                ) from None
        except OSError as exc:  # the index lives beside the database (the database itself is only read)
            raise InputError(
                f"cannot write the search index in {root} ({exc.strerror or exc}): make that folder writable "
                "or copy the database to one that is"
            ) from None
    result = search_index.query(root, docket_id, parsed, require_all=require_all, limit=limit)
    ids = [cid for cid, _ in result.hits]
    texts = effective_texts(con, ids)
    hits: list[Hit] = []
    for comment_id, score in result.hits:
        if comment_id not in texts:  # gone since the index was written
            continue
        title, posted, source, body = texts[comment_id]
        body = body or ""
        hits.append(
            Hit(
                comment_id=comment_id,
                score=float(score),
                title=title,
                posted_date=posted,
                body_source=source,
                snippet=make_snippet(body, parsed, width=snippet_chars),
                matches=count_matches(body, parsed),
            )
        )
    return hits


def count_matches(body: str, query: Query) -> int:
    """How many of the body's words are words of the query (each occurrence counts)."""
    wanted = set(query.scoring_terms)
    return sum(1 for m in _TOKEN_PY.finditer(body or "") if m.group(0).lower() in wanted)


def _phrase_regex(phrase: tuple[str, ...]) -> re.Pattern:
    sep = r"[\W_]+"
    return re.compile(r"(?<![^\W_])" + sep.join(re.escape(t) for t in phrase) + r"(?![^\W_])", re.IGNORECASE)


def _match_spans(text: str, query: Query) -> list[tuple[int, int, int]]:
    """(start, end, weight) of every phrase occurrence (weight 3) and loose term (weight 1)."""
    spans = [(m.start(), m.end(), 3) for p in query.phrases for m in _phrase_regex(p).finditer(text)]
    covered = [(s, e) for s, e, _ in spans]
    wanted = set(query.terms) if query.phrases else set(query.scoring_terms)
    for m in _TOKEN_PY.finditer(text):
        if m.group(0).lower() in wanted and not any(s <= m.start() < e for s, e in covered):
            spans.append((m.start(), m.end(), 1))
    return sorted(spans)


def make_snippet(body: str, query: Query, *, width: int = 240) -> list[tuple[str, bool]]:
    """The `width`-character window of `body` with the most query hits, as segments.

    Returns (text, is_match) pairs; whitespace is collapsed; "…" marks cuts.
    Phrases are highlighted whole and weigh more than loose words.
    """
    text = " ".join(body.split())
    spans = _match_spans(text, query)
    start = 0
    if spans:
        # Slide a window over the hits; keep the one covering the most weight.
        best, best_weight, j, weight = spans[0][0], -1, 0, 0
        for s, _, w in spans:
            while j < len(spans) and spans[j][1] <= s + width:
                weight += spans[j][2]
                j += 1
            if weight > best_weight:
                best, best_weight = s, weight
            weight -= w
        start = max(0, best - width // 4)
        if len(text) <= width:
            start = 0
        elif start > 0:  # begin at a word boundary
            space = text.rfind(" ", 0, start)
            if space < 0:
                start = 0
            elif start - space < 30:
                start = space + 1
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start + width // 2:
            end = space
    segments: list[tuple[str, bool]] = []
    if start > 0:
        segments.append(("… ", False))
    pos = start
    for s, e, _ in spans:
        if s < pos or e > end:
            continue
        if s > pos:
            segments.append((text[pos:s], False))
        segments.append((text[s:e], True))
        pos = e
    if pos < end:
        segments.append((text[pos:end], False))
    if end < len(text):
        segments.append((" …", False))
    return segments
