"""Themes over the unique texts, at passage level, with verbatim exemplar quotes.

Input is one `Unit` per unique text: a campaign (its template, counted once but
weighted by its size; key `campaign:<campaign_id>`) or a singleton comment (key
= comment id). Each unit is cut into passages (runs of sentences inside a
paragraph, up to ~400 characters), so a long letter can carry several themes.
Framing sentences ("X appreciates the opportunity to respond on behalf of...",
"Re: ... Docket ID ...") are left out when the text has anything else to say,
and disclaimers ("This submission may or may not contain error") and an e-mail
signature block never join a passage: they are about the letter, not the rule.
A text raises its main theme and any other theme that holds a fifth of its
passages or three of them (`_substantive`), not every theme one passage grazes.

Method (deterministic: fixed random_state, one thread, inputs sorted by key):
1. TF-IDF (unigrams + bigrams, English and comment boilerplate stop words, and
   the docket title's words: its subject, in most passages, is no topic)
   fitted on the passages (a deterministic sample of at most `fit_sample`
   passages on big dockets), reduced with truncated SVD (LSA), rows unit length.
2. First run: k-means for every k in [min_themes, max_themes]; the k with the
   best silhouette (cosine, on a fixed sample) wins.
   Re-run (`previous` themes given): each previous theme is rebuilt in the new
   vector space from the passages of the units it held last time, and every
   passage joins the nearest rebuilt theme when it is similar enough. Only the
   passages that fit no previous theme are clustered afresh; a cluster there
   becomes a new theme if it is big enough and unlike every existing one. A
   few spherical k-means steps then settle all centroids. So themes that still
   exist keep their identity (and id), and new ids mean new topics.
3. Themes whose centroids are nearly the same direction (cosine >=
   `merge_similarity`), or far closer to each other than to the rest, or that
   share 3 of their 8 heaviest distinctive terms, are merged, and merged again
   after settling: two clusters about sex and gender identity are one theme
   for a reader.
4. Passages far from every centroid, and themes of fewer than `min_units`
   unique texts, go to a catch-all "Other topics" (dropped, its texts in no
   theme, when it has fewer than 3 texts or 3 quotable sentences).
5. Label: the most distinctive phrase of the theme: a 2-5 word n-gram that
   does not begin or end with a stop word, occurring verbatim in many of the
   theme's texts and rarely elsewhere (score = share inside x log-lift over the
   other themes, longer phrases slightly preferred), shown in its most common
   spelling; phrases made of the theme's top terms first, pieces of names
   ("Patient Safety" of "Patient Safety Action Network") last. A theme with
   no such phrase gets "" and the caller names it (`overall_label`).
   Keywords: the top terms of the theme's mean TF-IDF vector.
   Anchoring: a text stays in a theme only if it uses one of the theme's own words (its label's
   or its three heaviest terms' that are not generic, singular or plural); the others go to the
   catch-all (`_anchor`, once), and membership and labels are rebuilt from what is left.
6. Quotes: whole sentences among the theme's most central passages, closest
   to the theme, stating a position, a demand or evidence, and using the
   label's words (no greeting, "see attached", sign-off, disclaimer, offer of
   help, company self-description or fragment), from distinct texts; always
   `text[start:end]` of the unit's effective text, so an exact substring.
7. Ids: a theme seeded by a previous theme keeps its id; on a first run, for
   previous themes given only by keywords, or when the last run used other
   theme parameters (`afresh`), ids are matched by keyword overlap (Jaccard >=
   `match_jaccard`). Unmatched themes get new ids.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from comments.analysis.normalize import sentences


@dataclass(frozen=True)
class ThemeParams:
    min_themes: int = 3
    max_themes: int = 16
    min_passage_words: int = 8
    max_passage_chars: int = 400
    max_passages_per_unit: int = 30
    fit_sample: int = 20000           # passages used to fit the vocabulary and clusters
    silhouette_sample: int = 3000
    svd_components: int = 60
    min_similarity: float = 0.15      # cosine to the centroid below which a passage is "other"
    fit_similarity: float = 0.35      # re-run: cosine at which a passage surely fits a previous theme
    fit_quantile: float = 0.1         # ... or as close as this share of the theme's own passages
    merge_similarity: float = 0.6     # centroids at least this close are one theme
    merge_floor: float = 0.25         # ... or at least this close and much closer than to the rest
    merge_lift: float = 1.7
    merge_rest_quantile: float = 0.75
    merge_shared_terms: int = 3       # ... or at least merge_floor close and sharing this many of their top 8 terms
    new_theme_tightness: float = 0.5   # re-run: mean cosine of a new cluster's passages to its centroid
    min_units: int = 3                # a theme needs at least this many unique texts
    min_theme_share: float = 0.2      # a text raises a theme besides its main one with this share of its passages
    min_theme_passages: int = 3       # ... or with this many of them
    match_jaccard: float = 0.25
    label_sample: int = 600           # passages per theme read to pick its label
    random_state: int = 0
    anchor_labels: bool = True        # a member text uses a word of its theme's label
    anchor_terms: int = 3             # ... or one of its heaviest terms that is not generic
    method: int = 3                   # bumped when the method changes: a run with another re-clusters


@dataclass(frozen=True)
class Unit:
    key: str            # stable key of the unique text ("campaign:<id>" or comment id)
    comment_id: str     # the comment whose effective text `text` is
    text: str
    comments: int = 1   # posted comments this text stands for
    submissions: int = 1


@dataclass(frozen=True)
class PreviousTheme:
    """A theme of the last run, as `load_previous_themes` reads it back."""
    theme_id: str
    keywords: tuple[str, ...] = ()
    is_catch_all: bool = False
    unit_keys: tuple[str, ...] = ()   # unit keys it held (campaign:<id> or comment id)


@dataclass
class Theme:
    theme_id: str
    label: str
    keywords: list[str]
    is_catch_all: bool
    unit_keys: list[str]
    unique_texts: int
    comments: int
    submissions: int
    quotes: list[dict]  # [{"comment_id": ..., "quote": ...}]


@dataclass
class ThemeResult:
    themes: list[Theme]
    # unit key -> [(theme_id, score)] (score = share of its passages), best first
    assignments: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    k: int = 0
    sampled: bool = False  # clustered on a sample of the passages (`ThemeParams.fit_sample`)


_EXTRA_STOP = {
    "cms", "hhs", "comment", "comments", "commenter", "thank", "thanks", "opportunity", "attached",
    "attachment", "please", "regarding", "request", "information", "rfi", "dear", "sincerely",
    "respectfully", "submit", "submitted", "submitting", "letter", "file", "pdf", "centers", "medicare",
    "medicaid", "services", "service", "would", "could", "also", "may", "might", "must", "should",
    "will", "one", "many", "us", "our", "we", "it", "nc", "re", "etc", "like", "need", "needs",
    "make", "use", "used", "using", "provide", "including", "well", "able", "via", "per",
    "way", "ways", "thing", "things", "lot", "really", "just", "time", "www", "https", "http", "com",
    "org", "gov", "html", "page", "pages", "document", "documents", "questions", "question",
    "appreciate", "appreciates", "appreciated", "behalf", "pleased", "respond", "response", "responses",
    "writing", "write", "urge", "strongly", "believe", "think", "feel", "want", "know", "don", "doesn",
    "important", "ensure", "additionally", "furthermore", "however", "therefore", "new", "current",
    "currently", "proposed", "proposal", "rule", "agency", "administration",
}
# Links and reference codes say nothing a reader would call a theme.
_NOISE = re.compile(r"https?://\S+|www\.\S+|\b[A-Z]{2,}-\d[\w-]*")
# Passages about the letter itself rather than the rule.
_FRAMING = re.compile(
    r"appreciates? the opportunity|thank you for the opportunity|on behalf of|pleased to (?:submit|respond|provide)"
    r"|opportunity to (?:respond|comment|provide|submit|share|offer)|docket id\b|comment category\b"
    r"|look forward to|do not hesitate|(?:please|feel free to) contact|if you have (?:any )?questions"
    r"|(?:submit|offer|provide) (?:the following|these|our) comments|in response to the|respectfully submitted"
    r"|request for information|(?:^|\W)(?:dear|sincerely|regards)\W",
    re.IGNORECASE,
)
# Quotes a staffer cannot use: greetings, pointers to attachments, sign-offs.
_UNQUOTABLE = re.compile(
    r"^\s*(?:dear|hello|hi|to whom|re:|subject:)|docket id\b|comment category\b|see (?:the )?attach\w*|please see|attached (?:file|letter|comments?)|\b(?:is|are) attached\b"
    r"|\b(?:sincerely|regards|respectfully submitted|thank you)\b",
    re.IGNORECASE,
)
# A sign-off line: "Jane Doe, MA Counseling Psychology, retired ..." (a private name).
_SIGNATURE = re.compile(r"^\s*(?:[A-Z][a-z]+\.? ){1,2}[A-Z][a-z'’-]+,\s")


def passages(text: str, params: ThemeParams) -> list[tuple[int, int]]:
    """Spans of passages: consecutive sentences within a paragraph, up to max_passage_chars."""
    return _passages(text, params)[0]


def _passages(text: str, params: ThemeParams) -> tuple[list[tuple[int, int]], bool]:
    """(passage spans, whether they are all framing): framing sentences ("X appreciates the
    opportunity...", "Re: ... Docket ID ...") are left out when the text has anything else to say."""
    spans = sentences(text)
    # An e-mail signature ("--" on its own line, in the letter's second half) and what follows
    # it is the sender's footer, not the comment.
    sig = _SIG_DELIMITER.search(text, len(text) // 2) if "\n" in text else None
    if sig:
        spans = [(s, e) for s, e in spans if s < sig.start()]
    # a disclaimer about the submission joins no passage, and neither does framing (when there is more)
    spans = [(s, e) for s, e in spans if not _is_meta(text[s:e])]
    framing = [is_framing(text[s:e]) for s, e in spans]
    kept = _group(text, [sp for sp, f in zip(spans, framing, strict=True) if not f], params)
    if kept or not any(framing):
        return kept[: params.max_passages_per_unit], False
    return _group(text, spans, params)[: params.max_passages_per_unit], True


def _group(text: str, spans: list[tuple[int, int]], params: ThemeParams) -> list[tuple[int, int]]:
    """Consecutive sentences within a paragraph as passages of up to `max_passage_chars`; a sentence
    left out between two breaks the passage (a passage is always one stretch of the text)."""
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    last_end = None
    for start, end in spans:
        if cur is not None:
            gap = text[cur[1]:start]
            if (last_end is not None and start > last_end and _skipped(gap)) or "\n\n" in gap \
                    or gap.count("\n") >= 2 or end - cur[0] > params.max_passage_chars:
                out.append(cur)
                cur = None
        cur = (start, end) if cur is None else (cur[0], end)
        last_end = end
    if cur is not None:
        out.append(cur)
    kept = [(s, e) for s, e in out if len(text[s:e].split()) >= params.min_passage_words]
    if not kept and spans and len(text[spans[0][0]:spans[-1][1]].split()) >= 4:
        kept = [(spans[0][0], spans[-1][1])]
    return kept


def _skipped(gap: str) -> bool:
    """Whether the text between two kept sentences holds a sentence that was left out."""
    return len(gap.split()) >= 2


_SIG_DELIMITER = re.compile(r"\n[ \t]*(?:--|—|_{2,})[ \t]*\n")
_META_HINTS = ("may or may not", "contain", "views", "own", "rights reserved", "mail", "message", "confidential",
               "sent from", "submi", "letter", "phone", "contact", "assistance", "to help", "to assist", "to answer",
               "to discuss", "to meet", "forward to", "opportunity")


def _is_meta(sentence: str) -> bool:
    """A sentence about the submission itself (a disclaimer, an e-mail footer): `significance.META`."""
    low = sentence.lower()
    if not any(h in low for h in _META_HINTS):
        return False
    from comments.analysis.significance import META

    return bool(META.search(sentence))


# Every framing pattern contains one of these; most passages contain none, and
# a substring test is ~50x cheaper than the regex.
_FRAMING_HINTS = ("opportunit", "behalf", "pleased to", "the following", "these comments", "our comments",
                  "in response to", "respectfully", "request for information", "dear", "sincerely", "regards",
                  "docket id", "comment category", "look forward", "hesitate", "contact", "questions")


def is_framing(passage: str) -> bool:
    """A passage about the letter itself (thanks, on behalf of, in response to the RFI)."""
    low = passage.lower()
    return any(h in low for h in _FRAMING_HINTS) and bool(_FRAMING.search(passage))


def _stable_order(keys: list[str]) -> list[int]:
    return sorted(range(len(keys)), key=lambda i: hashlib.blake2b(keys[i].encode(), digest_size=8).digest())


def load_previous_themes(con, docket_id: str) -> list[PreviousTheme]:
    """The docket's stored themes with the unit keys each one held (for `find_themes(previous=...)`)."""
    rows = con.execute(
        """
        with held as (
            select distinct ct.theme_id,
                   coalesce('campaign:' || cm.campaign_id, ct.comment_id) as unit_key
            from comment_themes ct
            left join campaign_members cm on cm.comment_id = ct.comment_id and cm.docket_id = ct.docket_id
            where ct.docket_id = ?
        )
        select t.theme_id, t.keywords, t.is_catch_all, list(h.unit_key order by h.unit_key) filter (where h.unit_key is not null)
        from themes t left join held h using (theme_id)
        where t.docket_id = ?
        group by all order by t.theme_id
        """,
        [docket_id, docket_id],
    ).fetchall()
    return [PreviousTheme(tid, tuple(kw or ()), bool(catch), tuple(keys or ())) for tid, kw, catch, keys in rows]


FIXED_POINT_PASSES = 4  # re-runs a sampled first analysis may take to reach its fixed point


def find_themes(
    units: list[Unit],
    params: ThemeParams | None = None,
    previous: list[PreviousTheme] | list[tuple[str, list[str], bool]] | None = None,
    context: str = "",
    title: str = "",
    afresh: bool = False,
    seen: set[str] | frozenset[str] = frozenset(),
    stance_name: Callable[[str, list[str], list[str]], str | None] | None = None,
) -> ThemeResult:
    """Themes over `units`. `previous`: the last run's themes (`load_previous_themes`), or
    [(theme_id, keywords, is_catch_all)] when only keywords are known (a codebook's seeds).
    `context`: the docket's title and abstract; no label repeats them. `title`: the docket's
    title, whose words are the docket's subject and not features of any topic. `afresh`: cluster
    as on a first run and use `previous` only to carry ids over by keyword overlap. `seen`: keys of
    the units the last run analyzed (those in no theme included), so that they do not count as new.
    `stance_name(theme_id, unit keys, keywords)`: the name a theme with no specific label would get
    from its texts' stance (None: it keeps its own, e.g. an analyst's); themes with no label that
    would get the same name are merged into one."""
    import sklearn.cluster  # noqa: F401  (load the BLAS/OpenMP libraries before limiting them:
    import sklearn.decomposition  # noqa: F401  threadpool_limits only reaches libraries already loaded)
    import sklearn.metrics  # noqa: F401
    from threadpoolctl import threadpool_limits

    prev = [p if isinstance(p, PreviousTheme) else PreviousTheme(p[0], tuple(p[1] or ()), bool(p[2]))
            for p in (previous or [])]
    # One thread: on a shared 2-core machine OpenMP/BLAS threads spin against
    # each other (k-means ran 13x slower with them), and one thread keeps the
    # floating-point summation order, hence the result, fixed.
    with threadpool_limits(limits=1):
        params = params or ThemeParams()
        space = _space(units, params, title)
        result = _find_themes(space, params, prev, context, title, afresh, set(seen), stance_name)
        if result.sampled and (afresh or not prev):
            # Clustered on a sample of the passages (a big docket), a first run is not yet what a
            # re-run from it gives (the re-run starts from every text the themes hold, sampled or
            # not): ICEB-2015-0002's second analysis of unchanged data moved 1.2% of its theme
            # memberships, which tracking would report as change. Runs from the result until one
            # changes nothing (ICEB: the second; at most FIXED_POINT_PASSES), so the first analysis
            # stores the fixed point.
            every_unit = {u.key for u in units}
            for _ in range(FIXED_POINT_PASSES):
                again = [PreviousTheme(t.theme_id, tuple(t.keywords), t.is_catch_all, tuple(t.unit_keys))
                         for t in result.themes]
                following = _find_themes(space, params, again, context, title, False, every_unit, stance_name)
                settled = (following.assignments == result.assignments
                           and [(t.theme_id, t.label, t.unit_keys) for t in following.themes]
                           == [(t.theme_id, t.label, t.unit_keys) for t in result.themes])
                result = following
                if settled:
                    break
        return result


@dataclass
class _Space:
    """The passages of the units and their vectors: what every pass over the same texts shares."""
    units: list[Unit]
    p_unit: list[int]
    p_span: list[tuple[int, int]]
    p_text: list[str]
    framing: np.ndarray | None = None
    order: list[int] = field(default_factory=list)
    fit_idx: np.ndarray | None = None
    vec: object = None  # None: too little text to cluster (every unit goes to the catch-all)
    svd: object = None
    x_all: object = None
    z_all: np.ndarray | None = None
    phrases_of: dict[int, set[str]] = field(default_factory=dict)  # passage -> its label phrases
    # What every pass would work out again from the same texts (a first run of a big docket makes
    # up to 1 + FIXED_POINT_PASSES passes): the generic words per docket context, and whether a
    # phrase is part of a name in a theme's label sample (phrase, the sample's passages).
    generic_of: dict[str, frozenset[str]] = field(default_factory=dict)
    name_parts: dict[tuple[str, tuple[int, ...]], bool] = field(default_factory=dict)


def _space(units: list[Unit], params: ThemeParams, title: str) -> _Space:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.preprocessing import normalize as l2

    units = sorted(units, key=lambda u: u.key)
    p_unit: list[int] = []
    p_span: list[tuple[int, int]] = []
    p_text: list[str] = []
    p_framing: list[bool] = []
    for ui, u in enumerate(units):
        spans, framing_only = _passages(u.text or "", params)
        for s, e in spans:
            p_unit.append(ui)
            p_span.append((s, e))
            t = u.text[s:e]
            p_text.append(_NOISE.sub(" ", t) if "/" in t or "-" in t or "www." in t else t)  # (skip the regex when it cannot match)
            p_framing.append(framing_only)
    space = _Space(units, p_unit, p_span, p_text)
    if len(set(p_unit)) < max(params.min_units, 2) or len(p_text) < 6:
        return space

    # The docket's own subject (its title's words: "national directory healthcare providers") is
    # in most passages and says nothing about which topic a passage raises: not a feature.
    stop = sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP | _title_words(title))
    n = len(p_text)
    # Cover notes ("X is pleased to respond to the RFI...") are not a topic: they
    # go to the catch-all and do not shape the clusters.
    framing = np.array(p_framing, dtype=bool)
    order = [i for i in _stable_order([f"{units[p_unit[i]].key}:{p_span[i][0]}" for i in range(n)]) if not framing[i]]
    if len(order) < 6:
        return space
    fit_idx = np.array(sorted(order[: params.fit_sample]))
    vec = TfidfVectorizer(
        ngram_range=(1, 2), stop_words=stop, token_pattern=r"(?u)\b[a-zA-Z]{3,}(?:-[a-zA-Z]+)*\b",
        min_df=2 if len(fit_idx) >= 50 else 1, max_df=0.5, sublinear_tf=True, max_features=30000,
        dtype=np.float32,
    )
    try:
        x_fit = vec.fit_transform([p_text[i] for i in fit_idx])
    except ValueError:  # empty vocabulary
        return space
    x_all = x_fit if len(fit_idx) == n else vec.transform(p_text)
    n_comp = max(2, min(params.svd_components, x_fit.shape[1] - 1, len(fit_idx) - 1))
    svd = TruncatedSVD(n_components=n_comp, n_iter=3, random_state=params.random_state)
    svd.fit(x_fit)
    # Every passage projected the same way (not fit_transform's U*Sigma for the
    # sample and X @ V for the rest): a passage's vector must not depend on
    # whether it was sampled, or a re-run could not rebuild last run's themes.
    z_all = l2(svd.transform(x_all))
    return replace(space, framing=framing, order=order, fit_idx=fit_idx, vec=vec, svd=svd, x_all=x_all, z_all=z_all)


def _find_themes(space: _Space, params: ThemeParams, previous: list[PreviousTheme], context: str = "",
                 title: str = "", afresh: bool = False, seen: set[str] | None = None,
                 stance_name: Callable[[str, list[str], list[str]], str | None] | None = None) -> ThemeResult:
    from sklearn.preprocessing import normalize as l2

    seen = seen or set()
    units, p_unit, p_span, p_text = space.units, space.p_unit, space.p_span, space.p_text
    if space.vec is None:
        return _all_other(units, p_unit, p_span, params, previous)
    framing, order, fit_idx, vec, svd, x_all, z_all = (space.framing, space.order, space.fit_idx, space.vec,
                                                       space.svd, space.x_all, space.z_all)
    n = len(p_text)
    z_fit = z_all[fit_idx]
    p_unit_arr = np.asarray(p_unit)

    seeds, seed_ids = (None, None) if afresh else _previous_centroids(
        previous, units, z_fit, p_unit_arr[fit_idx], vec, svd, params)
    fit_units = p_unit_arr[fit_idx]
    held = None
    if seeds is not None:
        seeds, seed_fit, seed_held = seeds
        # a text seen last time in no theme (a cover note, a stray remark) is not new either
        # (themes known only by their words, a codebook's, held nothing: every text is placed anew)
        held_before = {k for p in previous for k in p.unit_keys}
        held_before |= seen if held_before else set()
        unit_is_new = np.array([u.key not in held_before for u in units], dtype=bool)
        if not unit_is_new[fit_units].any():
            # Nothing new to place: the themes are last run's membership, as it stands.
            held, ids = [h for h in seed_held], list(seed_ids)
        else:
            centroids, ids = _seeded_clusters(seeds, seed_fit, seed_ids, z_fit, fit_units, unit_is_new, params)
    else:
        centroids = _fresh_clusters(z_fit, fit_units, params)
        ids = [""] * (0 if centroids is None else len(centroids))
    if held is None:
        if centroids is None or len(centroids) == 0:
            return _all_other(units, p_unit, p_span, params, previous)
        for _round in range(3):
            # settling after a merge can split the merged topic again along a neighbour (the sex
            # theme re-formed as "male doctor" next to a generic patient-care cluster): merge again
            before = len(centroids)
            centroids, ids = _merge_close(centroids, ids, z_fit, params, svd.components_)
            merged = len(centroids) < before
            allowed = None if afresh else _allowed(ids, units, previous)
            centroids, ids, allowed = _settle(centroids, ids, z_fit, fit_units, params, allowed)
            if not merged:
                break
        sims = z_fit @ centroids.T
        if allowed is not None:
            sims = np.where(allowed[fit_units], sims, -np.inf)
        a = sims.argmax(axis=1)
        a[sims[np.arange(len(a)), a] < params.min_similarity] = -1
        held = [np.unique(fit_units[a == c]) for c in range(len(centroids))]
    terms = np.array(vec.get_feature_names_out())
    generic = space.generic_of.get(title or context)
    if generic is None:
        generic = space.generic_of[title or context] = _generic_words(units, title or context, params)
    words_of = _UnitWords(units)
    # a re-run does not take a text out of a theme it was in last time (`_allowed`: nor put it in another)
    unit_index = {u.key: ui for ui, u in enumerate(units)}
    kept_before = {} if afresh else {
        p.theme_id: frozenset(unit_index[k] for k in p.unit_keys if k in unit_index) for p in previous}
    # Membership, labels, then the texts that use none of their theme's own words leave it
    # (`_anchor`, once), and membership and labels are rebuilt from what is left. A re-run starts
    # from that membership, which `_finalize` keeps, and `_anchor` never takes a text out of a
    # theme that held it last run: so it rebuilds the same themes.
    anchored_once = checked_quotes = not params.anchor_labels
    while True:
        centroids, ids, a_fit = _finalize(held, ids, z_fit, fit_units, params)
        if len(centroids) == 0:
            return _all_other(units, p_unit, p_span, params, previous)
        k = len(centroids)
        p_cluster, p_sim = _place(z_all, centroids, a_fit, fit_idx, fit_units, p_unit_arr, framing, units, params)
        clusters = sorted({int(c) for c in p_cluster} - {_NOT_COUNTED})
        members = {c: np.flatnonzero(p_cluster == c) for c in clusters}
        top_terms = {c: _top_terms(x_all, idx, terms) for c, idx in members.items()}
        labels = _labels(
            {c: idx for c, idx in members.items() if c != -1}, p_text, p_unit_arr, p_sim, params,
            generic=generic, context=_plain(title or context),
            topic={c: {w for t in top_terms[c][:20] for w in t.split()} for c in members},
            core={c: {w for t in top_terms[c][:6] for w in t.split()} for c in members},
            phrases_of=space.phrases_of, name_parts=space.name_parts,
        )
        if not anchored_once:
            anchored_once = True
            anchored = _anchor(p_cluster, p_unit_arr, labels, generic, words_of, params,
                               {c: top_terms[c][: params.anchor_terms] for c in labels},
                               {c: kept_before.get(ids[c], frozenset()) for c in labels})
            if not np.array_equal(anchored, p_cluster):
                held = [np.unique(fit_units[anchored[fit_idx] == c]) for c in range(k)]
                continue
        if not checked_quotes:
            checked_quotes = True
            # a theme narrowed to texts with fewer than 3 quotable sentences is no theme a reader can use
            few = [c for c in labels if len(np.unique(p_unit_arr[members[c]])) <= 2 * params.min_units
                   and len(_theme_quotes(units, members[c][np.argsort(-p_sim[members[c]], kind="stable")].tolist(),
                                         p_unit, p_span, centroids[c], vec, svd, label=labels[c])) < 3]
            if few:
                held = [np.zeros(0, dtype=np.int64) if c in few else np.unique(fit_units[p_cluster[fit_idx] == c])
                        for c in range(k)]
                continue
        if stance_name is not None:
            # Themes with nothing specific that would be named alike by their stance ("General
            # support for the proposal" four times on ICEB-2015-0002: one position split by wording)
            # are one theme, a reader cannot tell them apart. Merged here, before the membership is
            # final, so a re-run starting from it lands on the same themes (no second merge).
            alike: dict[str, list[int]] = defaultdict(list)
            for c in sorted(c for c in labels if not labels[c]):
                name = stance_name(ids[c], [units[u].key for u in np.unique(p_unit_arr[members[c]])],
                                   _keywords(top_terms[c]))
                if name:
                    alike[name].append(c)
            groups = [g for g in alike.values() if len(g) > 1]
            if groups:
                now = [np.unique(fit_units[p_cluster[fit_idx] == c]) for c in range(k)]
                into = {c: max(g, key=lambda c: (len(now[c]), -c)) for g in groups for c in g}
                keep = [c for c in range(k) if into.get(c, c) == c]
                held = [np.unique(np.concatenate([now[o] for o in range(k) if into.get(o, o) == c])) for c in keep]
                ids = [ids[c] for c in keep]
                continue
        break
    themes: list[Theme] = []
    by_cluster: dict[int, Theme] = {}
    for c in clusters:
        idx = members[c]
        top = top_terms[c]
        if c == -1:
            # cover notes last: a catch-all quote should still say something about the rule
            central = (z_all[idx] @ l2(z_all[idx].mean(axis=0, keepdims=True)).T).ravel()
            ranking = np.lexsort((-central, framing[idx]))
        else:
            ranking = np.argsort(-p_sim[idx], kind="stable")
        direction = l2(z_all[idx].mean(axis=0, keepdims=True))[0] if c == -1 else centroids[c]
        quotes = _theme_quotes(units, [int(idx[r]) for r in ranking], p_unit, p_span, direction, vec, svd,
                               want=QUOTE_CANDIDATES, label="" if c == -1 else labels[c])
        member_units = sorted({p_unit[i] for i in idx})
        if c == -1 and (len(member_units) < params.min_units or len(quotes) < 3):
            # a handful of stray remarks is no theme a reader can use: they raise none
            p_cluster[idx] = _NOT_COUNTED
            continue
        theme = Theme(
            theme_id="" if c == -1 else ids[c], label="Other topics" if c == -1 else labels[c],
            keywords=_keywords(top), is_catch_all=(c == -1),
            unit_keys=[units[u].key for u in member_units], unique_texts=len(member_units),
            comments=sum(units[u].comments for u in member_units),
            submissions=sum(units[u].submissions for u in member_units), quotes=quotes,
        )
        themes.append(theme)
        by_cluster[c] = theme
    _assign_ids(themes, previous, params)

    assignments: dict[str, list[tuple[str, float]]] = {}
    per_unit = defaultdict(Counter)
    for i in range(n):
        if p_cluster[i] != _NOT_COUNTED:
            per_unit[p_unit[i]][by_cluster[int(p_cluster[i])].theme_id] += 1
    rank_of = {t.theme_id: r for r, t in enumerate(_ranked(themes))}
    for ui, counts in per_unit.items():
        total = sum(counts.values())
        assignments[units[ui].key] = sorted(
            ((tid, cnt / total) for tid, cnt in counts.items()), key=lambda x: (-x[1], rank_of[x[0]])
        )
    return ThemeResult(themes=_ranked(themes), assignments=assignments, k=k, sampled=len(order) > params.fit_sample)


_NOT_COUNTED = -2  # a passage on a theme its text only grazes: in no theme


def _place(z_all, centroids, a_fit, fit_idx, fit_units, p_unit_arr, framing, units, params):
    """Every passage's theme (`_NOT_COUNTED`: a theme its text only grazes; -1: the catch-all) and
    its similarity to it. Sampled passages: as `_finalize` placed them. The rest (big dockets): the
    nearest of their text's themes, or of any theme for a text with no sampled passage."""
    n, k = len(z_all), len(centroids)
    member = np.zeros((len(units), k), dtype=bool)
    ok = a_fit >= 0
    member[fit_units[ok], a_fit[ok]] = True
    sims = z_all @ centroids.T
    limit = np.where(member.any(axis=1)[:, None], member, True)[p_unit_arr]
    sims = np.where(limit, sims, -np.inf)
    p_cluster = sims.argmax(axis=1)
    p_sim = sims[np.arange(n), p_cluster]
    p_cluster = np.where(p_sim >= params.min_similarity, p_cluster, -1)
    p_cluster[fit_idx] = a_fit
    # A cover note with nothing else ("X is pleased to submit the attached comments") raises no theme.
    p_cluster[framing] = _NOT_COUNTED
    z_fit = z_all[fit_idx]
    p_sim[fit_idx] = np.where(a_fit >= 0, (z_fit * centroids[np.maximum(a_fit, 0)]).sum(axis=1), p_sim[fit_idx])
    # A text counts under the themes it argues, not under every theme one passage grazes.
    p_cluster = _substantive(p_cluster, p_unit_arr, params)
    # Themes too small (in unique texts) fold into the catch-all.
    units_of = defaultdict(set)
    for i in range(n):
        units_of[int(p_cluster[i])].add(int(p_unit_arr[i]))
    small = [c for c in range(k) if len(units_of[c]) < params.min_units]
    if small:
        p_cluster = np.where(np.isin(p_cluster, small), -1, p_cluster)
        p_cluster = _substantive(p_cluster, p_unit_arr, params)
    return p_cluster, p_sim


def _top_terms(x_all, idx, terms) -> list[str]:
    mean = np.asarray(x_all[idx].mean(axis=0)).ravel()
    return [terms[j] for j in np.argsort(-mean, kind="stable")[:40] if mean[j] > 0]


class _UnitWords:
    """Whether a unit's text uses any of some words (singular or plural), its lower-cased text
    computed when first asked for."""

    def __init__(self, units: list[Unit]):
        self.units = units
        self.lower: dict[int, str] = {}

    def uses(self, ui: int, pattern: re.Pattern) -> bool:
        low = self.lower.get(ui)
        if low is None:
            low = self.lower[ui] = (self.units[ui].text or "").lower().replace("’", "'")
        return pattern.search(low) is not None


def _words_pattern(stems: frozenset[str] | set[str]) -> re.Pattern:
    """Any of the words, singular or plural ("directory" also finds "directories")."""
    forms = set()
    for w in stems:
        forms |= {w, w + "s", w + "es"}
        if w.endswith("y"):
            forms.add(w[:-1] + "ies")
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(sorted(map(re.escape, forms), key=lambda f: (-len(f), f)))
                      + r")(?![a-z0-9])")


