"""Cue phrases a docket teaches the stance rules about itself, learned from its own texts (no labels).

Why: on many dockets a position is implied by what the commenter asks for, and which demands
back or fight the proposal depends on what the proposal does ("patients have a right to know
the biological sex of their providers" opposes a directory that records gender identity; "work
for food stamps" backs a rule that restores work requirements). Rules written for every docket
cannot know that; the docket's own comments can. The texts the rules decide firmly (an explicit
"I oppose this rule", "do not approve", "I strongly support") say, in their own words, what each
side argues; a phrase that recurs in firmly decided texts of one side and (almost) never in the
other side's is that side's phrase on this docket, and a text that uses it without stating a
verdict most likely shares that side.

Method, per docket, over its distinct texts (copies of one text count once):
1. classify every text with the rules (and the codebook's cues); a text is firm for a side when
   the rules give that side with confidence >= FIRM_CONFIDENCE and nothing for the other;
2. phrases: word 2- and 3-grams that neither start nor end with a function word, hold no word
   that is itself a stance or politeness cue ("support", "oppose", "thank", "rule" ...) and are
   not phrases of the docket's title (which names the proposal); a long text (over SHORT_CHARS)
   teaches only the phrases of its sentences that carry its position (its other paragraphs answer
   the notice's questions: topics, not sides);
3. a phrase is kept for a side when at least MIN_TEXTS firm texts of that side use it and at
   least PURITY of the firm texts using it are of that side (the other side +1 smoothed): a
   topic phrase both sides use is no side's. When the other side has at least RATE_TEXTS firm
   texts, the shares of each side's firm texts using it are compared instead (RATE_PURITY), so a
   phrase the larger side uses more only because it is larger is no side's. (Also requiring a phrase to be rarer among the
   undecided texts was tried and dropped: the undecided hold the very texts that echo a side
   without a verdict, so it removed the phrases worth learning; dev macro-F1 0.82 against 0.87.)
4. at most LIMIT phrases per side, none inside another: first those that reach the most firm texts
   not yet reached by COVER chosen phrases (one campaign letter's many phrases must not fill the
   list), then the rest most one-sided first.

The phrases reach the rules as `learned_support` / `learned_oppose` cues (`stance.cue_set`),
weighed LEARNED_CUE_WEIGHT: enough to decide a text that states no verdict, never enough to
overturn an explicit one. A side with fewer than MIN_TEXTS firm texts learns nothing (nothing to
learn from). Thresholds were chosen on the evaluation set's `dev` half (tests/stance_eval.py).
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from comments.analysis import stance as rules

FIRM_CONFIDENCE = 0.6
MIN_TEXTS = 4
PURITY = 0.9
# With at least RATE_TEXTS firm texts on the other side, purity compares rates (share of each side's
# firm texts using the phrase), and must reach RATE_PURITY; with fewer, a rate is too noisy and
# purity compares counts (PURITY).
RATE_TEXTS = 30
RATE_PURITY = 0.95
COVER = 3  # a firm text reached by this many chosen phrases no longer counts for choosing more
LIMIT = 60
HEAD_CHARS = 5000  # phrases come from a text's start (long letters: their opening states the case)
SHORT_CHARS = 800  # a text this short is its position; a longer one teaches only its stance sentences

_FUNCTION = frozenset("""a an the and or of to in on for with by at from as is are was were be been being it its
this that these those i we you he she they my our your their me us them his her not no do does did have has had will
would should could can may might must shall just so very more most some any all each such than then there here what
which who whom whose when where why how also about into over under up down out if but because while against between
through during before after above below again further once only own same too s t don now am re""".split())
# Words that are stance or politeness cues already (or name the proposal itself): not what a side argues.
_CUE_WORD = re.compile(r"^(support|oppos|favo|against|reject|endors|applaud|agree|disagree|withdraw|urge|please|"
                       r"thank|appreciat|opportun|comment|propos|rule|regulat|sincerel|respectful|dear|forward|docket)")
_WORD = re.compile(r"[a-z][a-z']+")


def is_firm(s: rules.Stance) -> bool:
    """The rules give a side surely and nothing to the other: a text that teaches its side's words."""
    return s.stance in ("support", "oppose") and s.confidence >= FIRM_CONFIDENCE and min(s.support_score, s.oppose_score) == 0


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def phrases(text: str) -> set[str]:
    """The candidate phrases of one text (2- and 3-grams of content words)."""
    return _phrases_of(_words(text[:HEAD_CHARS]))


def _phrases_of(w: list[str]) -> set[str]:
    """`phrases` of a text whose words (`_words`) are `w`."""
    # Each word judged once, not once per n-gram holding it: may a phrase hold it (not a cue
    # word), start or end on it (nor a function word), is it long (5+ letters)?
    # A phrase of only short words (4 letters or fewer) is left out: acronyms and codes ("astp
    # onc", "id fns") are names, not arguments.
    free = [not _CUE_WORD.match(x) for x in w]
    edge = [f and x not in _FUNCTION for f, x in zip(free, w, strict=True)]
    long = [len(x) > 4 for x in w]
    out = set()
    for i in range(len(w) - 1):
        if edge[i] and edge[i + 1] and (long[i] or long[i + 1]):
            out.add(w[i] + " " + w[i + 1])
    for i in range(len(w) - 2):
        if edge[i] and free[i + 1] and edge[i + 2] and (long[i] or long[i + 1] or long[i + 2]):
            out.add(w[i] + " " + w[i + 1] + " " + w[i + 2])
    return out


