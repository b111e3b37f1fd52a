"""Stance toward the proposed action: support, oppose, mixed or unclear.

Method: hand-written cue patterns applied sentence by sentence, with negation
and scope handling. Why rules rather than a trained model: the project ships
no labeled training data beyond the ~200-comment evaluation set (too small to
train on and still measure honestly), the tool must run offline with no model
downloads, and a rule's decision can be shown to a reader as a verbatim span.

How a text is scored:
- Each sentence is matched against SUPPORT and OPPOSE cue patterns, each with a
  weight (an explicit "we support the creation of" outweighs "would be helpful").
- A negator ("not", "no", "never", "don't" ...) within a few words before a cue
  flips it ("do not support" -> oppose; "not a bad idea" -> support). Cues that
  already contain their negation ("do not do this") are not flipped again.
- Politeness ("thank you for the opportunity", "we appreciate the opportunity to
  comment") never counts: nearly every comment says it.
- Scope: cues about the comment itself ("I support this comment", "this letter")
  and about a commenter's own product are ignored; RFI suggestions without an
  evaluative cue stay `unclear`.
- Both sides present with comparable weight -> `mixed`; one side -> that side;
  neither -> `unclear`. Confidence grows with the winning weight and margin.

The evidence is the verbatim sentence that carried the most weight (an exact
substring of the input text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

STANCES = ("support", "oppose", "mixed", "unclear")


@dataclass(frozen=True)
class Stance:
    stance: str
    confidence: float
    evidence: str | None  # verbatim substring of the text that decided it
    support_score: float = 0.0
    oppose_score: float = 0.0


# (pattern, weight). Patterns are matched on the lower-cased sentence.
_SUPPORT = [
    (r"(?<!to )\b(strongly|fully|wholeheartedly|enthusiastically) (support|endorse|agree)", 3.0),
    (r"\b(we|i) (support|endorse|favor|welcome)\b", 2.5),
    (r"(?<!to )(?<!help )(?<!and )\b(supports|supported|support|endorses?) (the|this|a|cms|hhs|your|these|such|efforts?|creation|development|establish\w*|a national|its)\b", 2.0),
    (r"\b(supportive of|in support of|very much in support)\b", 2.0),
    (r"\bappreciate the (intent|goal|idea|vision)\b", 1.5),
    (r"\bin favou?r of\b", 2.5),
    (r"\bfavoritism of\b", 2.0),
    (r"\b(applaud|applauds|commend|commends|praise|praises|laud|lauds)\b", 2.5),
    (r"\b(excellent|great|good|wonderful|fantastic|brilliant) (idea|step|feature|start|initiative|tool|resource|opportunity to (improve|build))", 2.5),
    (r"\b(would|will|could) be (a )?(very |extremely |so |hugely |tremendously )?(beneficial|fabulous|amazing|valuable|great|helpful|wonderful|invaluable|a huge step|a great step|a step forward|useful)", 2.0),
    (r"\bhas (it'?s|its) merits\b", 1.5),
    (r"\b(sorely|badly|desperately|long over ?due|much) needed\b", 2.0),
    (r"\b(long overdue)\b", 2.0),
    (r"\bplease (do it|make this happen|move forward|proceed|implement)", 2.5),
    (r"\b(tremendous|significant|great) opportunity to (establish|build|create|improve)", 2.0),
    (r"\b(appreciate|welcome|welcomes) (cms'?s?|hhs'?s?|the agency'?s?|your) (efforts?|vision|leadership|focus|emphasis|initiative|exploration|work)", 2.0),
    (r"\bencouraged by\b", 1.5),
    (r"\bagree with (many|most|the) (of the )?(foundational|goals|ideas|approach|proposal)", 1.5),
    (r"\b(supports?|advance|align\w*|aligns closely) (with )?(cms'?s?|the agency'?s?|your|hhs'?s?) (goals?|vision|mission|efforts|objective)", 1.0),
    (r"\bstrongly supports? this objective\b", 3.0),
    (r"\b(look forward to|welcome) (continued|further) (progress|collaboration)", 1.0),
    (r"\burge (cms|hhs|you|the agency) to (act now|move forward|lead|finalize|adopt|proceed)", 2.0),
    (r"\b(is|are) (an )?(excellent|great|good) idea\b", 2.5),
    (r"\bgreat step\b|\bstep forward\b|\bhuge step\b", 1.5),
    (r"\blove (for|to see|this)\b", 1.0),
]

_OPPOSE = [
    (r"\b(strongly|vehemently|firmly) (oppose|object|disagree)", 3.0),
    (r"\b(i|we) (oppose|object to|disagree with)\b", 3.0),
    (r"\b(opposed to|opposition to|oppose)\b", 2.5),
    (r"\breject (this|the|any|these) (proposal|rule|proposed|changes?|plan)", 3.0),
    (r"\burge (cms|hhs|you|the agency)? ?to reject\b", 3.0),
    (r"\breject this\b", 2.5),
    (r"\bvote no\b", 3.0),
    (r"\bnot in favou?r\b", 3.0),
    (r"\bplease (do not|don'?t) (do|implement|proceed|move forward|adopt|redefine|allow|create)", 3.0),
    (r"\b(do not|don'?t) (do this|redefine|implement this|move forward)", 3.0),
    (r"\b(just stop|please stop|stop this|stop it|enough already)\b", 2.0),
    (r"\b(take|taking|exercise|proceed with) caution\b|\bcaution against\b", 1.5),
    (r"\bmy concern (though|is)\b|\bhave (serious )?(doubts|reservations)\b", 1.0),
    (r"\b(very |extremely )?(bad|dangerous|terrible|horrible|awful|harmful) (and dangerous )?(idea|system|precedent|proposal|policy)", 3.0),
    (r"\b(is|are) (a )?dangerous precedent\b|\bdangerous ground\b", 2.5),
    (r"\bunconstitutional\b", 2.5),
    (r"\b(gone|goes|go) too far\b", 2.5),
    (r"\b(back to the drawing board|wrong direction|wrong objective|betrayal)\b", 3.0),
    (r"\b(unnecessary|wasteful|waste of)\b", 1.0),
    (r"\b(concerned|concerns?) (about|that|regarding|with) (a|the|this|any) (national|proposal|proposed|directory|registry|database|mandatory)", 1.5),
    (r"\b(i|we) (am|are) (extremely |very |deeply )?concerned\b", 1.0),
    (r"\bnot an acceptable\b|\bunacceptable\b", 2.0),
    (r"\b(no|never) (mandatory |required )?(digital id|biometric|wearable)", 2.0),
    (r"\bshould (not|never) be (mandated|mandatory|required|forced)", 1.5),
    (r"\bno one should be forced\b|\bunder no circumstances\b", 1.5),
    (r"\b(do|does) not want (one bit|any|my|our)\b", 1.5),
    (r"\b(begging|beg) you (to )?not\b", 3.0),
    (r"\benemy of humanity\b", 2.0),
    (r"\b(must|should) be (completely )?removed from (the|this)\b", 2.0),
    (r"\b(obscures?|erasure|erase|erasing|eroding|redefin\w+)\b", 1.0),
    (r"\bhas just gone too far\b", 2.0),
    (r"\bdo not (embrace|hide|obscure)\b", 1.5),
    (r"\btread lightly\b", 1.5),
    (r"\brather than (developing|creating|building) a (new )?(centralized|national)", 2.0),
    (r"\bnot (attainable|feasible|workable)\b", 1.0),
    (r"\b(doubts?|skeptical) (that|about)\b", 1.0),
]

# Cue counted on the other side when negated ("do not support" -> oppose).
_NEGATOR = re.compile(
    r"\b(not|no|never|don'?t|doesn'?t|didn'?t|won'?t|cannot|can'?t|isn'?t|aren'?t|wasn'?t|hardly|neither|nor|without)\b"
)
# Cue patterns that already contain a negation must not be flipped again.
_SELF_NEGATED = re.compile(r"\b(not|no|never|don'?t|do not|under no|no one)\b")

# Politeness and self-reference: never evidence of stance.
_IGNORE = re.compile(
    r"(thank(s| you)? (you )?for (the|this|an|allowing|providing|your|considering)"
    r"|appreciates? (the|this|an) (opportunity|chance)"
    r"|(pleased|honored|happy) (for|to have|to (submit|provide|respond|comment|present|share))"
    r"|(support|endorse) (this|my|our) (comment|letter|submission)"
    r"|i support this\W*(it really matters)?)"
)

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")

# Long letters state their position near the start or the end: score at most
# this many sentences from each end (bounds the cost of 50-page attachments).
HEAD_SENTENCES = 40
TAIL_SENTENCES = 20

def _gate(pattern: str) -> frozenset[str]:
    """Word prefixes (first 3-4 letters) of which a matching sentence must contain one.

    Every path through each cue pattern contains a literal word of 3+ letters,
    so a sentence holding none of the pattern's word prefixes cannot match it;
    checking a set intersection first skips ~95% of the regex searches.
    """
    literal = re.sub(r"\(\?<!.*?\)", "", pattern)  # lookbehinds are not required words
    literal = re.sub(r"\\[a-zA-Z]", " ", literal)  # \b, \w, \s are not letters of a word
    return frozenset(w[:4] for w in re.findall(r"[a-z]{3,}", literal))


_COMPILED_SUPPORT = [(re.compile(p), w, _gate(p)) for p, w in sorted(_SUPPORT, key=lambda c: -c[1])]
_COMPILED_OPPOSE = [(re.compile(p), w, _gate(p)) for p, w in sorted(_OPPOSE, key=lambda c: -c[1])]
_WORD = re.compile(r"[a-z]+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence-like piece, trimmed of surrounding space."""
    spans = []
    for m in _SENTENCE.finditer(text):
        piece = m.group()
        core = piece.strip()  # str.strip drops exactly the characters str.isspace accepts
        if len(core) >= 3:
            start = m.start() + len(piece) - len(piece.lstrip())
            spans.append((start, start + len(core)))
    return spans