def _anchor_words(label: str, generic: frozenset[str]) -> frozenset[str]:
    """The label's own words (stemmed): not stop words, not generic, not the docket's."""
    words = [w for w in re.findall(r"[a-z0-9]+", label.lower().replace("’", "'")) if w not in _label_stop()]
    own = frozenset(_stem(w) for w in words if w not in generic and _stem(w) not in generic)
    return own or frozenset(_stem(w) for w in words)


def _anchor(p_cluster, p_unit, labels, generic, words_of, params, top=None, kept=None):
    """Passages of texts that use none of their theme's own words (its label's, and its heaviest
    terms' that are not generic) go to the catch-all, except a theme's texts in `kept[c]` (it held
    them last run); themes left with fewer than `min_units` texts go too (`_substantive` re-applied).

    Why: a k-means cluster takes in general letters that share its vocabulary without arguing its
    topic ("Medical records" held letters of support that never mention a record); audited on the
    two CMS dockets, 2 of the 36 sampled texts this rule takes out argued the label, 27 of the 45 it
    keeps did (docs/analysis.md). A theme holding 30% of the texts or more is left alone: its words
    are "generic" by that very share, so they cannot tell its members (USDA-2017-0002's work
    requirements theme would lose half of its texts, which argue it in words of their own)."""
    out = p_cluster.copy()
    n_units = len(np.unique(p_unit))
    for c, label in labels.items():
        if not label:
            continue
        idx = np.flatnonzero(out == c)
        units = np.unique(p_unit[idx])
        if len(units) >= _DOCKET_WORD_SHARE * n_units:
            # a theme of 30%+ of the texts is the docket's main subject: its own words are
            # "generic" by that very share (`_generic_words`), so they cannot test membership
            continue
        own = _anchor_words(label, generic)
        # the theme's heaviest terms that are its own count as its words too
        own |= {_stem(w) for t in (top or {}).get(c, ()) for w in t.split()
                if w not in generic and _stem(w) not in generic and w not in _label_stop()}
        before = (kept or {}).get(c, frozenset())
        pattern = _words_pattern(own)
        off = [int(u) for u in units if int(u) not in before and not words_of.uses(int(u), pattern)]
        if off:
            out[idx[np.isin(p_unit[idx], off)]] = -1
    out = _substantive(out, p_unit, params)
    counts = {c: len(np.unique(p_unit[out == c])) for c in labels}
    small = [c for c, k in counts.items() if k < params.min_units]
    if small:
        out = np.where(np.isin(out, small), -1, out)
        out = _substantive(out, p_unit, params)
    return out