def _singular(phrase: str) -> str:
    """A phrase with each word's plural -s dropped ("stem degree" names what "STEM Degrees" does)."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in phrase.split())


def _stance_phrases(text: str, side: str, cues: rules.CueSet) -> set[str]:
    """The phrases of a long text's sentences that carry its position (a letter's other paragraphs
    answer the notice's questions: topics, not sides)."""
    out: set[str] = set()
    for start, end in rules.sentence_spans(text[:HEAD_CHARS]):
        s, o = rules.score_sentence(text[start:end], cues)
        if (s if side == "support" else o) > 0:
            out |= phrases(text[start:end])
    return out


def learn(texts: Iterable[str], *, title: str = "", classify: Callable[[str], rules.Stance] | None = None,
          extra_cues: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """`{"learned_support": [...], "learned_oppose": [...]}` for a docket's texts (empty lists: nothing learned).

    `title`: the docket's and its documents' titles; their phrases name the proposal and are no side's.

    `classify` is the rules as the caller runs them (a cached function, so the analysis classifies
    each text once); by default `stance.classify` with `extra_cues`.
    """
    classify = classify or (lambda t: rules.classify(t, extra_cues=extra_cues))
    cues = rules.cue_set(extra_cues)
    named = {_singular(p) for p in phrases(title)} if title else set()
    seen: set[str] = set()
    firm = {"support": Counter(), "oppose": Counter()}
    where: dict[str, dict[str, set[int]]] = {"support": {}, "oppose": {}}  # phrase -> the firm texts using it
    n_firm = {"support": 0, "oppose": 0}
    for text in texts:
        if not text or not text.strip():
            continue
        words = _words(text[:HEAD_CHARS])
        key = " ".join(words)
        if not key or key in seen:
            continue
        seen.add(key)
        s = classify(text)
        if is_firm(s):
            found = _phrases_of(words) if len(key) <= SHORT_CHARS else _stance_phrases(text, s.stance, cues)
            if named:
                found = {p for p in found if _singular(p) not in named}
            firm[s.stance].update(found)
            for phrase in found:
                where[s.stance].setdefault(phrase, set()).add(n_firm[s.stance])
            n_firm[s.stance] += 1
    out: dict[str, list[str]] = {"learned_support": [], "learned_oppose": []}
    for side, other in (("support", "oppose"), ("oppose", "support")):
        if n_firm[side] < MIN_TEXTS:
            continue
        ranked = []
        for phrase, count in firm[side].items():
            if count < MIN_TEXTS:
                continue
            if n_firm[other] >= RATE_TEXTS:
                # how much more often this side's firm texts use it than the other side's (rates, the
                # other side +1 smoothed): a topic phrase the larger side uses more only because it
                # is larger is no side's
                rate, rate_other = count / n_firm[side], (firm[other][phrase] + 1) / n_firm[other]
                purity, needed = rate / (rate + rate_other), RATE_PURITY
            else:
                purity, needed = count / (count + firm[other][phrase] + 1), PURITY
            if purity >= needed:
                ranked.append((-purity, -count, phrase))
        out[f"learned_{side}"] = _choose(sorted(ranked), where[side])
    return out


def _choose(ranked: list[tuple[float, int, str]], where: Mapping[str, set[int]]) -> list[str]:
    """At most LIMIT phrases, none inside another: first, greedily, the phrase that reaches the most
    firm texts not yet reached by COVER chosen phrases (so one campaign letter's many phrases do not
    fill the list, and each way a side argues gets its phrase), then the rest most one-sided first."""
    chosen: list[str] = []
    reached: Counter = Counter()

    def fits(phrase: str) -> bool:
        return not any(phrase in c or c in phrase for c in chosen)

    def gain(phrase: str) -> int:
        return sum(1 for d in where[phrase] if reached[d] < COVER)

    # Greedy: the highest gain, ties to the phrase earlier in `ranked`. Gains only fall as phrases
    # are chosen, so the gain last computed for a phrase bounds its gain now (lazy greedy): only
    # the phrase on top of the heap is computed again, and it is the best when its gain has not
    # fallen (every other phrase's gain is at most its bound, which ranks below). Recomputing
    # every gain for every choice cost ~1 s on a 50,000-text docket.
    heap = [(-gain(p), k) for k, (_, _, p) in enumerate(ranked)]
    heapq.heapify(heap)
    out_of_pool: set[int] = set()
    while heap and len(chosen) < LIMIT:
        bound, k = heap[0]
        now = gain(ranked[k][2])
        if now != -bound:
            heapq.heapreplace(heap, (-now, k))
            continue
        if now == 0:
            break
        heapq.heappop(heap)
        out_of_pool.add(k)
        phrase = ranked[k][2]
        if fits(phrase):
            chosen.append(phrase)
            reached.update(where[phrase])
    for k, (_, _, phrase) in enumerate(ranked):
        if len(chosen) == LIMIT:
            break
        if k not in out_of_pool and fits(phrase):
            chosen.append(phrase)
    return chosen


def with_learned(cues: Mapping[str, Sequence[str]] | None, learned: Mapping[str, Sequence[str]]) -> dict | None:
    """The caller's cues plus the learned ones (the caller's own object when nothing was learned)."""
    if not any(learned.values()):
        return cues
    merged = {k: list(v) for k, v in (cues or {}).items()}
    for k, v in learned.items():
        if v:
            merged[k] = list(v)
    return merged or None


def describe(learned: Mapping[str, Sequence[str]]) -> list[str]:
    """One line for the run's notes saying what was learned (nothing when nothing was)."""
    sides = [(side, list(learned.get(f"learned_{side}") or ())) for side in ("support", "oppose")]
    if not any(p for _, p in sides):
        return []
    said = "; ".join(f"{side}: {len(p)} (" + ", ".join(f'"{x}"' for x in p[:3]) + (", ..." if len(p) > 3 else "") + ")"
                     for side, p in sides if p)
    return [f"stance rules used phrases learned from this docket's firmly decided texts, for texts stating no verdict: {said}"]