def _negated(sentence: str, cue_start: int) -> bool:
    # Negation scope: the three words before the cue, not across a comma/semicolon.
    before = sentence[:cue_start]
    clause = re.split(r"[,;:()]|\bbut\b|\bhowever\b", before)[-1]
    window = " ".join(clause.split()[-3:])
    return bool(_NEGATOR.search(window))


@lru_cache(maxsize=1 << 18)
def score_sentence(sentence: str) -> tuple[float, float]:
    """(support, oppose) weight of one sentence.

    Cached: personalized form letters repeat the template's sentences, so on a
    big docket most sentences are scored once, however many copies carry them.
    """
    low = sentence.lower().replace("\u2019", "'")
    if _IGNORE.search(low) and not re.search(r"\b(support|oppose|reject|favor|applaud)\w*\b", _IGNORE.sub("", low)):
        return 0.0, 0.0
    low = _IGNORE.sub(" ", low)
    support = oppose = 0.0
    taken: list[tuple[int, int]] = []  # cue spans already counted (strongest first)

    def overlaps(a, b):
        return any(a < e and s < b for s, e in taken)

    words = _WORD.findall(low)
    present = {w[:4] for w in words} | {w[:3] for w in words}
    for patterns, side in ((_COMPILED_OPPOSE, "oppose"), (_COMPILED_SUPPORT, "support")):
        for rx, weight, gate in patterns:
            if gate.isdisjoint(present):
                continue
            for m in rx.finditer(low):
                if overlaps(m.start(), m.end()):
                    continue
                taken.append((m.start(), m.end()))
                flipped = not _SELF_NEGATED.search(m.group(0)) and _negated(low, m.start())
                if (side == "support") != flipped:
                    support += weight
                else:
                    oppose += weight
    return support, oppose