def _substantive(p_cluster: np.ndarray, p_unit: np.ndarray, params: ThemeParams) -> np.ndarray:
    """Passages on a theme their text does not argue set to `_NOT_COUNTED`.

    A text raises its main theme (the one holding most of its passages; a topic before the
    catch-all) and any other theme that holds at least `min_theme_share` of its passages or
    at least `min_theme_passages` of them. So a form letter about the provider's sex with one
    closing line on the proposal as a whole is counted under the first only, with all its
    copies; a long letter that spends several passages on each of five topics raises all five.
    """
    out = p_cluster.copy()
    live = out != _NOT_COUNTED
    if not live.any():
        return out
    # one integer per (unit, cluster) pair: unit * width + cluster + 1 (the catch-all -1 is 0)
    width = int(out.max()) + 2
    pair = p_unit.astype(np.int64) * width + (out.astype(np.int64) + 1)
    keys, counts = np.unique(pair[live], return_counts=True)
    units, clusters = keys // width, keys % width - 1
    totals = np.bincount(p_unit[live], minlength=int(p_unit.max()) + 1)
    # main theme per unit: most passages, a topic before the catch-all, then the lower cluster number
    order = np.lexsort((clusters, clusters == -1, -counts, units))
    first = np.ones(len(order), dtype=bool)
    first[1:] = units[order][1:] != units[order][:-1]
    is_main = np.zeros(len(keys), dtype=bool)
    is_main[order[first]] = True
    keep = is_main | ((clusters != -1) & ((counts >= params.min_theme_passages)
                                          | (counts >= params.min_theme_share * totals[units])))
    out[live & ~np.isin(pair, keys[keep])] = _NOT_COUNTED
    return out
    pairs = np.stack([p_unit[live], out[live]], axis=1)
    uniq, counts = np.unique(pairs, axis=0, return_counts=True)
    totals = np.bincount(p_unit[live], minlength=int(p_unit.max()) + 1)
    # main theme per unit: most passages, a topic before the catch-all, then the lower cluster number
    order = np.lexsort((uniq[:, 1], uniq[:, 1] == -1, -counts, uniq[:, 0]))
    main = {}
    for r in order:
        main.setdefault(int(uniq[r, 0]), int(uniq[r, 1]))
    keep = set()
    for (u, c), cnt in zip(uniq.tolist(), counts.tolist(), strict=True):
        if c == main[u] or (c != -1 and (cnt >= params.min_theme_passages or cnt >= params.min_theme_share * totals[u])):
            keep.add((u, c))
    drop = np.array([(int(u), int(c)) not in keep for u, c in zip(p_unit.tolist(), out.tolist(), strict=True)])
    out[drop & live] = _NOT_COUNTED
    return out


