"""Form-letter campaigns: exact copies and near copies of one template.

How it works (and why; see the last section of DESIGN.md):

1. Exact copies first. Texts are grouped by `text_key` (normalized: case,
   entities, punctuation, whitespace). Most copies of a campaign are exact, so
   the expensive step runs over unique texts only.
2. Shared passages, not global similarity. Real campaign copies keep the
   opening, drop some paragraphs, reorder, truncate, and add their own text, so
   two copies can be far apart in Jaccard terms while sharing long identical
   runs of words. Each unique text is cut into word k-grams ("shingles",
   hashed to uint64 with numpy); a content-defined sample of them (hash mod m
   == 0, the "anchors") is kept, so two texts sharing a passage share the
   same anchors wherever the passage sits in each text.
   Speed: the unique texts are normalized into ONE UTF-8 buffer (in canonical
   order), words are found and hashed there with vectorized numpy passes (no
   Python string per word), and the k-gram hashes are computed once and reused
   by the exact check of step 6. The numpy-heavy loops (hashing, the exact
   check) run on two threads.
3. Candidate pairs come from an inverted index built by sorting the anchors.
   A posting list is never enumerated pairwise when it is long: each text is
   linked to the first few texts of the list (the texts most likely to be the
   template: most exact copies, then longest), and to every other text only in
   short lists. A campaign of 10,000 unique variants therefore costs ~10,000 x R
   links per anchor, not 50 million pairs.
4. Shared anchors per pair, divided by the anchors of the shorter text,
   estimate the containment of the shorter text in the longer one; pairs
   within sampling error of the threshold become candidate edges. With
   `stance_of`, an edge between a text judged `support` and one judged
   `oppose` is dropped, so a campaign cannot swallow its opposite.
5. Star clustering, not transitive closure: centers are chosen in order of
   centrality (exact copies plus the weighted closeness of their neighbours)
   and every other text joins the adjacent center it is closest to. Every
   member is directly similar to its template, so a stock phrase shared along
   a chain cannot glue unrelated letters together.
6. Each member is then checked exactly against its template on all k-grams
   (vectorized over all members at once): the share of the member's words
   inside passages shared with the template is its similarity, and the
   thresholds are applied to it. Members that fail are clustered again among
   the texts not yet placed (a few rounds).
7. Unique additions: the member's sentences whose words are mostly outside the
   shared passages (and that do not occur in the template word for word),
   sliced verbatim from the member's own text. Batched over all members of a
   round: members without a run of new words are skipped outright, and for the
   others word starts, the lines around the new words and the sentence split
   are computed once over one concatenated string (results are those of the
   per-text `_additions`, which stays the definition and the fallback).
8. Damaged copies (`_rescue`): text extracted from PDFs and web forms loses
   spaces between words ("supportthe"), breaks words across lines
   ("gov-\nernment") and glues line ends, so few of its 8-word passages are
   intact. Texts left out that the anchor index links to a campaign (rejected
   members, and near misses sharing a couple of anchors), and campaigns whose
   template is itself a damaged copy of a larger campaign's template (copies
   damaged alike group together; templates are linked on character anchors
   too), are judged again against the template on character 32-grams of the
   text with its spaces removed, with the same containment thresholds counted
   in characters, and accepted when the words pass or when damage explains
   the difference (characters find clearly more than words). A cheap estimate
   on sampled character anchors comes first, and only texts with more long
   (glued) words than their template, and not a fraction of its size, are
   looked at. On `benchmarks/campaign_recall.py` this took recall of damaged
   copies from 0.78 to 1.00 (damaged and personalised: 0.63 to 0.94) at equal
   precision; its cost is within the noise on undamaged data and +26% on data
   where most singletons quote the letters (BENCHMARKS.md).
9. Personalised copies that kept the opening (`_join_by_opening`): a sender
   who keeps a form letter's first paragraph and writes the rest shares too
   little with the template for step 6 (the 40% rule). Texts left out whose
   normalized text opens with the same `opening_chars` characters as a text
   in a campaign (and that run `opening_min_chars`+) join that campaign, and
   texts left out that share an opening among themselves form one, when the
   text shares at least `min_shared_words` with the campaign's text that has
   its opening and `opening_containment` (20%) of its words lie in passages
   shared with it (for a new campaign, 80% under 100 words, the short-text
   rule: two short answers quoting one question of the notice stay apart). Measured on the
   real 22,567-comment ICEB-2015-0002 docket (OPT STEM extension, whose texts
   the issue's examples come from): of the comments that share a letter's
   first 150 characters and run 300+, 0.75 were in their letter's campaign
   before this step (BENCHMARKS.md, "Campaign recall on a real docket").
10. Copies of two letters (`_also_copies`): a comment is a member of one campaign only, so the
   sizes add up to the comments, but a sender may paste two form letters, and a long letter may
   hold a short one whole. Each campaign lists the campaigns whose template holds its letter
   (`contained_in`) and the members of other campaigns that hold it in words their own template
   does not have (`also_copies`), by the membership rule (the share of the template's distinct
   k-grams a member must hold). The briefing says where those copies are counted. On ICEB-2015-0002
   this lists 30 of the 128 copies the issue's measure counts as left out (BENCHMARKS.md).
Memory (1M comments): anchors are sampled in chunks, text indices are int32,
and the large temporaries of each step are freed as soon as they are used.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from comments.analysis.normalize import (
    _SENTENCE_END,
    normalize,
    normalize_many,
    sentences,
    unescape_entities,
)

_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant for the rolling k-gram hash
_OPPOSITE = {frozenset(("support", "oppose"))}
_WORKERS = min(2, os.cpu_count() or 1)  # threads for the numpy-heavy loops (hashing, exact check)


@dataclass(frozen=True)
class CampaignParams:
    """Thresholds for campaign detection. Defaults were chosen on real dockets.

    - `shingle_words=8`: a shared passage is a run of at least 8 identical words
      (Judge-Lord's text-reuse work uses 10-word windows). Shorter runs are
      common stock phrasing ("thank you for the opportunity to comment on"),
      longer ones break too easily on the typos real copies contain.
    - `anchor_every=4`: one shingle in 4 (by hash) is indexed. A 300-word copy
      keeps ~75 anchors, enough to estimate containment within a few points,
      and the index is a quarter of the size of indexing every shingle. Exact
      similarity is then measured on all shingles for the members kept.
    - `min_containment=0.4`: at least 40% of the shorter text (or of the
      template, when the sender added more than they kept) must lie in passages
      shared with the template. Measured on the two real dockets in the repo
      (CMS-2022-0163, CMS-2025-0050-0031): the members of the real campaigns
      (the 213 "One piece of information..." letters, the "privacy rights for
      patients as well as parental rights" letters) score 0.57 to 1.0, and three
      heavily reworked copies (kept about half the template and rewrote the
      rest: CMS-2022-0163-0326 and -0429, CMS-2025-0050-0365) score 0.43 to
      0.54; 0.5 lost those three. At 0.3 the first wrong pair appears (two
      different comments by one person sharing only a sign-off paragraph,
      CMS-2022-0163-0002/-0038, 0.36). Letters that only share a topic share
      no 8-word passage at all.
    - `min_shared_words=25`: the shared passages must hold at least 25 words
      (a long sentence or two). Real members share 63 words or more; the
      shortest real near copy seen is a 25-word "please see our attached
      responses" note repeating its sender's longer one.
    - `short_text_words=100`, `short_containment=0.8`: a text under 100 words
      is only a copy if at least 80% of it is template text (a short text is
      otherwise mostly a quoted question or boilerplate). Real short members
      score 0.90 and above; the one false match seen without this rule was an
      answer quoting the same 35-word RFI question as a long letter ("PC-4.
      What features are missing from apps you use...", 0.56).
    - `min_near_words=20`: texts under 20 words ("See attached file(s)",
      "I support this rule") are never near copies of anything.
    - `min_template_words=20`: a template under 20 words is a stock phrase, not
      a form letter, however many people typed it (68 comments on CMS-2022-0163
      say only "See attached file(s)").
    - `min_campaign_size=2`: two or more posted comments with one template form
      a campaign (size 2 is reported, and briefings may filter on size).
    - `rep_links=4`, `small_posting=16`: in an anchor's posting list each text is
      linked to the first 4 texts (most copies, then longest: likely templates);
      lists of up to 16 texts are linked pairwise.
    - `rescue=True`, `rescue_min_anchors=2`, `rescue_chars=32`: the second look
      at damaged copies (module doc, step 8) for texts sharing at least 2
      anchors with a campaign's text, on 32-character shingles (about 6 words)
      of the text without its spaces. `rescue_damage_gap=0.15`: the characters
      must find at least 15 points more of the text inside the template than
      the words do (damage is what makes them disagree; on clean text they agree,
      so a text quoting a sentence or two of a letter stays out).
      `rescue_long_token_gap=0.008`: a text left out is looked at again only when
      its share of words of 12+ letters exceeds its template's by 0.8 points
      (glued words are long: "governmentshould"); texts that merely quote a
      letter, most of the near misses on real dockets, are not.
      `rescue_min_length=0.3`: and it holds at least 30% as many words as the
      template (a text a fraction of a long letter's size quotes it).
    - `min_addition_words=4`: an uncovered sentence is an addition only with at
      least 4 words, so greetings and sign-offs with a name ("Dear Senator Smith,",
      "Jane Doe") are not reported as what the sender had to say.
    - `addition_coverage=0.5`: a sentence is the sender's own when less than half
      of its words lie in passages shared with the template.
    """

    shingle_words: int = 8
    anchor_every: int = 4
    min_containment: float = 0.4
    min_shared_words: int = 25
    short_text_words: int = 100
    short_containment: float = 0.8
    min_near_words: int = 20
    min_template_words: int = 20
    min_campaign_size: int = 2
    rep_links: int = 4
    small_posting: int = 16
    min_addition_words: int = 4
    addition_coverage: float = 0.5
    rounds: int = 3
    rescue: bool = True
    rescue_min_anchors: int = 2
    rescue_chars: int = 32
    rescue_damage_gap: float = 0.15
    rescue_long_token_gap: float = 0.008
    rescue_chunk: int = 20_000        # pairs judged at once (bounds the memory of the second look)
    rescue_min_length: float = 0.3
    opening: bool = True
    opening_chars: int = 150
    opening_min_chars: int = 300
    opening_containment: float = 0.2
    also_copies: bool = True
    with_additions: bool = True  # False: skip unique additions (grouping and similarity only)
    chunk_texts: int = 20_000


@dataclass
class Doc:
    comment_id: str
    text: str
    posted: datetime | None = None
    duplicate_comments: int = 0


@dataclass
class Member:
    comment_id: str
    similarity: float  # share of this comment's words that lie in passages shared with the template
    is_exact: bool  # same normalized text as the template
    unique_additions: list[str] = field(default_factory=list)  # verbatim sentences the sender added


@dataclass(frozen=True)
class AlsoCopy:
    comment_id: str  # a member of another campaign
    template_share: float  # share of this campaign's template (its distinct k-grams) found in the comment


@dataclass
class Campaign:
    key: str  # text_key of the template: a deterministic content key
    template_comment_id: str
    template_text: str
    members: list[Member]  # template first (similarity 1.0), then by comment id
    # step 10: the campaigns whose letter holds this one's, as (campaign key, share of this template) ...
    contained_in: list[tuple[str, float]] = field(default_factory=list)
    # ... and the comments counted under another campaign that copy this letter too
    also_copies: list[AlsoCopy] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)


# ---------------------------------------------------------------- exact copies


@dataclass
class _Texts:
    """Unique normalized texts, in canonical order (most copies, longest, key)."""

    keys: list[str]
    n_words: np.ndarray  # int64
    multiplicity: np.ndarray  # int64: posted comments with this text
    doc_indices: list[list[int]]  # positions in the input, per unique text
    buffer: np.ndarray  # uint8: the normalized texts (UTF-8) in this order, each followed by a newline
    starts: np.ndarray  # int64 per unique text: where its normalized text starts in `buffer`
    ends: np.ndarray  # int64 per unique text: where it ends

    def normalized(self, i: int) -> str:
        return self.buffer[self.starts[i] : self.ends[i]].tobytes().decode("utf-8")


def _unique_texts(docs: Sequence[Doc], chunk_texts: int = 20_000) -> _Texts:
    # identical raw texts first (a dict), then normalization once per distinct raw text
    spelling_of_raw: dict[str, int] = {}
    spelling_of_doc = np.empty(len(docs), dtype=np.int64)
    comment_ids = [doc.comment_id for doc in docs]
    for i, doc in enumerate(docs):
        raw = doc.text or ""
        spelling = spelling_of_raw.get(raw)
        if spelling is None:
            spelling = spelling_of_raw[raw] = len(spelling_of_raw)
        spelling_of_doc[i] = spelling
    # normalized in chunks (bounded memory), kept as one bytes object per distinct raw text
    raws = list(spelling_of_raw)
    del spelling_of_raw
    normalized: list[bytes] = []
    for start in range(0, len(raws), chunk_texts):
        buffer, starts, ends = normalize_many(raws[start : start + chunk_texts])
        data = buffer.tobytes()
        normalized.extend(data[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True))
    del raws
    text_of_key: dict[str, int] = {}
    text_of_spelling = np.empty(len(normalized), dtype=np.int64)
    first_spelling: list[int] = []
    for s, text in enumerate(normalized):
        key = hashlib.blake2b(text, digest_size=16).hexdigest()  # = key_of_normalized
        t = text_of_key.get(key)
        if t is None:
            t = text_of_key[key] = len(first_spelling)
            first_spelling.append(s)
        text_of_spelling[s] = t
    keys = list(text_of_key)
    rep = np.array(first_spelling, dtype=np.int64)
    n_words = np.array([normalized[s].count(b" ") + 1 if normalized[s] else 0 for s in first_spelling], dtype=np.int64)
    text_of_doc = text_of_spelling[spelling_of_doc]
    mult = np.bincount(text_of_doc, minlength=len(keys)).astype(np.int64)
    order = np.lexsort((np.array(keys), -n_words, -mult)) if keys else np.zeros(0, dtype=np.int64)
    position = np.empty(len(keys), dtype=np.int64)
    position[order] = np.arange(len(keys))
    # members of each text: the most common spelling first (it shows as the template), then by comment id
    id_rank = np.empty(len(docs), dtype=np.int64)
    id_rank[sorted(range(len(docs)), key=comment_ids.__getitem__)] = np.arange(len(docs))
    spelling_count = np.bincount(spelling_of_doc, minlength=len(normalized))
    by_text = np.lexsort((id_rank, -spelling_count[spelling_of_doc], position[text_of_doc])).tolist()
    bounds = np.concatenate([[0], np.cumsum(mult[order])]).tolist()
    # one buffer with the texts in canonical order, so word positions follow text order
    ordered = [normalized[s] for s in rep[order].tolist()]
    del normalized
    lengths = np.array([len(text) + 1 for text in ordered], dtype=np.int64)
    ordered.append(b"")  # so the join ends with a newline too (no second copy of the buffer to add it)
    canonical = np.frombuffer(b"\n".join(ordered), dtype=np.uint8) if len(ordered) > 1 else np.zeros(0, np.uint8)
    del ordered
    new_ends = np.cumsum(lengths) - 1
    return _Texts(
        keys=[keys[i] for i in order.tolist()],
        n_words=n_words[order].astype(np.int64),
        multiplicity=mult[order],
        doc_indices=[by_text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
        buffer=canonical,
        starts=new_ends - lengths + 1,
        ends=new_ends,
    )


def unique_texts(docs: Sequence[Doc]) -> dict[str, list[str]]:
    """Exact-copy groups: text_key -> comment ids (sorted)."""
    texts = _unique_texts(docs)
    return {key: [docs[i].comment_id for i in idx] for key, idx in zip(texts.keys, texts.doc_indices, strict=True)}


# ---------------------------------------------------------------- hashing

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LOW_BYTES = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 whose output bits all depend on all input bits."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _word_hashes(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """uint64 per word (the bytes `buffer[start:start + length]`), from the word alone.

    Words are read 8 bytes at a time through an overlapping uint64 view of the
    buffer, so hashing 10 million words is a few vectorized passes, and the
    value of a word is the same in every run and every input.
    """
    padded = np.concatenate([buffer, np.zeros(8, dtype=np.uint8)])
    window = np.ndarray((len(buffer) + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from each byte
    # first 8 bytes of every word (most words have no more), then the rest of the long ones
    h = _mix((lengths.astype(np.uint64) * _MUL) ^ (window[starts] & _LOW_BYTES[np.minimum(lengths, 8)]))
    long_words = np.flatnonzero(lengths > 8)
    pos, left, h_long = starts[long_words] + 8, lengths[long_words] - 8, h[long_words]
    active = np.arange(len(long_words))
    while len(active):
        block = window[pos[active]] & _LOW_BYTES[np.minimum(left[active], 8)]
        h_long[active] = _mix(h_long[active] ^ block)
        pos[active] += 8
        left[active] -= 8
        active = active[left[active] > 0]
    h[long_words] = h_long
    return h


def _sorted_unique(values: np.ndarray, return_counts: bool = False, presorted: bool = False):
    """np.unique by sorting (numpy 2's hash-based unique is far slower on 64-bit keys)."""
    if not presorted:
        values = np.sort(values)
    first = np.ones(len(values), dtype=bool)
    first[1:] = values[1:] != values[:-1]
    if not return_counts:
        return values[first]
    starts = np.flatnonzero(first)
    return values[starts], np.diff(np.append(starts, len(values)))


def _kgrams(tokens: np.ndarray, k: int) -> np.ndarray:
    """Polynomial hash (mod 2**64) of every run of k consecutive tokens (len(tokens) - k + 1 values).

    Tokens are well-mixed 64-bit values, so the hashes are uniform; their high
    bits mix every token and are the ones used to sample anchors.
    """
    n = len(tokens) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = tokens[:n].copy()
    for j in range(1, k):
        h *= _MUL
        h += tokens[j : j + n]
    return h


def _kgrams_doubling(tokens: np.ndarray, k: int) -> np.ndarray:
    """`_kgrams(tokens, k)` for k a power of two, in log2(k) passes instead of k:
    the hash of 2m tokens is the hash of the first m times MUL**m plus the hash of the next m."""
    h = tokens.copy()
    m, power = 1, _MUL
    while m < k:
        n = len(h) - m
        if n <= 0:
            return np.empty(0, dtype=np.uint64)
        h = h[:n] * power + h[m : m + n]
        m, power = 2 * m, np.uint64(int(power) ** 2 % (1 << 64))  # (a Python int: numpy scalars warn on wrap-around)
    return h


def _ranges(offsets: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ranges offsets[w]:offsets[w + 1] for w in `which`, flat, with their own offsets."""
    lengths = offsets[which + 1] - offsets[which]
    new_offsets = np.zeros(len(which) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    return np.repeat(offsets[which] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1]), new_offsets


@dataclass
class _Grams:
    """k-gram hash at every word position of the unique texts (in their canonical order)."""

    hashes: np.ndarray  # uint64 per word position: the k-gram starting there (meaningless near a text's end)
    offsets: np.ndarray  # int64, one more than texts: word positions of each text
    k: int

    def of(self, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hashes, valid, offsets) of the given unique texts, concatenated; `valid`: a whole k-gram starts there."""
        pos, offsets = _ranges(self.offsets, texts)
        lengths = np.diff(offsets)
        local = np.arange(len(pos)) - np.repeat(offsets[:-1], lengths)
        return self.hashes[pos], local <= np.repeat(lengths - self.k, lengths), offsets


def _grams(texts: _Texts, k: int, chunk_texts: int) -> _Grams:
    """Tokenize once (words straight from the normalized buffer) and hash every k-gram.

    Texts are hashed in chunks, on two threads (numpy releases the GIL in these loops).
    """
    offsets = np.zeros(len(texts.keys) + 1, dtype=np.int64)
    np.cumsum(texts.n_words, out=offsets[1:])
    hashes = np.zeros(offsets[-1], dtype=np.uint64)

    def chunk(first: int) -> None:
        last = min(first + chunk_texts, len(texts.keys))
        buffer = texts.buffer[texts.starts[first] : texts.ends[last - 1] + 1]
        separators = np.flatnonzero((buffer == 32) | (buffer == 10))
        word_start = np.empty(len(separators), dtype=np.int64)
        word_start[:1] = 0
        word_start[1:] = separators[:-1] + 1
        lengths = separators - word_start
        del separators
        if (lengths == 0).any():  # empty texts
            nonempty = lengths > 0
            word_start, lengths = word_start[nonempty], lengths[nonempty]
        g = _kgrams(_word_hashes(buffer, word_start, lengths), k)
        hashes[offsets[first] : offsets[first] + len(g)] = g  # the last k - 1 positions start no whole k-gram

    with ThreadPoolExecutor(_WORKERS) as pool:
        list(pool.map(chunk, range(0, len(texts.keys), chunk_texts)))
    return _Grams(hashes, offsets, k)


def _anchors(grams: _Grams, eligible: np.ndarray, n_texts: int, params: CampaignParams):
    """(anchor hash, text index) for every eligible text, deduplicated, sorted by hash then text."""
    m = params.anchor_every
    is_eligible = np.zeros(n_texts, dtype=bool)
    is_eligible[eligible] = True
    text_type = np.int32 if n_texts < 2**31 else np.int64  # text indices: half the memory when they fit
    # sampled in chunks of word positions, so no temporary is as large as the hash array
    chunk = 1 << 22
    hash_parts, text_parts = [], []
    for first in range(0, len(grams.hashes), chunk):
        high = grams.hashes[first : first + chunk] >> np.uint64(32)
        sampled = (high & np.uint64(m - 1)) == 0 if m & (m - 1) == 0 else high % np.uint64(m) == 0  # mask when m = 2**j
        at = np.flatnonzero(sampled) + first
        del high, sampled
        o = np.searchsorted(grams.offsets, at, side="right") - 1
        # a whole k-gram of an eligible text starts there
        keep = is_eligible[o] & (at + params.shingle_words <= grams.offsets[o + 1])
        hash_parts.append(grams.hashes[at[keep]])
        text_parts.append(o[keep].astype(text_type))
    h = np.concatenate(hash_parts) if hash_parts else np.empty(0, dtype=np.uint64)
    o = np.concatenate(text_parts) if text_parts else np.empty(0, dtype=text_type)
    del hash_parts, text_parts
    # texts come in ascending order, so a stable sort by hash leaves them ascending per anchor
    order = np.argsort(h, kind="stable")
    h = h[order]
    o = o[order]
    del order
    # one entry per (anchor, text): a phrase repeated inside one text counts once
    first = np.ones(len(h), dtype=bool)
    first[1:] = (h[1:] != h[:-1]) | (o[1:] != o[:-1])
    h, o = h[first], o[first]
    counts = np.bincount(o, minlength=n_texts).astype(np.int64)
    return h, o, counts


def _candidate_pairs(h: np.ndarray, o: np.ndarray, n_texts: int, params: CampaignParams):
    """(lo, hi, shared anchors) for text pairs linked through shared anchors."""
    if len(h) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    new_group = np.empty(len(h), dtype=bool)
    new_group[0] = True
    new_group[1:] = h[1:] != h[:-1]
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, len(h)))
    shared = sizes > 1
    # keep only anchors shared by two texts or more
    entry_group = np.repeat(np.arange(len(starts)), sizes)
    keep = shared[entry_group]
    o = o[keep]
    entry_group = entry_group[keep]
    del keep
    starts, sizes = starts[shared], sizes[shared]
    new_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    remap = np.full(len(shared), -1)
    remap[np.flatnonzero(shared)] = np.arange(shared.sum())
    g = remap[entry_group]
    del entry_group, remap
    group_start = new_starts[g]
    rank = np.arange(len(o)) - group_start
    small = sizes[g] <= params.small_posting
    keys = []
    key_type = np.uint32 if n_texts * n_texts < 2**32 else np.uint64  # half the bytes to sort when it fits
    for j in range(max(params.small_posting, params.rep_links)):
        sel = (rank > j) & (small | (j < params.rep_links))
        if not sel.any():
            break
        lo = o[group_start[sel] + j].astype(key_type)
        hi = o[sel].astype(key_type)
        keys.append(lo * key_type(n_texts) + hi)
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    del g, group_start, rank, small
    all_keys = np.concatenate(keys)
    del keys
    all_keys.sort()  # in place: no second copy of the largest array of the step
    pair_keys, shared_counts = _sorted_unique(all_keys, return_counts=True, presorted=True)
    del all_keys
    lo = (pair_keys // key_type(n_texts)).astype(np.int64)
    hi = (pair_keys % key_type(n_texts)).astype(np.int64)
    return lo, hi, shared_counts.astype(np.int64)


# ---------------------------------------------------------------- clustering


def _edges(texts: _Texts, grams: _Grams, eligible: np.ndarray, params: CampaignParams):
    """(lo, hi, closeness) of the candidate edges, and (lo, hi) of the near misses: pairs that
    share a few anchors but too few for an edge (kept for the damage-tolerant second look)."""
    h, o, n_anchors = _anchors(grams, eligible, len(texts.keys), params)
    lo, hi, shared = _candidate_pairs(h, o, len(texts.keys), params)
    del h, o
    if len(lo) == 0:
        return lo, hi, np.empty(0), lo, hi
    na, nb = n_anchors[lo], n_anchors[hi]
    shorter = np.minimum(na, nb)
    containment = shared / np.maximum(shorter, 1)
    short_words = np.minimum(texts.n_words[lo], texts.n_words[hi])
    # The sample is noisy when the shorter text has few anchors (a 30-word text
    # has ~6): candidates pass with about two standard errors of slack, and the
    # exact check on all shingles (including the shared-words minimum) decides.
    slack = np.clip(1 / np.sqrt(np.maximum(shorter, 1)), 0.05, 0.6)
    needed = np.where(short_words < params.short_text_words, params.short_containment, params.min_containment)
    ok = containment >= needed - slack
    closeness = shared.astype(float) ** 2 / (na * nb)  # product of both containments
    near = ~ok & (shared >= params.rescue_min_anchors)
    return lo[ok], hi[ok], closeness[ok], lo[near], hi[near]


def _stance_reader(stances: dict[int, str], stance_of: Callable[[str], str] | None, texts: _Texts,
                   docs) -> Callable[[int], str]:
    """A distinct text's stance by its index, read once (from its first comment) into `stances`;
    "unclear" for every text when there is no `stance_of`."""
    def stance(i: int) -> str:
        if i not in stances:
            stances[i] = stance_of(docs[texts.doc_indices[i][0]].text or "") if stance_of else "unclear"
        return stances[i]

    return stance


def _drop_opposite(texts, lo, hi, closeness, docs, stance_of):
    cache: dict[int, str] = {}
    stance = _stance_reader(cache, stance_of, texts, docs)
    keep = np.array([frozenset((stance(a), stance(b))) not in _OPPOSITE for a, b in zip(lo.tolist(), hi.tolist(), strict=True)], dtype=bool)
    return lo[keep], hi[keep], closeness[keep], cache


def _star_clusters(n: int, mult: np.ndarray, lo, hi, closeness) -> dict[int, list[int]]:
    """center -> member texts. Every member is adjacent to its center (no chains).

    Centers are chosen greedily in order of centrality (a text with many
    close, much-copied neighbours first); a text next to a chosen center
    cannot become one. Each remaining text then joins the adjacent center it
    is closest to, so a weak link to an early center does not steal it from
    its real template.
    """
    if len(lo) == 0:
        return {}
    w = mult.astype(float)
    score = np.bincount(lo, weights=w[hi] * closeness, minlength=n) + np.bincount(hi, weights=w[lo] * closeness, minlength=n)
    score += w - 1  # exact copies of the text itself
    nodes = _sorted_unique(np.concatenate([lo, hi]))
    order = nodes[np.lexsort((nodes, -score[nodes]))]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(len(order))
    src = np.concatenate([lo, hi])
    dst = np.concatenate([hi, lo])
    close = np.concatenate([closeness, closeness])
    by_src = np.argsort(src, kind="stable")
    src, dst, close = src[by_src], dst[by_src], close[by_src]
    indptr = np.searchsorted(src, np.arange(n + 1))
    covered = np.zeros(n, dtype=bool)
    is_center = np.zeros(n, dtype=bool)
    for c in order.tolist():
        if covered[c]:
            continue
        is_center[c] = True
        covered[c] = True
        covered[dst[indptr[c] : indptr[c + 1]]] = True
    # each non-center joins its closest adjacent center (ties: the more central one)
    link = is_center[dst] & ~is_center[src]
    s, d, c = src[link], dst[link], close[link]
    best = np.lexsort((rank[d], -c, s))
    s, d = s[best], d[best]
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    clusters: dict[int, list[int]] = defaultdict(list)
    for member, center in zip(s[first].tolist(), d[first].tolist(), strict=True):
        clusters[center].append(member)
    return {center: sorted(members) for center, members in clusters.items()}


# ---------------------------------------------------------------- members


def _salted(grams: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """k-gram hash combined with the template it is looked up in (one sorted table for all)."""
    return grams ^ ((owner.astype(np.uint64) + np.uint64(1)) * _MUL)


def _lookup(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted, distinct uint64 `table`, or -1 (faster than searchsorted).

    Values are uniform hashes, so their top bits spread them evenly over about
    2 buckets per entry; a query is compared only with the few entries of its bucket.
    """
    found = np.full(len(queries), -1, dtype=np.int64)
    if len(table) == 0:
        return found
    bits = min(int(len(table)).bit_length() + 1, 28)
    shift = np.uint64(64 - bits)
    bucket_start = np.searchsorted((table >> shift).astype(np.int64), np.arange((1 << bits) + 1))
    bucket = (queries >> shift).astype(np.int64)
    first = bucket_start[bucket]
    size = bucket_start[bucket + 1] - first
    active = np.flatnonzero(size > 0)
    j = 0
    while len(active):
        at = first[active] + j
        equal = table[at] == queries[active]
        found[active[equal]] = at[equal]
        j += 1
        active = active[~equal & (size[active] > j)]
    return found


@dataclass
class _Verdicts:
    """Exact check of members against their templates, on all k-grams (not the sample)."""

    ok: np.ndarray  # bool per member
    similarity: np.ndarray  # share of the member's words inside passages shared with its template
    covered: list[np.ndarray]  # per member: is each word inside a shared passage


def _verify(members: list[int], centers: list[int], grams: _Grams, params: CampaignParams,
            words_of: np.ndarray | None = None) -> _Verdicts:
    """`words_of` (per text of `grams`): the length the short-text rule reads, when the grams are
    not words (character shingles: the rule stays "under 100 words")."""
    k = params.shingle_words
    templates = sorted(set(centers))
    slot = {c: i for i, c in enumerate(templates)}
    t_grams, t_valid, t_offsets = grams.of(np.array(templates, dtype=np.int64))
    t_owner = np.repeat(np.arange(len(templates)), np.diff(t_offsets))
    t_keys = _salted(t_grams[t_valid], t_owner[t_valid])
    order = np.argsort(t_keys)
    t_keys, t_key_owner = t_keys[order], t_owner[t_valid][order]
    first = np.ones(len(t_keys), dtype=bool)
    first[1:] = t_keys[1:] != t_keys[:-1]
    table = t_keys[first]
    t_distinct = np.bincount(t_key_owner[first], minlength=len(templates))
    t_words = np.diff(t_offsets)

    def needed(words: np.ndarray) -> np.ndarray:
        return np.where(words < params.short_text_words, params.short_containment, params.min_containment)

    # chunks bound the memory (about 15 arrays per word of the chunk's members, on each
    # thread: a quarter of `chunk_texts` members); two threads share them (numpy releases the GIL)
    size = max(1, min(max(1, params.chunk_texts // 4), -(-len(members) // _WORKERS)))

    def check(start: int):
        chunk = members[start : start + size]
        center = np.array([slot[c] for c in centers[start : start + size]], dtype=np.int64)
        chunk_grams, valid, offsets = grams.of(np.array(chunk, dtype=np.int64))
        owner = np.repeat(np.arange(len(chunk)), np.diff(offsets))
        keys = _salted(chunk_grams, center[owner])
        pos = _lookup(table, keys)
        hit = valid & (pos >= 0)
        # a word is covered when some shared k-gram spans it
        csum = np.concatenate([[0], np.cumsum(hit)])
        idx = np.arange(len(keys))
        is_covered = (csum[idx + 1] - csum[np.maximum(idx - k + 1, 0)]) > 0
        words = np.diff(offsets)
        shared_words = np.bincount(owner, weights=is_covered, minlength=len(chunk))
        similarity = shared_words / np.maximum(words, 1)
        rule_len = words if words_of is None else words_of[np.array(chunk, dtype=np.int64)]
        ok = (shared_words >= params.min_shared_words) & (similarity >= needed(rule_len))
        # else: the share of the template's distinct k-grams found in the member (the sender
        # kept enough of the template but added more of their own); counted for those only
        second = np.flatnonzero((shared_words >= params.min_shared_words) & ~ok)
        if len(second):
            in_second = np.zeros(len(chunk), dtype=bool)
            in_second[second] = True
            sel = hit & in_second[owner]
            found = _sorted_unique(owner[sel] * len(table) + pos[sel])  # (member, template k-gram) pairs
            template_share = np.bincount(found // len(table), minlength=len(chunk)) / np.maximum(t_distinct[center], 1)
            t_size = t_words if words_of is None else words_of[np.array(templates, dtype=np.int64)]
            ok[second] = template_share[second] >= needed(t_size[center[second]])
        return ok, similarity, np.split(is_covered, offsets[1:-1])

    with ThreadPoolExecutor(_WORKERS) as pool:
        parts = list(pool.map(check, range(0, len(members), size)))
    ok_parts = [p[0] for p in parts]
    sim_parts = [p[1] for p in parts]
    covered = [c for p in parts for c in p[2]]
    return _Verdicts(
        ok=np.concatenate(ok_parts) if ok_parts else np.zeros(0, dtype=bool),
        similarity=np.concatenate(sim_parts) if sim_parts else np.zeros(0),
        covered=covered,
    )


# Where the normalized words start in the original text: a word starts at a
# letter or digit not preceded by one (an apostrophe between letters joins the
# parts, as `normalize` drops it), and `&` is the word "and".
_IS_WORD_CHAR = np.array([chr(c).isalnum() for c in range(0x10000)], dtype=bool)
_IS_WORD_CHAR[0xFFFF] = False  # stands for every character beyond the BMP (rare; the count check catches them)
_IS_APOSTROPHE = np.zeros(0x10000, dtype=bool)
_IS_APOSTROPHE[[ord(c) for c in "'’‘ʼ`´"]] = True


def _word_starts(raw: str, n_words: int) -> np.ndarray | None:
    """Character offset of each normalized word in `raw`, when they line up one to one."""
    if "&" in raw and unescape_entities(raw) != raw:
        return None  # entities: offsets in the raw text would not line up
    cp = np.minimum(np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32), 0xFFFF)
    word = _IS_WORD_CHAR[cp]
    start = word.copy()
    start[1:] &= ~word[:-1]
    start[2:] &= ~(_IS_APOSTROPHE[cp[1:-1]] & word[:-2])  # "don't": one word
    starts = np.flatnonzero(start | (cp == 38))  # 38: "&", the word "and"
    return starts if len(starts) == n_words else None


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each run of True."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[::2], edges[1::2]


def _additions(raw: str, covered: np.ndarray, template: str, params: CampaignParams) -> list[str]:
    """Sentences of `raw` whose words are mostly outside the template's passages, verbatim.

    `template` is the template's normalized text: a short sentence (fewer words
    than a shingle) that the sender moved away from its neighbours is still
    the template's if it appears in it word for word.
    """
    # An added sentence needs this many words outside the shared passages. Shared
    # passages come in runs of k words or more, so (with the default parameters)
    # a sentence can only be mostly new if it holds a run of that many new words:
    # members with only typos skip the sentence split, and the others split only
    # the lines around their new words.
    uncovered_needed = int(params.min_addition_words * (1 - params.addition_coverage)) + 1
    run_start, run_end = _runs(~covered)
    long_runs = (run_end - run_start) >= uncovered_needed
    if not long_runs.any():
        return []
    csum = np.concatenate([[0], np.cumsum(covered)])
    starts = _word_starts(raw, len(covered))
    if starts is None:  # entities or unusual characters: split everything, count words the slow way
        spans = sentences(raw)
        counts = np.array([len(normalize(raw[a:b]).split()) for a, b in spans], dtype=np.int64)
        last = np.minimum(np.cumsum(counts), len(covered))
        first = np.maximum(np.minimum(last - counts, len(covered)), 0)
    else:
        # a line break always ends a sentence, so the lines holding the new words split alone
        windows: list[tuple[int, int]] = []
        for lo, hi in zip(run_start[long_runs].tolist(), run_end[long_runs].tolist(), strict=True):
            begin = raw.rfind("\n", 0, int(starts[lo])) + 1
            end = raw.find("\n", int(starts[hi - 1]))
            end = len(raw) if end < 0 else end
            if windows and begin <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
            else:
                windows.append((begin, end))
        spans = [(w0 + a, w0 + b) for w0, w1 in windows for a, b in sentences(raw[w0:w1])]
        bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
        first = np.searchsorted(starts, bounds[:, 0])
        last = np.searchsorted(starts, bounds[:, 1])
    out = []
    for (a, b), lo, hi in zip(spans, first.tolist(), last.tolist(), strict=True):
        n = hi - lo
        if n >= params.min_addition_words and (csum[hi] - csum[lo]) < params.addition_coverage * n:
            if " " + normalize(raw[a:b]) + " " not in template:
                out.append(raw[a:b])
    return out


_IS_SPACE = np.array([chr(c).isspace() for c in range(0x10000)], dtype=bool)  # str.strip's whitespace


def _codepoints(text: str) -> np.ndarray:
    """Code point per character, those beyond the BMP folded to 0xFFFF (neither word nor space)."""
    return np.minimum(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), 0xFFFF)


def _additions_many(items: list[tuple[str, np.ndarray, str]], params: CampaignParams) -> list[list[str]]:
    """`_additions(raw, covered, template, params)` for every item, with the same results, batched.

    Members whose uncovered words form no run long enough are skipped outright;
    the others are processed in chunks: word starts, the lines holding the new
    words, and the sentence split are computed once over one concatenated string.
    """
    out: list[list[str]] = [[] for _ in items]
    if not items:
        return out
    needed = int(params.min_addition_words * (1 - params.addition_coverage)) + 1
    lengths = np.array([len(c) for _, c, _ in items], dtype=np.int64)
    word_offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=word_offsets[1:])
    covered = np.concatenate([c for _, c, _ in items]) if word_offsets[-1] else np.zeros(0, dtype=bool)
    csum = np.zeros(len(covered) + 1, dtype=np.int64)
    np.cumsum(covered, out=csum[1:])
    # runs of uncovered words, never across two items
    boundary = np.zeros(len(covered) + 1, dtype=bool)
    boundary[word_offsets] = True
    open_ = ~covered & (boundary[:-1] | np.concatenate([[True], covered[:-1]]))
    close = ~covered & (boundary[1:] | np.concatenate([covered[1:], [True]]))
    run_start, run_end = np.flatnonzero(open_), np.flatnonzero(close) + 1
    long_run = (run_end - run_start) >= needed
    run_start, run_end = run_start[long_run], run_end[long_run]
    run_item = np.searchsorted(word_offsets, run_start, side="right") - 1
    with_runs = np.unique(run_item).tolist()
    fast: list[int] = []
    for i in with_runs:
        raw = items[i][0]
        if "&" in raw and unescape_entities(raw) != raw:
            out[i] = _additions(raw, items[i][1], items[i][2], params)  # entities: the per-text path
        else:
            fast.append(i)
    chunk = 2000
    for first in range(0, len(fast), chunk):
        _additions_chunk(items, fast[first : first + chunk], out, csum, word_offsets, run_start, run_end, run_item, params)
    return out


def _additions_chunk(items, chosen, out, csum, word_offsets, run_start, run_end, run_item, params) -> None:
    raws = [items[i][0] for i in chosen]
    # one string: a newline before, between and after the texts (a newline never joins two words,
    # always ends a sentence and bounds every line, so each text reads as it does alone)
    big = "\n" + "\n".join(raws) + "\n"
    base = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(np.array([len(r) + 1 for r in raws], dtype=np.int64), out=base[1:])
    base += 1  # base[j]: where raw j starts in `big`
    cp = _codepoints(big)
    word = _IS_WORD_CHAR[cp]
    start = word.copy()
    start[1:] &= ~word[:-1]
    start[2:] &= ~(_IS_APOSTROPHE[cp[1:-1]] & word[:-2])
    starts = np.flatnonzero(start | (cp == 38))
    newlines = np.flatnonzero(cp == 10)
    del cp, word, start
    first_word = np.searchsorted(starts, base[:-1])
    count = np.searchsorted(starts, base[1:] - 1) - first_word
    n_words = np.array([len(items[i][1]) for i in chosen], dtype=np.int64)
    lines_ok = count == n_words
    for j in np.flatnonzero(~lines_ok).tolist():  # unusual characters: the per-text path
        i = chosen[j]
        out[i] = _additions(*items[i], params)
    # long runs of the chosen items that line up, with the chunk position of their item
    local_of_item = np.full(len(items), -1, dtype=np.int64)
    local_of_item[np.array(chosen, dtype=np.int64)[lines_ok]] = np.flatnonzero(lines_ok)
    sel = local_of_item[run_item] >= 0
    if not sel.any():
        return
    j_of_run = local_of_item[run_item[sel]]
    lo = run_start[sel] - word_offsets[run_item[sel]]
    hi = run_end[sel] - word_offsets[run_item[sel]]
    # the lines around each run: from the newline before its first word to the one after its last
    begin = newlines[np.searchsorted(newlines, starts[first_word[j_of_run] + lo]) - 1] + 1
    end = newlines[np.searchsorted(newlines, starts[first_word[j_of_run] + hi - 1])]
    new_window = np.ones(len(begin), dtype=bool)
    new_window[1:] = (j_of_run[1:] != j_of_run[:-1]) | (begin[1:] > end[:-1])
    group_last = np.append(np.flatnonzero(new_window)[1:] - 1, len(begin) - 1)
    w_begin, w_end, w_item = begin[new_window], end[group_last], j_of_run[new_window]
    # sentences of all windows at once (joined by newlines, which always end a sentence)
    joined = "\n".join([big[a:b] for a, b in zip(w_begin.tolist(), w_end.tolist(), strict=True)])
    w_at = np.zeros(len(w_begin), dtype=np.int64)
    np.cumsum(w_end[:-1] - w_begin[:-1] + 1, out=w_at[1:])
    cut = np.array([0] + [m.end() for m in _SENTENCE_END.finditer(joined)] + [len(joined)], dtype=np.int64)
    solid = np.flatnonzero(~_IS_SPACE[_codepoints(joined)])
    p_start, p_end = cut[:-1], cut[1:]
    a_idx = np.searchsorted(solid, p_start)
    b_idx = np.searchsorted(solid, p_end) - 1
    keep = (a_idx < len(solid)) & (b_idx >= a_idx)
    a = solid[a_idx[keep]]
    b = solid[b_idx[keep]] + 1
    # back to `big`: the window of each span
    w = np.searchsorted(w_at, a, side="right") - 1
    a_big, b_big = a - w_at[w] + w_begin[w], b - w_at[w] + w_begin[w]
    item_j = w_item[w]
    lo_w = np.searchsorted(starts, a_big) - first_word[item_j]
    hi_w = np.searchsorted(starts, b_big) - first_word[item_j]
    n = hi_w - lo_w
    chosen_arr = np.array(chosen, dtype=np.int64)
    cov_base = word_offsets[chosen_arr[item_j]]
    inside = csum[cov_base + hi_w] - csum[cov_base + lo_w]
    candidate = (n >= params.min_addition_words) & (inside < params.addition_coverage * n)
    for j, x, y in zip(item_j[candidate].tolist(), a_big[candidate].tolist(), b_big[candidate].tolist(), strict=True):
        i = chosen[j]
        text = big[x:y]
        if " " + normalize(text) + " " not in items[i][2]:
            out[i].append(text)


# ---------------------------------------------------------------- entry point


def detect_campaigns(
    docs: Sequence[Doc],
    params: CampaignParams = CampaignParams(),
    stance_of: Callable[[str], str] | None = None,
) -> list[Campaign]:
    """Campaigns among `docs`, largest first. Deterministic for any input order.

    `stance_of`, when given, maps a text to 'support' | 'oppose' | 'mixed' |
    'unclear'; texts judged support and oppose are never put in one campaign.
    """
    texts = _unique_texts(docs, params.chunk_texts)
    n = len(texts.keys)
    eligible = np.flatnonzero(texts.n_words >= max(params.min_near_words, params.shingle_words))
    grams = _grams(texts, params.shingle_words, params.chunk_texts)
    lo, hi, closeness, near_lo, near_hi = _edges(texts, grams, eligible, params)
    stances: dict[int, str] = {}
    if stance_of is not None and len(lo):
        lo, hi, closeness, stances = _drop_opposite(texts, lo, hi, closeness, docs, stance_of)
    campaigns: list[Campaign] = []
    centers_of: list[int] = []  # per campaign: its template's unique text
    members_of: list[list[int]] = []  # per campaign: its other unique texts
    placed = np.zeros(n, dtype=bool)
    tried = np.zeros(len(lo), dtype=bool)  # edges from a member to a template that rejected it
    # Members that fail the exact check against their template are clustered
    # again with everything not yet placed, without that edge.
    for _ in range(params.rounds):
        keep = ~placed[lo] & ~placed[hi] & ~tried
        clusters = _star_clusters(n, texts.multiplicity, lo[keep], hi[keep], closeness[keep])
        if not clusters:
            break
        centers = sorted(clusters)
        members = [m for c in centers for m in clusters[c]]
        owners = [c for c in centers for _ in clusters[c]]
        verdicts = _verify(members, owners, grams, params)
        rejected_pairs: list[tuple[int, int]] = []
        accepted_of: dict[int, list[int]] = {}
        position = 0
        for center in centers:
            count = len(clusters[center])
            span = range(position, position + count)
            position += count
            accepted_of[center] = [j for j in span if verdicts.ok[j]]
            rejected_pairs.extend((min(center, members[j]), max(center, members[j])) for j in span if not verdicts.ok[j])
        additions_of = _member_additions(accepted_of, members, verdicts, texts, docs, params)
        for center in centers:
            accepted = accepted_of[center]
            campaign = _build(center, [(members[j], float(verdicts.similarity[j]), additions_of.get(j, {})) for j in accepted],
                              texts, docs, params)
            if campaign is not None:
                campaigns.append(campaign)
                centers_of.append(center)
                members_of.append([members[j] for j in accepted])
                placed[[center, *(members[j] for j in accepted)]] = True
        if not rejected_pairs:
            break
        pair_key = lo.astype(np.uint64) * np.uint64(n) + hi.astype(np.uint64)
        bad = np.array([a * n + b for a, b in rejected_pairs], dtype=np.uint64)
        tried |= np.isin(pair_key, bad)
    if params.rescue and campaigns:
        # A second look, tolerant of extraction damage, at the texts left out that share
        # passages with a campaign: rejected members and near misses.
        cand_lo = np.concatenate([lo, near_lo])
        cand_hi = np.concatenate([hi, near_hi])
        del near_lo, near_hi
        campaigns, centers_of, members_of = _rescue(campaigns, centers_of, members_of, placed, cand_lo, cand_hi,
                                                    texts, grams, docs, params, stances, stance_of)
        del cand_lo, cand_hi
    if params.opening:
        campaigns, centers_of, members_of = _join_by_opening(campaigns, centers_of, members_of, placed, texts, grams,
                                                             docs, params, stances, stance_of)
    # exact-copy groups that are in no near-copy campaign stand alone
    for i in np.flatnonzero((texts.multiplicity >= 2) & ~placed).tolist():
        campaign = _build(i, [], texts, docs, params)
        if campaign is not None:
            campaigns.append(campaign)
            centers_of.append(i)
            members_of.append([])
    if params.also_copies:
        _also_copies(campaigns, centers_of, members_of, texts, grams, docs, params, stances, stance_of)
    campaigns.sort(key=lambda c: (-len(c.members), c.key))
    return campaigns


# ---------------------------------------------------------------- damaged copies

# Every byte's token for character shingles (a fixed, well-mixed value per byte).
_BYTE_TOKENS = _mix((np.arange(256, dtype=np.uint64) + np.uint64(1)) * _MUL)
# Normalized words are ~5 characters long on average: word thresholds in characters.
_CHARS_PER_WORD = 5


def _char_grams(texts: _Texts, subset: np.ndarray, k: int) -> _Grams:
    """Character k-grams of the given unique texts with the spaces taken out.

    Without spaces, "supportthe" and "support the", or "gov- ernment" and
    "government", are the same characters: lost spaces, words broken across
    lines and glued line ends no longer break the shared passages.
    Position j of the result's offsets is text subset[j].
    """
    starts, ends = texts.starts[subset].tolist(), texts.ends[subset].tolist()
    buf = texts.buffer
    pieces = [buf[a:b] for a, b in zip(starts, ends, strict=True)]
    raw = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
    keep = raw != 32
    lengths = np.array([len(x) for x in pieces], dtype=np.int64)
    bounds = np.zeros(len(subset) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    offsets = kept_before[bounds]
    chars = raw[keep]
    del raw, keep
    hashes = np.zeros(len(chars), dtype=np.uint64)
    g = _kgrams_doubling(_BYTE_TOKENS[chars], k) if k & (k - 1) == 0 else _kgrams(_BYTE_TOKENS[chars], k)
    hashes[: len(g)] = g
    return _Grams(hashes, offsets.astype(np.int64), k)


def _long_token_share(texts: _Texts, idx: np.ndarray, min_len: int = 12) -> dict[int, float]:
    """Per unique text in `idx`: the share of its normalized words of `min_len` bytes or more."""
    pieces = [texts.buffer[a : b + 1] for a, b in zip(texts.starts[idx].tolist(), texts.ends[idx].tolist(), strict=True)]
    if not pieces:
        return {}
    buf = np.concatenate(pieces)  # each text ends with its newline
    bounds = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in pieces], out=bounds[1:])
    sep = np.flatnonzero((buf == 32) | (buf == 10))
    word_start = np.concatenate([[0], sep[:-1] + 1])
    lengths = sep - word_start
    owner = np.searchsorted(bounds, word_start, side="right") - 1
    real = lengths > 0
    long = np.bincount(owner[real], weights=(lengths[real] >= min_len), minlength=len(pieces))
    total = np.bincount(owner[real], minlength=len(pieces))
    return dict(zip(idx.tolist(), (long / np.maximum(total, 1)).tolist(), strict=True))


def _word_of_chars(texts: _Texts, i: int) -> np.ndarray:
    """For each non-space character of unique text i (as `_char_grams` keeps them), its word's index."""
    raw = texts.buffer[texts.starts[i] : texts.ends[i]]
    space = raw == 32
    return np.cumsum(space)[~space]


def _char_verify(texts: _Texts, grams: _Grams, members: np.ndarray, centers: np.ndarray, params: CampaignParams):
    """Each member text against its center text, on words (`_verify`) and on character shingles
    with the spaces removed (thresholds in characters, the short-text rule still in words).

    A pair passes when the words pass (a near miss of the anchor sample that the exact check
    accepts), or when the characters pass AND find at least `rescue_damage_gap` more of the
    member inside the template than the words do: damage (lost spaces, broken words) is what
    makes the two disagree. On clean text both measure the same passages, so a text that
    quotes a sentence or two of a letter is no more a copy on characters than on words.
    Returns the verdicts (similarity and word coverage of whichever view decided) and which
    passes came from the characters.
    """
    k = params.rescue_chars
    n = len(members)
    ok = np.zeros(n, dtype=bool)
    by_chars = np.zeros(n, dtype=bool)
    similarity = np.zeros(n)
    covered: list[np.ndarray] = [np.zeros(0, dtype=bool)] * n
    if not n:
        return _Verdicts(ok=ok, similarity=similarity, covered=covered), by_chars
    subset = _sorted_unique(np.concatenate([members, centers]))
    cgrams = _char_grams(texts, subset, k)
    m_local, c_local = np.searchsorted(subset, members), np.searchsorted(subset, centers)
    # A cheap estimate on sampled character anchors first. Characters cover at least the
    # passages words do, so a pair that fails it fails on words too: most pairs (texts that
    # quote a letter) stop here, before any exact check.
    needed = np.where(texts.n_words[members] < params.short_text_words, params.short_containment, params.min_containment)
    estimate, anchors = _anchor_containment(cgrams, m_local, c_local)
    slack = np.clip(1 / np.sqrt(np.maximum(anchors, 1)), 0.05, 0.6)
    todo = np.flatnonzero(estimate >= needed - slack)
    if not len(todo):
        return _Verdicts(ok=ok, similarity=similarity, covered=covered), by_chars
    words = _verify(members[todo].tolist(), centers[todo].tolist(), grams, params)
    ok[todo] = words.ok
    similarity[todo] = words.similarity
    for t, j in enumerate(todo.tolist()):
        covered[j] = words.covered[t]
    # damaged: the words fail, and the characters find clearly more of the text in the template
    look = ~words.ok & (estimate[todo] >= words.similarity + params.rescue_damage_gap - slack[todo])
    again, word_sim = todo[look], words.similarity[look]
    if len(again):
        cparams = replace(
            params, shingle_words=k, min_shared_words=params.min_shared_words * _CHARS_PER_WORD,
            chunk_texts=max(8, params.chunk_texts // (2 * _CHARS_PER_WORD)),
        )
        chars = _verify(m_local[again].tolist(), c_local[again].tolist(), cgrams, cparams, words_of=texts.n_words[subset])
        passed = chars.ok & (chars.similarity >= word_sim + params.rescue_damage_gap)
        for t, j in enumerate(again.tolist()):
            if not passed[t]:
                continue
            by_chars[j] = ok[j] = True
            similarity[j] = chars.similarity[t]
            chars_w = _word_of_chars(texts, int(members[j]))
            n_words = int(texts.n_words[members[j]])
            share = np.bincount(chars_w, weights=chars.covered[t], minlength=n_words)[:n_words]
            covered[j] = share >= 0.5 * np.maximum(np.bincount(chars_w, minlength=n_words)[:n_words], 1)
    return _Verdicts(ok=ok, similarity=similarity, covered=covered), by_chars


def _anchor_containment(cgrams: _Grams, members: np.ndarray, centers: np.ndarray, every: int = 8):
    """(estimated share of each member's sampled character anchors found in its center, the
    member's anchor count): 1 in `every` shingles, chosen by hash, as the word anchors are.
    `members` and `centers` are texts of `cgrams` (positions in its offsets)."""
    lengths = np.diff(cgrams.offsets)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    local = np.arange(len(cgrams.hashes)) - np.repeat(cgrams.offsets[:-1], lengths)
    keep = (local <= np.repeat(lengths - cgrams.k, lengths)) & ((cgrams.hashes >> np.uint64(32)) % np.uint64(every) == 0)
    del local
    h, o = cgrams.hashes[keep], owner[keep]  # by text, as the positions are
    del keep, owner
    starts = np.searchsorted(o, np.arange(len(lengths) + 1))
    centers_used = _sorted_unique(centers)
    c_rows, c_off = _ranges(starts, centers_used)
    table = _sorted_unique(_salted(h[c_rows], np.repeat(centers_used, np.diff(c_off))))
    m_rows, m_off = _ranges(starts, members)
    hit = _lookup(table, _salted(h[m_rows], np.repeat(centers, np.diff(m_off)))) >= 0
    counts = np.diff(m_off)
    hits = np.bincount(np.repeat(np.arange(len(members)), counts), weights=hit, minlength=len(members))
    return hits / np.maximum(counts, 1), counts


def _best_per_text(texts_: np.ndarray, targets: np.ndarray, verdicts: _Verdicts, rank: np.ndarray) -> dict[int, int]:
    """text -> position (in the verified pairs) of the target it fits best: highest similarity,
    ties to the higher-ranked (larger) campaign."""
    best: dict[int, int] = {}
    for j in np.flatnonzero(verdicts.ok).tolist():
        i = int(texts_[j])
        if i not in best:
            best[i] = j
            continue
        b = best[i]
        if (-verdicts.similarity[j], rank[targets[j]]) < (-verdicts.similarity[b], rank[targets[b]]):
            best[i] = j
    return best


def _rescue(campaigns: list[Campaign], centers: list[int], members_of: list[list[int]], placed: np.ndarray,
            cand_lo: np.ndarray, cand_hi: np.ndarray, texts: _Texts, grams: _Grams, docs, params: CampaignParams,
            stances: dict[int, str], stance_of: Callable[[str], str] | None):
    """A second look, on character shingles with the spaces removed, at texts the word shingles
    kept apart from a campaign; returns (campaigns, centers, members_of) updated.

    1. A campaign whose template is itself a damaged copy of a larger campaign's
       template (copies that went through the same broken PDF or web form share
       their damage, so they group together) is dissolved into the larger one.
    2. Texts left out (and those of a dissolved campaign) that are linked to a
       campaign's text by the anchor index are judged against its template;
       those that pass join it (each the campaign it fits best).
    The thresholds are the word thresholds (containment of the shorter text, or
    of the template, in passages shared with the template), in characters, so
    every member is still explained by its template. Only texts the anchor
    index links to a campaign are looked at: the cost follows the texts left
    out near a campaign, not the docket.
    """
    n, n_c = len(texts.keys), len(campaigns)
    campaign_of = np.full(n, -1, dtype=np.int64)
    for c in range(n_c):
        campaign_of[[centers[c], *members_of[c]]] = c
    size = np.array([len(c.members) for c in campaigns], dtype=np.int64)
    rank = np.empty(n_c, dtype=np.int64)  # 0 = largest campaign
    rank[sorted(range(n_c), key=lambda c: (-size[c], campaigns[c].key))] = np.arange(n_c)
    center_arr = np.array(centers, dtype=np.int64)

    def stance_ok(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if stance_of is None:
            return np.ones(len(a), dtype=bool)
        stance = _stance_reader(stances, stance_of, texts, docs)
        return np.array([frozenset((stance(x), stance(y))) not in _OPPOSITE
                         for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=bool)

    eligible = texts.n_words >= params.min_near_words
    # Templates (and groups of identical texts, campaigns of their own to be) are few: link
    # them on character anchors too, so a campaign of copies damaged alike, which shares
    # no intact 8-word passage with its letter, still meets it.
    few = _sorted_unique(np.concatenate([center_arr, np.flatnonzero(~placed & (texts.multiplicity >= 2) & eligible)]))
    if len(few) > 1:
        cparams = replace(params, shingle_words=params.rescue_chars, anchor_every=8)
        cgrams = _char_grams(texts, few, params.rescue_chars)
        h, o, _ = _anchors(cgrams, np.arange(len(few)), len(few), cparams)
        f_lo, f_hi, shared = _candidate_pairs(h, o, len(few), cparams)
        del h, o, cgrams
        ok = shared >= params.rescue_min_anchors
        cand_lo = np.concatenate([cand_lo, few[f_lo[ok]]])
        cand_hi = np.concatenate([cand_hi, few[f_hi[ok]]])
    # 1. damaged campaigns into the larger campaign whose template they copy
    root = np.arange(n_c)
    ca, cb = campaign_of[cand_lo], campaign_of[cand_hi]
    linked = (ca >= 0) & (cb >= 0) & (ca != cb)
    if linked.any():
        ca, cb = ca[linked], cb[linked]
        small = np.where(rank[ca] > rank[cb], ca, cb)
        big = np.where(rank[ca] > rank[cb], cb, ca)
        key = _sorted_unique(small * n_c + big)
        small, big = key // n_c, key % n_c
        sized = texts.n_words[center_arr[small]] >= params.rescue_min_length * texts.n_words[center_arr[big]]
        small, big = small[sized], big[sized]
        # a campaign of copies damaged alike: its template has clearly more long (glued) tokens
        share = _long_token_share(texts, _sorted_unique(center_arr[np.concatenate([small, big])]))
        keep = np.array([share[center_arr[a]] >= share[center_arr[b]] + params.rescue_long_token_gap
                         for a, b in zip(small.tolist(), big.tolist(), strict=True)], dtype=bool)
        small, big = small[keep], big[keep]
        keep = stance_ok(center_arr[small], center_arr[big])
        small, big = small[keep], big[keep]
        if len(small):
            verdicts, _ = _char_verify(texts, grams, center_arr[small], center_arr[big], params)
            for s_c, j in _best_per_text(small, big, verdicts, rank).items():
                root[s_c] = big[j]
            for c in sorted(range(n_c), key=lambda c: rank[c]):  # larger first: roots are final
                root[c] = root[root[c]]
    dissolved = root != np.arange(n_c)
    # 2. texts left out, and those of dissolved campaigns, against the campaigns they touch
    target = np.where(campaign_of >= 0, root[np.maximum(campaign_of, 0)], -1)
    free = ~placed.copy()
    for c in np.flatnonzero(dissolved).tolist():
        free[[centers[c], *members_of[c]]] = True
    pairs = []
    for a, b in ((cand_lo, cand_hi), (cand_hi, cand_lo)):
        sel = free[a] & eligible[a] & (target[b] >= 0) & ~free[b]
        pairs.append(a[sel] * n_c + target[b[sel]])
    key = _sorted_unique(np.concatenate(pairs).astype(np.int64)) if pairs else np.zeros(0, dtype=np.int64)
    if len(key):
        # Only texts that look damaged next to the template are worth the second look: glued
        # words make long tokens ("governmentshould"), so a damaged copy has clearly more of
        # them than its template. Texts that merely quote a letter do not (and are most pairs).
        left, camp = key // n_c, key % n_c
        # and a copy keeps a good part of its letter: a text a fraction of a long letter's size
        # is a quote of it, not a damaged copy
        sized = texts.n_words[left] >= params.rescue_min_length * texts.n_words[center_arr[camp]]
        key, left, camp = key[sized], left[sized], camp[sized]
        share = _long_token_share(texts, _sorted_unique(np.concatenate([left, center_arr[camp]])))
        key = key[np.array([share[i] >= share[center_arr[c]] + params.rescue_long_token_gap
                            for i, c in zip(left.tolist(), camp.tolist(), strict=True)], dtype=bool)]
    dissolved_pairs = np.array([i * n_c + root[c] for c in np.flatnonzero(dissolved).tolist()
                                for i in [centers[c], *members_of[c]]], dtype=np.int64)
    key = _sorted_unique(np.concatenate([key, dissolved_pairs]).astype(np.int64))
    left, camp = key // n_c, key % n_c
    keep = stance_ok(left, center_arr[camp])
    left, camp = left[keep], camp[keep]
    best: dict[int, int] = {}
    if len(left):
        # in chunks of pairs: the character shingles of a chunk's texts are all held at once
        parts = [_char_verify(texts, grams, left[a : a + params.rescue_chunk], center_arr[camp[a : a + params.rescue_chunk]],
                              params)[0] for a in range(0, len(left), params.rescue_chunk)]
        verdicts = _Verdicts(ok=np.concatenate([v.ok for v in parts]),
                             similarity=np.concatenate([v.similarity for v in parts]),
                             covered=[c for v in parts for c in v.covered])
        del parts
        best = _best_per_text(left, camp, verdicts, rank)
    if not best and not dissolved.any():
        return campaigns, centers, members_of
    # rebuild: dissolved campaigns go, the texts they held and the rescued texts join their campaign
    accepted_of: dict[int, list[int]] = defaultdict(list)
    for _i, j in sorted(best.items()):
        accepted_of[centers[int(camp[j])]].append(j)
    additions_of = _member_additions(accepted_of, left.tolist(), verdicts, texts, docs, params) if best else {}
    joined: dict[int, list[Member]] = defaultdict(list)
    new_members: dict[int, list[int]] = defaultdict(list)
    for i, j in sorted(best.items()):
        c = int(camp[j])
        new_members[c].append(i)
        for d in texts.doc_indices[i]:
            raw = docs[d].text or ""
            joined[c].append(Member(docs[d].comment_id, round(float(verdicts.similarity[j]), 4), False,
                                    list(additions_of.get(j, {}).get(raw, []))))
    out_campaigns, out_centers, out_members = [], [], []
    for c in range(n_c):
        if dissolved[c]:
            continue
        campaign = campaigns[c]
        if joined[c]:
            rest = [m for m in campaign.members[1:]] + joined[c]
            campaign.members = [campaign.members[0], *sorted(rest, key=lambda m: m.comment_id)]
        out_campaigns.append(campaign)
        out_centers.append(centers[c])
        out_members.append(members_of[c] + new_members[c])
    placed[:] = False
    for c in range(len(out_campaigns)):
        placed[[out_centers[c], *out_members[c]]] = True
    return out_campaigns, out_centers, out_members


def _join_by_opening(campaigns: list[Campaign], centers: list[int], members_of: list[list[int]], placed: np.ndarray,
                     texts: _Texts, grams: _Grams, docs, params: CampaignParams, stances: dict[int, str],
                     stance_of: Callable[[str], str] | None):
    """Step 9 of the module doc: texts left out that open like a text of a campaign join it; texts left
    out that open alike form a campaign. Returns (campaigns, centers, members_of) updated.

    Each text left out is checked (`_verify`, on all word shingles) against one reference: the
    campaign's template when it has the opening, else the campaign's text with that opening that
    has most copies (then fewest words); for a new campaign, the group's text with most copies
    (then fewest words), which becomes its template. Members keep their true similarity to their
    template (it can be low: they kept the opening, not the body).
    """
    n, n_c = len(texts.keys), len(campaigns)
    lengths = texts.ends - texts.starts
    long_ = np.flatnonzero(lengths >= params.opening_min_chars)
    if not len(long_) or (~placed[long_]).sum() == 0:
        return campaigns, centers, members_of
    campaign_of = np.full(n, -1, dtype=np.int64)
    for c in range(n_c):
        campaign_of[[centers[c], *members_of[c]]] = c
    buf, starts = texts.buffer, texts.starts
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i in long_.tolist():
        groups[buf[starts[i] : starts[i] + params.opening_chars].tobytes()].append(i)

    def first(idx: list[int]) -> int:  # most copies, then fewest words (the barest letter), then key
        return min(idx, key=lambda i: (-int(texts.multiplicity[i]), int(texts.n_words[i]), texts.keys[i]))

    stance = _stance_reader(stances, stance_of, texts, docs)

    pairs: list[tuple[int, int, int]] = []  # (text left out, reference text, campaign or -1 - new group)
    movers: list[tuple[int, int, int]] = []  # (text in another campaign, this template, this campaign)
    center_set = set(centers)
    new_refs: list[int] = []
    for idx in groups.values():
        left = [i for i in idx if not placed[i]]
        if not left or len(idx) < 2:
            continue
        weight: dict[int, int] = defaultdict(int)
        for i in idx:
            if placed[i]:
                weight[int(campaign_of[i])] += int(texts.multiplicity[i])
        if weight:
            home = max(weight, key=lambda c: (weight[c], len(campaigns[c].members), campaigns[c].key))
            ref = centers[home] if centers[home] in idx else first([i for i in idx if campaign_of[i] == home])
            pairs += [(i, ref, home) for i in left]
            if centers[home] in idx:
                # a text that opens with this template's letter but sits in another campaign (it goes on
                # to paste that campaign's letter too) moves here: the letter it starts with is the one it sent
                movers += [(i, ref, home) for i in idx if placed[i] and campaign_of[i] != home
                           and i not in center_set]
        else:
            ref = first(left)
            new_refs.append(ref)
            pairs += [(i, ref, -len(new_refs)) for i in left if i != ref]
    n_left = len(pairs)
    pairs += movers
    keep = [frozenset((stance(p[0]), stance(p[1]))) not in _OPPOSITE for p in pairs]
    n_left = sum(keep[:n_left])
    pairs = [p for p, k in zip(pairs, keep, strict=True) if k]
    if not pairs:
        return campaigns, centers, members_of
    verdicts = _verify([p[0] for p in pairs], [p[1] for p in pairs], grams, params)
    shared = np.array([float(c.sum()) for c in verdicts.covered])
    words = texts.n_words[[p[0] for p in pairs]]
    # the short-text rule only where no campaign vouches for the letter: two short answers that
    # quote one question of the notice share an opening too
    new_group = np.array([p[2] < 0 for p in pairs], dtype=bool)
    need = np.where(new_group & (words < params.short_text_words), params.short_containment, params.opening_containment)
    ok = (shared >= params.min_shared_words) & (verdicts.similarity >= need)
    # a move must leave the campaign it comes from a campaign (its template and one more copy)
    leaving: dict[int, int] = defaultdict(int)
    for j in range(n_left, len(pairs)):
        if ok[j]:
            old = int(campaign_of[pairs[j][0]])
            if len(members_of[old]) - leaving[old] - 1 < 1:
                ok[j] = False
            else:
                leaving[old] += 1
    # the additions are counted against the campaign's template (or the new campaign's)
    accepted_of: dict[int, list[int]] = defaultdict(list)
    for j in np.flatnonzero(ok).tolist():
        text, ref, where = pairs[j]
        accepted_of[centers[where] if where >= 0 else ref].append(j)
    if not accepted_of:
        return campaigns, centers, members_of
    template_of = {j: (centers[pairs[j][2]] if pairs[j][2] >= 0 else pairs[j][1]) for js in accepted_of.values() for j in js}
    # similarity and additions against the template itself, when the reference was another member
    redo = [j for j, t in template_of.items() if t != pairs[j][1]]
    sim = verdicts.similarity.copy()
    covered = list(verdicts.covered)
    if redo:
        # and the template itself must explain the text as much: a text that shares its opening
        # with a member but nothing with the template is that member's letter, not this one's
        again = _verify([pairs[j][0] for j in redo], [template_of[j] for j in redo], grams, params)
        for k, j in enumerate(redo):
            sim[j], covered[j] = again.similarity[k], again.covered[k]
            if again.covered[k].sum() < params.min_shared_words or sim[j] < params.opening_containment:
                ok[j] = False
        for js in accepted_of.values():
            js[:] = [j for j in js if ok[j]]
    additions_of = _member_additions(accepted_of, [p[0] for p in pairs], _Verdicts(ok, sim, covered), texts, docs, params)
    out_campaigns, out_centers, out_members = list(campaigns), list(centers), [list(m) for m in members_of]
    moved = [pairs[j][0] for j in range(n_left, len(pairs)) if ok[j]]
    if moved:
        gone_ids: dict[int, set[str]] = defaultdict(set)
        for i in moved:
            old = int(campaign_of[i])
            out_members[old].remove(i)
            gone_ids[old].update(docs[d].comment_id for d in texts.doc_indices[i])
        for old, ids in gone_ids.items():
            campaign = out_campaigns[old]
            campaign.members = [m for m in campaign.members if m.comment_id not in ids]
    joined: dict[int, list[Member]] = defaultdict(list)
    for template, js in accepted_of.items():
        if not js:
            continue
        where = pairs[js[0]][2]
        if where < 0:
            campaign = _build(template, [(pairs[j][0], float(sim[j]), additions_of.get(j, {})) for j in js], texts, docs, params)
            if campaign is not None:
                out_campaigns.append(campaign)
                out_centers.append(template)
                out_members.append([pairs[j][0] for j in js])
            continue
        for j in js:
            for d in texts.doc_indices[pairs[j][0]]:
                raw = docs[d].text or ""
                joined[where].append(Member(docs[d].comment_id, round(float(sim[j]), 4), False,
                                            list(additions_of.get(j, {}).get(raw, []))))
            out_members[where].append(pairs[j][0])
    for c, members in joined.items():
        campaign = out_campaigns[c]
        campaign.members = [campaign.members[0], *sorted([*campaign.members[1:], *members], key=lambda m: m.comment_id)]
    placed[:] = False
    for c in range(len(out_campaigns)):
        placed[[out_centers[c], *out_members[c]]] = True
    return out_campaigns, out_centers, out_members


def _also_copies(campaigns: list[Campaign], centers: list[int], members_of: list[list[int]], texts: _Texts,
                 grams: _Grams, docs, params: CampaignParams, stances: dict[int, str],
                 stance_of: Callable[[str], str] | None) -> None:
    """Step 10 of the module doc. A comment is a member of one campaign only, so sizes add up; a
    text that copies another campaign's letter as well (it holds as much of that template as a
    member must: `min_containment` of its distinct k-grams, `short_containment` for a template
    under `short_text_words`, in passages of `min_shared_words` or more) is listed with it:
    - `contained_in`: the campaigns whose template holds this one's (a letter pasted into a
      longer letter: every copy of that one copies this one too), by campaign key;
    - `also_copies`: members of other campaigns that hold this template in words their own
      template does not have (a sender who pasted two letters), by comment id."""
    n_c = len(campaigns)
    if n_c < 2:
        return
    t_grams, t_valid, t_offsets = grams.of(np.array(centers, dtype=np.int64))
    t_owner = np.repeat(np.arange(n_c, dtype=np.int64), np.diff(t_offsets))[t_valid]
    t_grams = t_grams[t_valid]
    order = np.lexsort((t_owner, t_grams))
    t_grams, t_owner = t_grams[order], t_owner[order]
    distinct = np.ones(len(t_grams), dtype=bool)
    distinct[1:] = (t_grams[1:] != t_grams[:-1]) | (t_owner[1:] != t_owner[:-1])
    t_grams, t_owner = t_grams[distinct], t_owner[distinct]
    t_distinct = np.bincount(t_owner, minlength=n_c)
    # one table entry per k-gram; its templates are t_owner[start : start + count]
    new = np.ones(len(t_grams), dtype=bool)
    new[1:] = t_grams[1:] != t_grams[:-1]
    table, start = t_grams[new], np.flatnonzero(new)
    count = np.diff(np.append(start, len(t_grams)))
    own_table = np.unique(_salted(t_grams, t_owner))
    t_words = texts.n_words[np.array(centers, dtype=np.int64)]
    need = np.where(t_words < params.short_text_words, params.short_containment, params.min_containment)
    min_grams = max(1, params.min_shared_words - params.shingle_words + 1)  # k-grams in a run of that many words

    def held(units: np.ndarray, home: np.ndarray, beyond_own: bool) -> list[tuple[int, int, float]]:
        """(unit position, other campaign, share of its template) for the other templates a unit holds;
        with `beyond_own`, counting only k-grams its own campaign's template does not have."""
        out: list[tuple[int, int, float]] = []
        size = max(1, params.chunk_texts // 4)
        for first in range(0, len(units), size):
            m_grams, valid, offsets = grams.of(units[first : first + size])
            owner = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
            pos = _lookup(table, m_grams)
            hit = valid & (pos >= 0)
            if beyond_own:
                hit &= _lookup(own_table, _salted(m_grams, home[first + owner])) < 0
            owner, pos = owner[hit], pos[hit]
            if not len(pos):
                continue
            key = _sorted_unique(owner * len(table) + pos)  # each distinct k-gram of a unit once
            owner, pos = key // len(table), key % len(table)
            at, _ = _ranges(np.append(start, len(t_grams)), pos)
            campaign = t_owner[at]
            unit = np.repeat(owner, count[pos])
            other = campaign != home[first + unit]
            pair, n_shared = _sorted_unique(unit[other] * n_c + campaign[other], return_counts=True)
            unit, campaign = pair // n_c, pair % n_c
            share = n_shared / np.maximum(t_distinct[campaign], 1)
            ok = (n_shared >= min_grams) & (share >= need[campaign])
            out += [(first + int(u), int(c), float(v)) for u, c, v in zip(unit[ok], campaign[ok], share[ok], strict=True)]
        return out

    stance = _stance_reader(stances, stance_of, texts, docs)

    def opposite(i: int, c: int) -> bool:  # it quotes that letter to answer it
        return frozenset((stance(i), stance(centers[c]))) in _OPPOSITE

    inside = np.array(centers, dtype=np.int64)
    for u, c, share in held(inside, np.arange(n_c, dtype=np.int64), beyond_own=False):
        if not opposite(int(inside[u]), c):
            campaigns[c].contained_in.append((campaigns[u].key, round(share, 4)))
    units = np.array([i for c in range(n_c) for i in members_of[c]], dtype=np.int64)
    home = np.array([c for c in range(n_c) for _ in members_of[c]], dtype=np.int64)
    also: dict[int, list[AlsoCopy]] = defaultdict(list)
    for u, c, share in held(units, home, beyond_own=True):
        if not opposite(int(units[u]), c):
            also[c] += [AlsoCopy(docs[d].comment_id, round(share, 4)) for d in texts.doc_indices[int(units[u])]]
    for c, copies in also.items():
        campaigns[c].also_copies = sorted(copies, key=lambda a: a.comment_id)


def _member_additions(accepted_of: dict[int, list[int]], members: list[int], verdicts: _Verdicts,
                      texts: _Texts, docs, params) -> dict[int, dict[str, list[str]]]:
    """Unique additions of every accepted member (by position in `members`), per distinct raw text.

    Computed for all members of a round at once; templates too short to make a
    campaign are skipped (their campaign is dropped anyway).
    """
    if not params.with_additions:
        return {}
    items: list[tuple[str, np.ndarray, str]] = []
    owners: list[tuple[int, str]] = []
    for center, accepted in accepted_of.items():
        if not accepted or texts.n_words[center] < params.min_template_words:
            continue
        padded_template = " " + texts.normalized(center) + " "
        for j in accepted:
            seen: set[str] = set()
            for d in texts.doc_indices[members[j]]:
                raw = docs[d].text or ""
                if raw not in seen:
                    seen.add(raw)
                    items.append((raw, verdicts.covered[j], padded_template))
                    owners.append((j, raw))
    result: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for (j, raw), additions in zip(owners, _additions_many(items, params), strict=True):
        result[j][raw] = additions
    return result


def _build(center: int, accepted: list[tuple[int, float, dict[str, list[str]]]], texts: _Texts, docs, params) -> Campaign | None:
    """The campaign around template text `center`, from its verified members and their additions per raw text."""
    if texts.n_words[center] < params.min_template_words:
        return None
    template_doc = docs[texts.doc_indices[center][0]]
    members = [Member(docs[j].comment_id, 1.0, True, []) for j in texts.doc_indices[center]]
    for i, similarity, additions_by_raw in accepted:
        for j in texts.doc_indices[i]:
            raw = docs[j].text or ""
            members.append(Member(docs[j].comment_id, round(similarity, 4), False, list(additions_by_raw.get(raw, []))))
    if len(members) < params.min_campaign_size:
        return None
    template_member, rest = members[0], sorted(members[1:], key=lambda m: m.comment_id)
    return Campaign(
        key=texts.keys[center],
        template_comment_id=template_doc.comment_id,
        template_text=template_doc.text or "",
        members=[template_member, *rest],
    )


# ---------------------------------------------------------------- stable ids

_ID_NUMBER = re.compile(r"(\d+)$")


def assign_stable_ids(
    campaigns: list[Campaign],
    previous: list[tuple[str, str, set[str]]],
    prefix: str = "C",
) -> dict[str, str]:
    """{campaign.key: campaign_id}, keeping the ids of campaigns that still exist.

    `previous` holds (campaign_id, template_comment_id, member_ids) from the
    last run. A campaign keeps a previous id when it has the same template, or
    else when it shares the most members with it (each id used once). New
    campaigns get the next unused numbers, in order of size then key.
    """
    ordered = sorted(campaigns, key=lambda c: (-len(c.members), c.key))
    result: dict[str, str] = {}
    used: set[str] = set()
    by_template = {template: cid for cid, template, _ in previous}
    for c in ordered:
        cid = by_template.get(c.template_comment_id)
        if cid is not None and cid not in used:
            result[c.key] = cid
            used.add(cid)
    # largest member overlap, greedily, deterministic ties
    previous_of: dict[str, list[str]] = defaultdict(list)
    for cid, _, members in previous:
        if cid not in used:
            for member in members:
                previous_of[member].append(cid)
    overlaps = []
    for c in ordered:
        if c.key in result:
            continue
        shared: dict[str, int] = defaultdict(int)
        for m in c.members:
            for cid in previous_of.get(m.comment_id, ()):
                shared[cid] += 1
        overlaps.extend((-count, c.key, cid) for cid, count in shared.items())
    for _, key, cid in sorted(overlaps):
        if key in result or cid in used:
            continue
        result[key] = cid
        used.add(cid)
    numbers = [int(m.group(1)) for cid, _, _ in previous if (m := _ID_NUMBER.search(cid))]
    next_number = max(numbers, default=0) + 1
    for c in ordered:
        if c.key not in result:
            result[c.key] = f"{prefix}{next_number:04d}"
            next_number += 1
    return result