def classify(text: str | None) -> Stance:
    """Stance of one text toward the proposed action."""
    if not text or not text.strip():
        return Stance("unclear", 0.0, None)
    total_s = total_o = 0.0
    best_s = best_o = (0.0, None)
    spans = sentence_spans(text)
    if len(spans) > HEAD_SENTENCES + TAIL_SENTENCES:
        spans = spans[:HEAD_SENTENCES] + spans[-TAIL_SENTENCES:]
    for start, end in spans:
        s, o = score_sentence(text[start:end])
        total_s += s
        total_o += o
        if s > best_s[0]:
            best_s = (s, (start, end))
        if o > best_o[0]:
            best_o = (o, (start, end))
    return _decide(text, total_s, total_o, best_s[1], best_o[1])


def _decide(text, s, o, span_s, span_o) -> Stance:
    strong = 1.5  # below this a side is only a hint
    if s < strong and o < strong:
        # No side reached a firm cue: unclear, less sure the more hints there were.
        return Stance("unclear", round(0.6 - 0.2 * max(s, o) / strong, 3), None, s, o)
    lo, hi = min(s, o), max(s, o)
    if lo >= strong and lo >= 0.5 * hi:
        first = min(span_s, span_o)  # the earlier of the two deciding sentences
        return Stance("mixed", round(min(0.9, 0.4 + lo / (hi + lo)), 3), _cut(text, first), s, o)
    side, span = ("support", span_s) if s > o else ("oppose", span_o)
    confidence = min(0.95, 0.5 + 0.1 * hi) * (1 - 0.5 * lo / hi)
    return Stance(side, round(confidence, 3), _cut(text, span), s, o)


def _cut(text: str, span) -> str | None:
    if span is None:
        return None
    start, end = span
    if end - start > 400:
        end = start + 400
    return text[start:end]


def inherit(template: Stance, additions: list[str] | None) -> tuple[Stance, str]:
    """A campaign member's stance: the template's unless its added sentences say otherwise.

    Returns (stance, source) with source 'template' or 'additions'. The
    additions override only when they take a clear side with at least the
    template's confidence; additions that agree (or say nothing) leave the
    template's stance.
    """
    text = "\n".join(a for a in (additions or []) if a)
    if not text.strip():
        return template, "template"
    own = classify(text)
    if own.stance in ("unclear",) or own.stance == template.stance:
        return template, "template"
    if own.confidence >= template.confidence or template.stance == "unclear":
        return own, "additions"
    return template, "template"