# --- clustering -------------------------------------------------------------

def _kmeans(z: np.ndarray, k: int, params: ThemeParams):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=params.random_state, n_init=1, max_iter=100).fit(z)


def _fresh_clusters(z_fit: np.ndarray, fit_units: np.ndarray, params: ThemeParams) -> np.ndarray | None:
    """Centroids of the k-means run (k in bounds) with the best silhouette."""
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import normalize as l2

    m = len(z_fit)
    n_units = len(set(fit_units.tolist()))
    k_max = max(params.min_themes, min(params.max_themes, n_units // params.min_units, m // 3))
    k_min = min(params.min_themes, k_max)
    sil_idx = np.array(sorted(_stable_order([str(i) for i in range(m)])[: params.silhouette_sample]))
    best = None
    for k in range(k_min, k_max + 1):
        if k >= m:
            break
        km = _kmeans(z_fit, k, params)
        labels = km.labels_[sil_idx]
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(z_fit[sil_idx], labels, metric="cosine")
        if best is None or score > best[0] + 1e-9:
            best = (score, k, km)
    return None if best is None else l2(best[2].cluster_centers_)


def _sum_rows(z: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """Row sums of z per group (0..k-1): a sparse one-hot product, far faster than np.add.at."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(groups), dtype=z.dtype), (groups, np.arange(len(groups)))), shape=(k, len(groups)))
    return np.asarray(onehot @ z)


def _rebuild(held: list[np.ndarray], z_fit, fit_units, params, start=None) -> np.ndarray:
    """Centroids from unit-level membership (held[j]: the units theme j holds).

    Each passage goes to the nearest of the themes its unit holds (or to the
    catch-all when it is near none), iterated to a fixed point from the mean of
    the units held by one theme only. A function of the membership alone: that
    is what lets a re-run rebuild last run's themes exactly from the stored
    comment_themes rows.
    """
    from sklearn.preprocessing import normalize as l2

    m, d = len(held), z_fit.shape[1]
    n_units = int(fit_units.max()) + 1 if len(fit_units) else 0
    member = np.zeros((n_units, m), dtype=bool)
    for j, uis in enumerate(held):
        member[np.asarray(uis, dtype=np.int64), j] = True
    allowed = member[fit_units]                     # passage x theme
    pure = allowed & (member.sum(axis=1) == 1)[fit_units][:, None]
    centroids = np.zeros((m, d), dtype=z_fit.dtype)
    for j in range(m):
        rows = pure[:, j] if pure[:, j].any() else allowed[:, j]
        if rows.any():
            centroids[j] = z_fit[rows].sum(axis=0)
        elif start is not None:
            centroids[j] = start[j]
    centroids = l2(centroids)
    keep = allowed.any(axis=1)
    z, allowed = z_fit[keep], allowed[keep]
    last = None
    for _ in range(30):
        sims = np.where(allowed, z @ centroids.T, -np.inf)
        best = sims.argmax(axis=1)
        best[sims[np.arange(len(z)), best] < params.min_similarity] = -1
        if last is not None and np.array_equal(best, last):
            break
        last = best
        sums = np.zeros_like(centroids)
        ok = best >= 0
        sums += _sum_rows(z[ok], best[ok], len(sums))
        empty = ~sums.any(axis=1)
        sums[empty] = centroids[empty]
        centroids = l2(sums)
    sims = np.where(allowed, z @ centroids.T, -np.inf)
    best = sims.argmax(axis=1)
    best[sims[np.arange(len(z)), best] < params.min_similarity] = -1
    assignment = np.full(len(z_fit), -1)
    assignment[keep] = best
    return centroids, assignment


def _finalize(held: list[np.ndarray], ids: list[str], z_fit, fit_units, params):
    """Themes as a function of their unit membership alone: centroids and passage
    assignment from `_rebuild`, membership narrowed to what that assignment keeps
    (it only ever shrinks, so this ends), themes of too few texts dropped.

    The result's membership is its own fixed point, and a re-run on the same
    texts starts from exactly that membership (comment_themes), so it lands on
    the same themes, passage for passage.
    """
    ids = list(ids)
    held = [np.asarray(h, dtype=np.int64) for h in held]
    while True:
        centroids, a = _rebuild(held, z_fit, fit_units, params)
        # membership is what a text argues (`_substantive`), so a re-run rebuilds the same
        a = _substantive(a, fit_units, params)
        now = [np.unique(fit_units[a == c]) for c in range(len(held))]
        small = [c for c in range(len(now)) if len(now[c]) < params.min_units]
        if small:
            drop = min(small, key=lambda c: (len(now[c]), ids[c] != "", ids[c]))
            del held[drop], ids[drop]
            if not held:
                return np.zeros((0, z_fit.shape[1]), dtype=z_fit.dtype), ids, np.full(len(z_fit), -1)
            continue
        if all(np.array_equal(x, y) for x, y in zip(now, held, strict=True)):
            return centroids, ids, a
        held = now


def _previous_centroids(previous, units, z_fit, fit_units, vec, svd, params):
    """Each previous (non-catch-all) theme rebuilt in this run's vector space from the
    units it held last time (`_rebuild`); a theme known only by keywords is seeded
    from its keywords read as a tiny document."""
    from sklearn.preprocessing import normalize as l2

    prev = [p for p in previous if not p.is_catch_all]
    if not prev:
        return None, None
    unit_index = {u.key: i for i, u in enumerate(units)}
    present = set(fit_units.tolist())
    ids, held, start = [], [], []
    for p in sorted(prev, key=lambda p: p.theme_id):
        uis = sorted(unit_index[k] for k in p.unit_keys if k in unit_index and unit_index[k] in present)
        if uis:
            ids.append(p.theme_id)
            held.append(np.array(uis))
            start.append(np.zeros(z_fit.shape[1], dtype=z_fit.dtype))
        elif p.keywords and not p.unit_keys:
            z = l2(svd.transform(vec.transform([" ".join(p.keywords)])))[0]
            if z.any():
                ids.append(p.theme_id)
                held.append(np.array([], dtype=np.int64))
                start.append(z.astype(z_fit.dtype))
    if not ids:
        return None, None
    centroids, _ = _rebuild(held, z_fit, fit_units, params, start=np.stack(start))
    # How close a passage must be to count as "fitting" a theme: as close as most
    # of the theme's own passages were (a broad theme accepts looser passages).
    fit = np.full(len(ids), params.fit_similarity, dtype=np.float32)
    for j in range(len(ids)):
        own = np.isin(fit_units, held[j])
        if own.sum() >= 5:
            q = float(np.quantile(z_fit[own] @ centroids[j], params.fit_quantile))
            fit[j] = max(params.min_similarity, min(params.fit_similarity, q))
    return (centroids, fit, held), ids


def _allowed(ids: list[str], units: list[Unit], previous: list[PreviousTheme]) -> np.ndarray | None:
    """Re-run: which themes each unit may join (units x themes), or None on a first run.

    A text seen last time stays in the themes it was in (or the catch-all): a
    re-run does not reshuffle old comments, and a theme born this run is made
    of new texts only (so its label and quotes describe the new topic).
    New texts may join any theme.
    """
    if not previous:
        return None
    held_by: dict[str, set[str]] = defaultdict(set)
    for p in previous:
        for key in p.unit_keys:
            held_by[key].add(p.theme_id)
    out = np.ones((len(units), len(ids)), dtype=bool)
    for ui, u in enumerate(units):
        if u.key in held_by:
            out[ui] = [bool(t) and t in held_by[u.key] for t in ids]
    return out


def _settle(centroids, ids, z_fit, fit_units, params, allowed=None, max_iter: int = 60):
    """Iterate assignment -> unit membership -> `_rebuild` to a fixed point, dropping
    themes of too few texts on the way.

    At the fixed point the themes are exactly what `_rebuild` makes of their own
    membership, so a re-run on the same input, which starts from that
    membership, lands on the same themes.
    """
    ids = list(ids)
    last = None
    for _ in range(max_iter):
        if len(centroids) == 0:
            break
        sims = z_fit @ centroids.T
        if allowed is not None:
            sims = np.where(allowed[fit_units], sims, -np.inf)
        a = sims.argmax(axis=1)
        a[sims[np.arange(len(a)), a] < params.min_similarity] = -1
        held = [np.unique(fit_units[a == c]) for c in range(len(centroids))]
        sizes = [len(h) for h in held]
        if min(sizes) < params.min_units:
            # the smallest goes; ties: the newest
            drop = min(range(len(centroids)), key=lambda c: (sizes[c], ids[c] != "", ids[c]))
            centroids = np.delete(centroids, drop, axis=0)
            if allowed is not None:
                allowed = np.delete(allowed, drop, axis=1)
            del ids[drop]
            last = None
            continue
        if last is not None and len(last) == len(held) and all(np.array_equal(x, y) for x, y in zip(last, held, strict=True)):
            break
        last = held
        centroids, _ = _rebuild(held, z_fit, fit_units, params, start=centroids)
    return centroids, ids, allowed


def _seeded_clusters(seeds, seed_fit, seed_ids, z_fit, fit_units, unit_is_new, params):
    """Previous themes first; fresh clusters only from the passages of new texts that fit none of them."""
    from sklearn.preprocessing import normalize as l2

    sims = z_fit @ seeds.T
    # Texts seen last time already had their say in the themes; a new theme can
    # only come from new texts that fit none of the previous themes.
    unfit = np.flatnonzero(~(sims >= seed_fit).any(axis=1) & unit_is_new[fit_units])
    centroids, ids = seeds, list(seed_ids)
    room = params.max_themes - len(centroids)
    n_unfit_units = len(set(fit_units[unfit].tolist()))
    if room > 0 and n_unfit_units >= params.min_units:
        # The misfits are mostly scattered one-offs; a new topic shows up as a
        # tight cluster among them (members close to their centroid).
        z_new = z_fit[unfit]
        k_new = max(1, min(8, n_unfit_units // params.min_units, len(unfit) // 3))
        new = l2(_kmeans(z_new, k_new, params).cluster_centers_)
        labels = (z_new @ new.T).argmax(axis=1)
        found = []
        for j in range(len(new)):
            got = labels == j
            n_units = len(set(fit_units[unfit][got].tolist()))
            tight = float((z_new[got] @ new[j]).mean()) if got.any() else 0.0
            if n_units < params.min_units or tight < params.new_theme_tightness:
                continue  # too few texts, or not one topic
            if (centroids @ new[j]).max() >= params.merge_similarity:
                continue  # an existing theme already says this
            found.append((-n_units, -tight, j))
        for _, _, j in sorted(found)[:room]:
            centroids = np.vstack([centroids, new[j]])
            ids.append("")
    # No re-centring afterwards: letting centroids move let a weak old theme drift
    # onto a new topic (and hand it its old id), and a new topic's centroid drift
    # onto old, generic passages.
    return centroids, ids


def _shared_top_terms(centroids: np.ndarray, components: np.ndarray, top: int = 8) -> np.ndarray:
    """How many of their `top` heaviest vocabulary terms two centroids share (centroids x centroids),
    not counting terms at the top of more than a fifth of the centroids."""
    weights = centroids @ components
    best = np.argsort(-weights, axis=1, kind="stable")[:, :top]
    onehot = np.zeros((len(centroids), components.shape[1]), dtype=np.int32)
    np.put_along_axis(onehot, best, 1, axis=1)
    # a term at the top of many clusters ("health", "care", "data") is the docket's, not a topic's
    onehot[:, onehot.sum(axis=0) > max(2, 0.2 * len(centroids))] = 0
    return onehot @ onehot.T


def _merge_close(centroids, ids, z_fit, params, components=None):
    """Merge themes that are one topic for a reader (the older id wins).

    Two centroids are "close" when they point nearly the same way (cosine >=
    merge_similarity), or when they are far closer to each other than either
    is to most other themes (cosine >= merge_floor and >= merge_lift x the
    upper quartile of their cosines to the others): on CMS-2022-0163 three clusters about biological
    sex (women/men, male/female doctors, sex vs gender identity) sit at ~0.32
    from each other and ~0.12 from everything else, while generic "provider"
    clusters are ~0.45 from each other and ~0.3 from the rest. The lift test
    only joins fresh clusters: themes that survived from the last run were
    already judged distinct, and a small new topic must not be swallowed by an
    unrelated small theme just because both are far from the rest.
    """
    from sklearn.preprocessing import normalize as l2

    centroids = centroids.copy()
    ids = list(ids)
    a = (z_fit @ centroids.T).argmax(axis=1)
    weight = np.bincount(a, minlength=len(centroids)).astype(float)
    while len(centroids) > 2:
        s = centroids @ centroids.T
        np.fill_diagonal(s, np.nan)
        # How close i usually is to the others: the upper quartile of its cosines
        # (not the mean, which a docket of two unrelated blocks drags down, so
        # that each block would collapse into one theme).
        rest = np.nanquantile(s, params.merge_rest_quantile, axis=1)
        lift = s / np.maximum((rest[:, None] + rest[None, :]) / 2, 0.02)
        fresh = np.array([not i for i in ids])
        # two fresh clusters whose heaviest terms are mostly the same words ("sex, women, gender" and
        # "male, female, doctor, sex") are one topic split by phrasing
        same_words = (_shared_top_terms(centroids, components) >= params.merge_shared_terms) if components is not None \
            else np.zeros_like(s, dtype=bool)
        close = (s >= params.merge_similarity) | (
            (s >= params.merge_floor) & ((lift >= params.merge_lift) | same_words) & np.outer(fresh, fresh)
        )
        np.fill_diagonal(close, False)
        if not close.any():
            break
        score = np.where(close, np.nan_to_num(s), -np.inf)
        i, j = np.unravel_index(int(np.argmax(score)), s.shape)
        keep, drop = sorted((int(i), int(j)), key=lambda c: (ids[c] == "", ids[c], -weight[c], c))
        centroids[keep] = l2((centroids[keep] * weight[keep] + centroids[drop] * weight[drop])[None])[0]
        weight[keep] += weight[drop]
        centroids = np.delete(centroids, drop, axis=0)
        weight = np.delete(weight, drop)
        del ids[drop]
    return centroids, ids


# --- labels, keywords, quotes -------------------------------------------------

# Quotes kept per theme, best first. A briefing shows five; it skips a quote that names a private
# individual and takes the next (on ICEB-2015-0002, 4 of a theme's 5 best named someone).
QUOTE_CANDIDATES = 10

_LABEL_STOP: frozenset[str] | None = None
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’\-][A-Za-z0-9]+)*")
_PHRASE_WORD = re.compile(r"[A-Za-z0-9]+(?:['’\-][A-Za-z0-9]+)*")
_PHRASE_BREAK = re.compile(r"[.;:!?()\[\]{}\"“”,\n\r\t/|]|\s[-–—]+\s|[–—]")


# Verbs that are seldom nouns, and particles: a label neither starts nor ends on one ("ONC to
# consider", "jobs away"), and one does not make a label specific. Only labels: the clustering keeps them.
_LABEL_VERBS = frozenset(
    "consider reconsider allow create include develop require continue protect improve implement establish "
    "promote reduce expand remove understand receive maintain enable encourage prevent obtain apply become "
    "seem come go get give take let keep bring hire stay leave find see say tell ask try seek adopt withdraw "
    "reject approve stop start put away".split()
)


def _label_stop() -> frozenset[str]:
    global _LABEL_STOP
    if _LABEL_STOP is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        _LABEL_STOP = frozenset(ENGLISH_STOP_WORDS | _EXTRA_STOP | _LABEL_VERBS | {"s", "t", "dr", "mr", "ms", "mrs"})
    return _LABEL_STOP


# A label names a thing: it does not end on an adverb, an adjective or a participle
# ("right to clear and accurate", "women seeking gynecologic", "sex assigned").
_NOT_A_HEAD = re.compile(r"(?:ly|ous|ive|ful|able|ible|ical|ologic|[^e]ed)$")
_ADJECTIVES = frozenset(
    "accurate clear available important necessary critical appropriate specific relevant responsible additional "
    "significant certain different similar particular potential unique effective existing various common "
    "complete correct easy hard simple difficult free full good bad best better great high low large small "
    "real true whole able open public young old talented skilled "
    # adjectives on -al, which also ends many nouns ("proposal", "hospital") and so is no rule
    "international national federal local global economic social political financial medical clinical "
    "legal illegal digital mental physical environmental educational technical essential original general "
    "natural cultural regional residential commercial industrial personal rural foreign domestic".split()
)


def _phrases(text: str, max_words: int = 5) -> set[str]:
    """Lower-cased n-grams (1..max_words words) inside a clause, not starting or ending with a stop
    word, and ending on a word that can head a noun phrase."""
    stop = _label_stop()
    out: set[str] = set()
    for chunk in _PHRASE_BREAK.split(text):
        # numbers are words inside a phrase ("extension to 24 months"), never its first or last
        toks = [t.lower().replace("’", "'") for t in _PHRASE_WORD.findall(chunk)]
        ok = [t not in stop and re.sub(r"'s$", "", t) not in stop and len(t) > 2 and not t.isdigit() for t in toks]
        end = [o and t not in _ADJECTIVES and not _NOT_A_HEAD.search(t) for o, t in zip(ok, toks, strict=True)]
        # a modal or an adverb inside makes a clause, not a name ("NLM should sign", "NLM and optionally by")
        clause = [t in _MODALS or (len(t) > 4 and t.endswith("ly") and t not in _LY_NOUNS) for t in toks]
        for i in range(len(toks)):
            if not ok[i] or toks[i].endswith("ly"):
                continue
            for j in range(i, min(i + max_words, len(toks))):
                if clause[j]:
                    break
                if end[j]:
                    out.add(" ".join(toks[i:j + 1]))
    return out


_MODALS = frozenset("should would could must will shall can cannot may might".split())
_LY_NOUNS = frozenset("family supply assembly anomaly monopoly italy july".split())


# Words that name the field rather than an argument in it: a label made only of these (and of
# the docket's title, and of words most of the docket's comments use) says nothing specific.
_GENERIC = frozenset(
    "health healthcare care medical patient patients people person public system systems information service "
    "services program programs issue issues thing things way ways use need needs help support individual "
    "individuals community communities government federal state states country nation national world life "
    "time year years day everyone someone work access quality process option options idea ideas problem "
    "problems concern concerns proposal rule policy policies change changes approach number part lot "
    # a verdict or a letter's own framing, not a topic ("Good decision", "Following reasons"), and the
    # country every federal docket is about ("American people", "United States of America")
    "decision decisions reason reasons following america american americans united usa".split()
)


def _plain(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", (text or "").lower().replace("’", "").replace("'", ""))) + " "


def _stem(word: str) -> str:
    """Plural to singular, roughly ("directories" -> "directory", "providers" -> "provider", "cms's" -> "cms")."""
    word = re.sub(r"['’]s$", "", word)
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


_DOCKET_WORD_SHARE = 0.3  # a word this share of the docket's texts use is the docket's, no topic's


def _generic_words(units: list[Unit], context: str, params: ThemeParams, sample: int = 4000) -> frozenset[str]:
    """Words that cannot make a label specific: generic terms, the docket's title and abstract
    words (and acronyms made of them), and words that 30% or more of the docket's texts use."""
    words = set(_GENERIC)
    ctx = re.findall(r"[a-z0-9]+", (context or "").lower())
    words |= {w for w in ctx if len(w) > 2}
    keys = [u.key for u in units if (u.text or "").strip()]
    chosen = set(_stable_order(keys)[:sample]) if len(keys) > sample else set(range(len(keys)))
    texts = [u.text for u in units if (u.text or "").strip()]
    df: Counter = Counter()
    for i in chosen:
        df.update({w for w in re.findall(r"[a-z][a-z0-9]+", texts[i].lower())})
    n = max(len(chosen), 1)
    words |= {w for w, k in df.items() if k >= _DOCKET_WORD_SHARE * n and n >= 20}
    # the title's acronym words ("NDH" for "National Directory of Healthcare ...") are as common as the title
    words |= {w for w, k in df.items() if 3 <= len(w) <= 5 and k >= 0.05 * n and n >= 20 and _is_acronym_of(w, ctx)}
    return frozenset(_stem(w) for w in words) | frozenset(words)


def _title_words(title: str) -> set[str]:
    """The docket title's content words, with their singular/plural forms and its acronym ("ndh")."""
    words = {w for w in re.findall(r"[a-z]+", title.lower()) if len(w) > 2 and w not in _label_stop()}
    out = set(words) | {_stem(w) for w in words} | {w + "s" for w in words}
    initials = "".join(w[0] for w in re.findall(r"[a-z]+", title.lower()) if w not in _label_stop() and len(w) > 2)
    for n in (3, 4, 5):
        out |= {initials[i:i + n] for i in range(len(initials) - n + 1)}
    return out


def _is_acronym_of(word: str, context_words: list[str]) -> bool:
    initials = "".join(w[0] for w in context_words if w not in _label_stop())
    return len(word) >= 3 and word in initials


def _specific(phrase: str, generic: frozenset[str], context: str) -> bool:
    """A label candidate that names something of its own: not a piece of the docket's title or
    abstract, and with at least one word that is neither generic nor the docket's own."""
    if context and _plain(phrase) in context:  # as words: "F-1" in a label is "F–1" in the title
        return False
    # a naming word of its own: not generic, and not an adjective, adverb or participle
    return any(_stem(w) not in generic and w not in generic and w not in _ADJECTIVES and not _NOT_A_HEAD.search(w)
               and _stem(w) not in _label_stop() for w in phrase.split())


def _labels(members: dict[int, np.ndarray], p_text, p_unit, p_sim, params, generic: frozenset[str] = frozenset(),
            context: str = "", topic: dict[int, set[str]] | None = None,
            core: dict[int, set[str]] | None = None, phrases_of: dict[int, set[str]] | None = None,
            name_parts: dict[tuple[str, tuple[int, ...]], bool] | None = None) -> dict[int, str]:
    """Each theme's most distinctive verbatim phrase (distinct across themes), specific to it,
    preferring phrases made of the theme's own top terms (`topic`: what the theme is about,
    rather than a turn of phrase that happens to recur in it). `phrases_of`: passage -> its
    phrases, filled as needed (passes over the same passages share it); `name_parts` likewise
    holds `_part_of_name` by (phrase, sample passages)."""
    phrases_of = {} if phrases_of is None else phrases_of
    name_parts = {} if name_parts is None else name_parts
    per_theme: dict[int, Counter] = {}
    n_units: dict[int, int] = {}
    samples: dict[int, list[int]] = {}
    for c, idx in members.items():
        # The passages nearest the centroid speak for the theme; a unit counts once per phrase.
        ranked = idx[np.argsort(-p_sim[idx], kind="stable")][: params.label_sample]
        samples[c] = ranked.tolist()
        seen: dict[int, set[str]] = defaultdict(set)
        for i in samples[c]:
            if i not in phrases_of:
                phrases_of[i] = _phrases(p_text[i])
            seen[int(p_unit[i])] |= phrases_of[i]
        counts: Counter = Counter()
        for grams in seen.values():
            counts.update(grams)
        per_theme[c] = counts
        n_units[c] = len(seen)
    total_units = sum(n_units.values())
    scored: dict[int, list[tuple[float, str]]] = {}
    on_topic_of: dict[int, set[str]] = {}
    for c, counts in per_theme.items():
        rest_units = max(total_units - n_units[c], 1)
        need = max(2, math.ceil(0.04 * n_units[c]))
        cand = []
        for g, df in counts.items():
            if df < need or " " not in g or not _specific(g, generic, context):
                continue  # one word alone names a topic, not what is said about it
            words = g.count(" ") + 1
            p_in = df / n_units[c]
            p_out = sum(per_theme[o].get(g, 0) for o in per_theme if o != c) / rest_units
            lift = math.log((p_in + 0.01) / (p_out + 0.01))
            if lift <= 0.4:
                continue
            length = 0.05 if words == 1 else 1.0 + 0.15 * (words - 2)
            words_g = [w for w in g.split() if w not in _label_stop()]
            on_topic = sum(w in (topic or {}).get(c, ()) for w in words_g) / max(len(words_g), 1)
            # a phrase made of the theme's very top terms says what its texts are about
            core_hits = sum(w in (core or {}).get(c, ()) or _stem(w) in (core or {}).get(c, ()) for w in words_g)
            on_topic += core_hits / max(len(words_g), 1)
            # a turn of phrase that is not what the theme is about comes last; one that holds none of
            # the theme's very top terms comes after those that do
            cand.append((p_in * lift * lift * length * (1 + on_topic), g, topic is None or on_topic > 0,
                         core is None or core_hits > 0))
        cand.sort(key=lambda x: (not x[2], not x[3], -x[0], x[1]))
        ranked = _prefer_longer([(sc, g) for sc, g, on, hit in cand if on and hit])
        # a piece of a name ("Patient Safety" of "Patient Safety Action Network") says who wrote,
        # not what is argued: among the best few, such phrases go last
        head, sample_c = ranked[:6], tuple(samples[c])
        missing = [g for _, g in head if (g, sample_c) not in name_parts]
        if missing:
            texts_c = [p_text[i] for i in sample_c]
            name_parts.update({(g, sample_c): _part_of_name(g, texts_c) for g in missing})
        head.sort(key=lambda x: name_parts[(x[1], sample_c)])
        scored[c] = (head + ranked[6:]
                     + _prefer_longer([(sc, g) for sc, g, on, hit in cand if on and not hit])
                     + [(sc, g) for sc, g, on, _ in cand if not on])
        on_topic_of[c] = {g for _, g, on, _ in cand if on}
    labels: dict[int, str] = {}
    used: set[str] = set()
    # Biggest themes choose first, so a shared phrase goes to the theme it describes best.
    named_by_stance = False
    for c in sorted(members, key=lambda c: (-len(members[c]), c)):
        choice = next((g for _, g in scored[c] if g not in used and g in on_topic_of[c]), None)
        if choice is None and named_by_stance:
            # one theme is named by its stance on the whole; another takes its best phrase after all
            choice = next((g for _, g in scored[c] if g not in used), None)
        if choice is None:
            named_by_stance = True
            labels[c] = ""  # nothing specific: the caller names it (`Theme.label == ""`)
            continue
        used.add(choice)
        labels[c] = _surface(choice, [p_text[i] for i in samples[c]])
    return labels


def _part_of_name(phrase: str, texts: list[str]) -> bool:
    """Whether most uses of the phrase are Capitalised and run on into another Capitalised word
    ("Patient Safety Action Network", "the Electronic Caregiver Addison platform"): a name."""
    words = phrase.split()
    pattern = re.compile(
        r"(?<![A-Za-z0-9])" + r"[^A-Za-z0-9.;:!?,\n]+".join(re.escape(w).replace("'", "['’]") for w in words)
        + r"(?![A-Za-z0-9])", re.IGNORECASE)
    uses = named = 0
    for t in texts:
        for m in pattern.finditer(t):
            uses += 1
            form = m.group(0)
            if not all(w[:1].isupper() for w in form.split() if w.lower() not in _label_stop()):
                continue
            after = re.match(r"\s+(?:of\s+|for\s+|and\s+)?([A-Z][a-z]+)", t[m.end():m.end() + 30])
            before = re.search(r"([A-Z][a-z]+)\s+$", t[max(0, m.start() - 30):m.start()])
            if after or (before and not re.search(r"[.!?]\s*\S*\s+$", t[max(0, m.start() - 30):m.start()])):
                named += 1
    return uses > 0 and named > 0.5 * uses


def _prefer_longer(cand: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """A longer phrase that contains a better-scored one and keeps most of its score goes first."""
    if not cand:
        return cand
    out = list(cand)
    best_score, best = out[0]
    for score, g in out[1:40]:
        if f" {best} " in f" {g} " and score >= 0.7 * best_score:
            out.remove((score, g))
            out.insert(0, (score, g))
            best_score, best = score, g
    return out


def _surface(phrase: str, texts: list[str]) -> str:
    """The phrase as the commenters most often spelled it, first letter capitalised."""
    words = phrase.split()
    pattern = re.compile(
        r"(?<![A-Za-z0-9])" + r"[^A-Za-z0-9.;:!?,\n]+".join(re.escape(w).replace("'", "['’]") for w in words)
        + r"(?![A-Za-z0-9])",
        re.IGNORECASE,
    )
    forms: Counter = Counter()
    for t in texts:
        forms.update(m.group(0) for m in pattern.finditer(t))
    if not forms:
        form = phrase
    else:
        # Prefer the common spelling; ALL-CAPS headings only when nothing else exists.
        form = min(forms, key=lambda f: (f.isupper() and len(f) > 8, -forms[f], f))
    # a quoted word keeps its quotes, as typographic ones (a lone straight quote is dropped)
    form = re.sub(r'["“”]([^"“”]+)(?:["“”]|$)', r"‘\1’", form).replace('"', "").strip()
    return form[0].upper() + form[1:]


def overall_label(keywords: list[str], stances: list[str], context: str, weights: list[int] | None = None) -> str:
    """A name for a theme with no specific phrase of its own: its texts speak of the proposal as
    a whole. "General support for the directory" only when support is at least two thirds of the
    texts that take a side both by unique texts and by comments (`weights`: the comments each text
    stands for), so a form letter that opposes cannot sit under a "support" name, and the same for
    "General objections to ..."; otherwise "General remarks on ...". A stance is not a topic: the
    name says the texts have none ("General"), and the stance table under it gives the split.
    When most of its texts take no side either, it is no stance theme but unrelated remarks that
    share no phrase: "Assorted remarks, no common topic"."""
    title_words = {_stem(w) for w in re.findall(r"[a-z0-9]+", (context or "").lower())} - set(_label_stop())
    head = next((k for k in keywords if " " not in k and _stem(k) in title_words and k not in _GENERIC), None)
    thing = f"the {head}" if head else "the proposal"
    weights = weights if weights is not None else [1] * len(stances)

    def leans(side: str, other: str) -> bool:
        for w in (None, weights):  # by unique texts, then by comments
            counts = Counter()
            for i, st in enumerate(stances):
                counts[st] += 1 if w is None else max(int(w[i]), 1)
            sided = counts[side] + counts[other] + counts["mixed"]
            if not sided or counts[side] < 2 / 3 * sided:
                return False
        return True

    sided = sum(st in ("support", "oppose", "mixed") for st in stances)
    if sided < 0.5 * len(stances):
        # most of its texts take no side either: a cluster of unrelated remarks, not a stance
        return ASSORTED_LABEL
    if leans("support", "oppose"):
        return f"General support for {thing}"
    if leans("oppose", "support"):
        return f"General objections to {thing}"
    return f"General remarks on {thing}"


ASSORTED_LABEL = "Assorted remarks, no common topic"
# (a second theme of the same name carries its top keyword in brackets)
OVERALL_LABEL = re.compile(
    r"^(?:General (?:support for|objections to|remarks on) the [\w-]+|Assorted remarks, no common topic)(?: \([^()]+\))?$")


def _ranked(themes: list[Theme]) -> list[Theme]:

    # Largest first by comments, catch-all last; ties by id for determinism.
    return sorted(themes, key=lambda t: (t.is_catch_all, -t.comments, -t.unique_texts, t.theme_id))


def _keywords(top: list[str]) -> list[str]:
    out: list[str] = []
    for term in top:
        if any(term in kept.split() for kept in out if " " in kept):
            continue  # "sex" already inside "biological sex"
        out.append(term)
        if len(out) == 10:
            break
    return out


def _quotes(units, ranked_passages, p_unit, p_span, want=5, max_chars=300) -> list[dict]:
    """Up to `want` quotable passages in ranking order, one per text, each cut at sentence boundaries."""
    out, used_units, used_text = [], set(), set()
    for i in ranked_passages:
        u = units[p_unit[i]]
        if p_unit[i] in used_units:
            continue
        span = _quotable(u.text, *p_span[i])
        if span is None:
            continue
        s, e = _shorten(u.text, *span, max_chars)
        quote = u.text[s:e]
        if not (re.match(r"^[\"“‘'(\[]?[A-Z0-9]", quote) and re.search(r"[.!?][\"”’')\]]*$", quote)):
            continue  # cut inside a sentence: a fragment is no quote
        norm = re.sub(r"\W+", " ", quote.lower()).strip()
        if norm in used_text:
            continue
        used_units.add(p_unit[i])
        used_text.add(norm)
        out.append({"comment_id": u.comment_id, "quote": quote})
        if len(out) == want:
            break
    return out


def _theme_quotes(units, ranked_passages, p_unit, p_span, centroid, vec, svd, want=5, pool=60, max_chars=300,
                  label: str = "") -> list[dict]:
    """Up to `want` quotes for a theme, one per text: the sentences, among the theme's most central
    passages, that are closest to the theme AND state a position, a demand or evidence.

    Each candidate is a whole sentence a briefing can quote (`significance.is_quotable_sentence`:
    no greeting, sign-off, pointer to an attachment, company self-description or fragment),
    scored by its own similarity to the theme's centroid times (1 + 0.1 x its substance weight),
    so a number or a demand wins only among sentences that are on the theme. A short sentence
    takes the next one along when both fit in `max_chars`. Always `text[start:end]`.
    """
    from sklearn.preprocessing import normalize as l2

    from comments.analysis.significance import is_quotable_sentence, sentence_weight

    cands: list[tuple[int, int, int]] = []  # (unit index, start, end)
    units_seen: list[int] = []
    for i in ranked_passages:
        ui = p_unit[i]
        if ui not in units_seen:
            if len(units_seen) == pool:
                break
            units_seen.append(ui)
        text = units[ui].text
        start, end = p_span[i]
        spans = [(start + a, start + b) for a, b in sentences(text[start:end])]
        for j, (a, b) in enumerate(spans):
            if b - a > 400 or not is_quotable_sentence(text[a:b]):
                continue
            if len(text[a:b].split()) < 14 and j + 1 < len(spans):
                a2, b2 = spans[j + 1]
                if b2 - a <= max_chars and is_quotable_sentence(text[a2:b2], min_words=4):
                    b = b2
            cands.append((ui, a, b))
    if not cands:
        return _quotes(units, ranked_passages, p_unit, p_span, want=want, max_chars=max_chars)
    texts = [units[ui].text[a:b] for ui, a, b in cands]
    z = l2(svd.transform(vec.transform([_NOISE.sub(" ", t) for t in texts])))
    sim = z @ centroid
    floor = 0.5 * float(sim.max())
    # a sentence that opens on "This", "It", "They"... leans on what came before it
    leans = [0.75 if re.match(r"^(?:This|That|These|Those|It|They|He|She|Which)\b", t) else 1.0 for t in texts]
    # a quote that names what the label names shows the reader the label is right
    named = [1 + 0.5 * _label_cover(label, t) for t in texts]
    scored = sorted(
        ((float(sim[k]) * leans[k] * named[k] * (1 + 0.1 * min(sentence_weight(texts[k]), 8)), k)
         for k in range(len(cands)) if sim[k] >= floor),
        key=lambda x: (-x[0], units[cands[x[1]][0]].key, cands[x[1]][1]),
    )
    out, used_units, used_text = [], set(), set()
    for _, k in scored:
        ui, a, b = cands[k]
        norm = re.sub(r"\W+", " ", texts[k].lower()).strip()
        if ui in used_units or norm in used_text:
            continue
        used_units.add(ui)
        used_text.add(norm)
        out.append({"comment_id": units[ui].comment_id, "quote": texts[k]})
        if len(out) == want:
            return out
    if len(out) < 3:  # too few whole sentences: the theme's central passages, cut at sentence ends
        for q in _quotes(units, [i for i in ranked_passages if p_unit[i] not in used_units], p_unit, p_span,
                         want=want, max_chars=max_chars):
            norm = re.sub(r"\W+", " ", q["quote"].lower()).strip()
            if norm not in used_text and not any(q["comment_id"] == o["comment_id"] for o in out):
                out.append(q)
                used_text.add(norm)
            if len(out) == want:
                break
    return out


def _label_cover(label: str, sentence: str) -> float:
    """Share of the label's content words (singular or plural) that the sentence uses."""
    words = {_stem(w) for w in re.findall(r"[a-z0-9]+", label.lower()) if w not in _label_stop()}
    if not words:
        return 0.0
    have = {_stem(w) for w in re.findall(r"[a-z0-9]+", sentence.lower())}
    return len(words & have) / len(words)


def _quotable(text: str, start: int, end: int, min_words: int = 12) -> tuple[int, int] | None:
    """The passage without leading/trailing greetings or sign-offs; None if nothing informative is left."""
    spans = [(start + s, start + e) for s, e in sentences(text[start:end])] or [(start, end)]
    while spans and (_UNQUOTABLE.search(text[spans[0][0]:spans[0][1]]) or _SIGNATURE.match(text[spans[0][0]:spans[0][1]])):
        spans.pop(0)
    while spans and (_UNQUOTABLE.search(text[spans[-1][0]:spans[-1][1]]) or _SIGNATURE.match(text[spans[-1][0]:spans[-1][1]])):
        spans.pop()
    if not spans:
        return None
    s, e = spans[0][0], spans[-1][1]
    if _UNQUOTABLE.search(text[s:e]) or len(text[s:e].split()) < min_words:
        return None
    from comments.analysis.significance import is_self_promotion

    if any(_is_meta(text[a:b]) or is_self_promotion(text[a:b]) or is_framing(text[a:b]) for a, b in spans):
        return None  # a disclaimer, an offer of help or a company describing itself is not a quote
    return s, e


def _shorten(text: str, start: int, end: int, max_chars: int) -> tuple[int, int]:
    """The passage, or its leading sentences up to max_chars (a sentence boundary)."""
    if end - start <= max_chars:
        return start, end
    best_end = None
    for _s, e in sentences(text[start:end]):
        if e <= max_chars:
            best_end = start + e
        else:
            break
    if best_end is None:  # one very long sentence: cut at a word boundary
        cut = text.rfind(" ", start, start + max_chars)
        best_end = cut if cut > start else start + max_chars
        while best_end > start and text[best_end - 1].isspace():
            best_end -= 1
    return start, best_end


def _assign_ids(themes: list[Theme], previous: list[PreviousTheme], params: ThemeParams) -> None:
    """Seeded themes already carry their previous id; the catch-all keeps the previous catch-all's
    id; any other theme takes the id of the unused previous theme whose keywords overlap most."""
    used = {t.theme_id for t in themes if t.theme_id}
    pairs = []
    for ti, t in enumerate(themes):
        if t.theme_id:
            continue
        for p in previous:
            if p.is_catch_all != t.is_catch_all or p.theme_id in used:
                continue
            if t.is_catch_all:
                pairs.append((1.0, ti, p.theme_id))
                continue
            a, b = set(t.keywords), set(p.keywords)
            j = len(a & b) / len(a | b) if a | b else 0.0
            if j >= params.match_jaccard:
                pairs.append((j, ti, p.theme_id))
    taken: set[int] = set()
    for _j, ti, pid in sorted(pairs, key=lambda x: (-x[0], x[1], x[2])):
        if ti in taken or pid in used:
            continue
        themes[ti].theme_id = pid
        taken.add(ti)
        used.add(pid)
    numbers = [int(m.group(1)) for p in previous if (m := re.fullmatch(r"T(\d+)", p.theme_id))]
    next_no = max(numbers, default=0) + 1
    for t in _ranked([t for t in themes if not t.theme_id]):
        t.theme_id = f"T{next_no:03d}"
        next_no += 1


def _all_other(units, p_unit, p_span, params, previous) -> ThemeResult:
    """Too little text to cluster: one catch-all theme holding whatever passages exist."""
    if not p_unit:
        return ThemeResult(themes=[], assignments={}, k=0)
    member_units = sorted(set(p_unit))
    theme = Theme(
        theme_id="", label="Other topics", keywords=[], is_catch_all=True,
        unit_keys=[units[u].key for u in member_units], unique_texts=len(member_units),
        comments=sum(units[u].comments for u in member_units),
        submissions=sum(units[u].submissions for u in member_units),
        quotes=_quotes(units, list(range(len(p_unit))), p_unit, p_span),
    )
    _assign_ids([theme], previous, params)
    return ThemeResult(themes=[theme], assignments={units[u].key: [(theme.theme_id, 1.0)] for u in member_units}, k=0)
