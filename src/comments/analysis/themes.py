"""Themes over the unique texts, at passage level, with verbatim exemplar quotes.

Input is one `Unit` per unique text: a campaign (its template, counted once but
weighted by its size) or a singleton comment. Each unit is cut into passages
(runs of sentences inside a paragraph, up to ~400 characters), so a long
letter can carry several themes.

Method (deterministic: fixed random_state, inputs sorted by key):
1. TF-IDF (unigrams + bigrams, English and comment boilerplate stop words)
   fitted on the passages (a deterministic sample of at most
   `fit_sample` passages on big dockets), reduced with truncated SVD (LSA).
2. K-means for every k in [min_themes, max_themes]; the k with the best
   silhouette (cosine, on a fixed sample) wins.
3. Passages far from every centroid, and themes of fewer than `min_units`
   unique texts, go to a catch-all "Other topics".
4. Label: the highest-weighted bigram(s) of the theme's mean TF-IDF vector,
   e.g. "Biological sex and gender identity"; keywords: the top terms.
5. Quotes: the passages nearest the centroid, from distinct texts, cut to at
   most ~300 characters at a sentence boundary; always `text[start:end]` of
   the unit's effective text, so an exact substring.
6. Stable ids: a new theme takes the id of the previous theme whose keywords
   overlap most (Jaccard >= `match_jaccard`); unmatched themes get new ids.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from comments.analysis.normalize import sentences


@dataclass(frozen=True)
class ThemeParams:
    min_themes: int = 3
    max_themes: int = 12
    min_passage_words: int = 8
    max_passage_chars: int = 400
    max_passages_per_unit: int = 30
    fit_sample: int = 20000           # passages used to fit the vocabulary and clusters
    silhouette_sample: int = 3000
    svd_components: int = 60
    min_similarity: float = 0.15      # cosine to the centroid below which a passage is "other"
    min_units: int = 3                # a theme needs at least this many unique texts
    match_jaccard: float = 0.25
    random_state: int = 0


@dataclass(frozen=True)
class Unit:
    key: str            # stable key of the unique text (campaign key or comment id)
    comment_id: str     # the comment whose effective text `text` is
    text: str
    comments: int = 1   # posted comments this text stands for
    submissions: int = 1


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


_EXTRA_STOP = {
    "cms", "hhs", "comment", "comments", "commenter", "thank", "thanks", "opportunity", "attached",
    "attachment", "please", "regarding", "request", "information", "rfi", "dear", "sincerely",
    "respectfully", "submit", "submitted", "submitting", "letter", "file", "pdf", "centers", "medicare",
    "medicaid", "services", "service", "would", "could", "also", "may", "might", "must", "should",
    "will", "one", "many", "us", "our", "we", "it", "nc", "re", "etc", "like", "need", "needs",
    "make", "use", "used", "using", "provide", "including", "well", "able", "via", "per",
    "way", "ways", "thing", "things", "lot", "really", "just", "time", "www", "https", "http", "com",
    "org", "gov", "html", "page", "pages", "document", "documents", "questions", "question",
}
# Links and reference codes say nothing a reader would call a theme.
_NOISE = re.compile(r"https?://\S+|www\.\S+|\b[A-Z]{2,}-\d[\w-]*")


def passages(text: str, params: ThemeParams) -> list[tuple[int, int]]:
    """Spans of passages: consecutive sentences within a paragraph, up to max_passage_chars."""
    spans = sentences(text)
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for start, end in spans:
        if cur is not None:
            gap = text[cur[1]:start]
            if "\n\n" in gap or "\n" in gap and gap.count("\n") >= 2 or end - cur[0] > params.max_passage_chars:
                out.append(cur)
                cur = None
        cur = (start, end) if cur is None else (cur[0], end)
    if cur is not None:
        out.append(cur)
    kept = [(s, e) for s, e in out if len(text[s:e].split()) >= params.min_passage_words]
    if not kept and len(text.split()) >= 4 and spans:
        kept = [(spans[0][0], spans[-1][1])]
    return kept[: params.max_passages_per_unit]


def _stable_order(keys: list[str]) -> list[int]:
    return sorted(range(len(keys)), key=lambda i: hashlib.blake2b(keys[i].encode(), digest_size=8).digest())


def find_themes(
    units: list[Unit],
    params: ThemeParams | None = None,
    previous: list[tuple[str, list[str], bool]] | None = None,
) -> ThemeResult:
    """Themes over `units`. `previous`: [(theme_id, keywords, is_catch_all)] of the last run."""
    import sklearn.cluster  # noqa: F401  (load the BLAS/OpenMP libraries before limiting them:
    import sklearn.decomposition  # noqa: F401  threadpool_limits only reaches libraries already loaded)
    import sklearn.metrics  # noqa: F401
    from threadpoolctl import threadpool_limits

    # One thread: on a shared 2-core machine OpenMP/BLAS threads spin against
    # each other (k-means ran 13x slower with them), and one thread keeps the
    # floating-point summation order, hence the result, fixed.
    with threadpool_limits(limits=1):
        return _find_themes(units, params or ThemeParams(), previous)


def _find_themes(units: list[Unit], params: ThemeParams, previous) -> ThemeResult:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import normalize as l2

    units = sorted(units, key=lambda u: u.key)
    p_unit: list[int] = []
    p_span: list[tuple[int, int]] = []
    p_text: list[str] = []
    for ui, u in enumerate(units):
        for s, e in passages(u.text or "", params):
            p_unit.append(ui)
            p_span.append((s, e))
            p_text.append(_NOISE.sub(" ", u.text[s:e]))
    if len({p_unit[i] for i in range(len(p_unit))}) < max(params.min_units, 2) or len(p_text) < 6:
        return _all_other(units, p_unit, p_span, params, previous)

    stop = list(ENGLISH_STOP_WORDS | _EXTRA_STOP)
    n = len(p_text)
    order = _stable_order([f"{units[p_unit[i]].key}:{p_span[i][0]}" for i in range(n)])
    fit_idx = sorted(order[: params.fit_sample])
    vec = TfidfVectorizer(
        ngram_range=(1, 2), stop_words=stop, token_pattern=r"(?u)\b[a-zA-Z]{3,}(?:-[a-zA-Z]+)*\b",
        min_df=2 if len(fit_idx) >= 50 else 1, max_df=0.5, sublinear_tf=True, max_features=30000,
        dtype=np.float32,
    )
    try:
        x_fit = vec.fit_transform([p_text[i] for i in fit_idx])
    except ValueError:  # empty vocabulary
        return _all_other(units, p_unit, p_span, params, previous)
    x_all = x_fit if len(fit_idx) == n else vec.transform(p_text)
    n_comp = max(2, min(params.svd_components, x_fit.shape[1] - 1, len(fit_idx) - 1))
    svd = TruncatedSVD(n_components=n_comp, n_iter=3, random_state=params.random_state)
    z_fit = l2(svd.fit_transform(x_fit))
    z_all = z_fit if x_all is x_fit else l2(svd.transform(x_all))

    n_units = len({p_unit[i] for i in fit_idx})
    k_max = max(params.min_themes, min(params.max_themes, n_units // params.min_units, len(fit_idx) // 3))
    k_min = min(params.min_themes, k_max)
    sil_idx = np.array(sorted(_stable_order([str(i) for i in range(len(fit_idx))])[: params.silhouette_sample]))
    best = None
    for k in range(k_min, k_max + 1):
        if k >= len(fit_idx):
            break
        km = KMeans(n_clusters=k, random_state=params.random_state, n_init=1, max_iter=100).fit(z_fit)
        labels = km.labels_[sil_idx]
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(z_fit[sil_idx], labels, metric="cosine")
        if best is None or score > best[0] + 1e-9:
            best = (score, k, km)
    if best is None:
        return _all_other(units, p_unit, p_span, params, previous)
    _, k, km = best
    centroids = l2(km.cluster_centers_)
    sims = z_all @ centroids.T
    p_cluster = sims.argmax(axis=1)
    p_sim = sims[np.arange(n), p_cluster]
    p_cluster = np.where(p_sim >= params.min_similarity, p_cluster, -1)

    # Themes too small (in unique texts) fold into the catch-all.
    units_of = defaultdict(set)
    for i in range(n):
        units_of[int(p_cluster[i])].add(p_unit[i])
    small = {c for c in range(k) if len(units_of[c]) < params.min_units}
    if small:
        p_cluster = np.where(np.isin(p_cluster, list(small)), -1, p_cluster)

    terms = np.array(vec.get_feature_names_out())
    clusters = sorted({int(c) for c in p_cluster})
    themes: list[Theme] = []
    by_cluster: dict[int, Theme] = {}
    for c in clusters:
        idx = np.flatnonzero(p_cluster == c)
        mean = np.asarray(x_all[idx].mean(axis=0)).ravel()
        top = [terms[j] for j in np.argsort(-mean, kind="stable")[:40] if mean[j] > 0]
        keywords = _keywords(top)
        label = "Other topics" if c == -1 else _label(top, [p_text[i] for i in idx[:2000]])
        if c == -1:
            ranking = np.argsort(-(z_all[idx] @ l2(z_all[idx].mean(axis=0, keepdims=True)).T).ravel(), kind="stable")
        else:
            ranking = np.argsort(-p_sim[idx], kind="stable")
        quotes = _quotes(units, [int(idx[r]) for r in ranking], p_unit, p_span)
        member_units = sorted({p_unit[i] for i in idx})
        theme = Theme(
            theme_id="", label=label, keywords=keywords, is_catch_all=(c == -1),
            unit_keys=[units[u].key for u in member_units], unique_texts=len(member_units),
            comments=sum(units[u].comments for u in member_units),
            submissions=sum(units[u].submissions for u in member_units), quotes=quotes,
        )
        themes.append(theme)
        by_cluster[c] = theme
    _dedupe_labels(themes)
    _assign_ids(themes, previous, params)

    assignments: dict[str, list[tuple[str, float]]] = {}
    per_unit = defaultdict(Counter)
    for i in range(n):
        per_unit[p_unit[i]][by_cluster[int(p_cluster[i])].theme_id] += 1
    rank_of = {t.theme_id: r for r, t in enumerate(_ranked(themes))}
    for ui, counts in per_unit.items():
        total = sum(counts.values())
        assignments[units[ui].key] = sorted(
            ((tid, cnt / total) for tid, cnt in counts.items()), key=lambda x: (-x[1], rank_of[x[0]])
        )
    return ThemeResult(themes=_ranked(themes), assignments=assignments, k=k)


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


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _label(top: list[str], texts: list[str]) -> str:
    """The top phrases that readers actually wrote (bigrams found verbatim in the passages)."""
    corpus = " ".join(re.sub(r"[^a-z0-9\-]+", " ", t.lower()) for t in texts)
    corpus = f" {corpus} "
    phrases = [t for t in top[:15] if " " in t and t.split()[0] != t.split()[1] and f" {t} " in corpus]
    if not phrases:
        if not top:
            return "Unlabeled"
        return (f"{top[0]} and {top[1]}" if len(top) > 1 else top[0]).capitalize()
    first = phrases[0]
    words = {_stem(w) for w in first.split()}
    for second in phrases[1:8]:
        if not {_stem(w) for w in second.split()} & words:
            return f"{first} and {second}".capitalize()
    return first.capitalize()


def _dedupe_labels(themes: list[Theme]) -> None:
    seen: Counter = Counter()
    for t in themes:
        seen[t.label] += 1
        if seen[t.label] > 1:
            extra = next((k for k in t.keywords if k not in t.label.lower()), None)
            if extra:
                t.label = f"{t.label} ({extra})"


def _quotes(units, ranked_passages, p_unit, p_span, want=5, max_chars=300) -> list[dict]:
    out, used_units, used_text = [], set(), set()
    for i in ranked_passages:
        u = units[p_unit[i]]
        if p_unit[i] in used_units:
            continue
        s, e = _shorten(u.text, *p_span[i], max_chars)
        quote = u.text[s:e]
        norm = re.sub(r"\W+", " ", quote.lower()).strip()
        if norm in used_text:
            continue
        used_units.add(p_unit[i])
        used_text.add(norm)
        out.append({"comment_id": u.comment_id, "quote": quote})
        if len(out) == want:
            break
    return out


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


def _assign_ids(themes: list[Theme], previous, params: ThemeParams) -> None:
    previous = previous or []
    used: set[str] = set()
    pairs = []
    for ti, t in enumerate(themes):
        for pid, pkeys, pcatch in previous:
            if pcatch != t.is_catch_all:
                continue
            if t.is_catch_all:
                pairs.append((1.0, ti, pid))
                continue
            a, b = set(t.keywords), set(pkeys or [])
            j = len(a & b) / len(a | b) if a | b else 0.0
            if j >= params.match_jaccard:
                pairs.append((j, ti, pid))
    taken: set[int] = set()
    for _j, ti, pid in sorted(pairs, key=lambda x: (-x[0], x[1], x[2])):
        if ti in taken or pid in used:
            continue
        themes[ti].theme_id = pid
        taken.add(ti)
        used.add(pid)
    numbers = [int(m.group(1)) for pid, _, _ in previous if (m := re.fullmatch(r"T(\d+)", pid))]
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
