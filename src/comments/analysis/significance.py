"""Substance: which comments an agency must answer, and which sentences are worth quoting.

Courts require agencies to respond to significant comments (Ohio v. EPA, 2024): comments that
bring evidence, numbers, citations of law or studies, specific requested changes, or the
expertise of those who wrote them. `significance_rows(units)` scores every unique text (a
campaign once, through its template) on those signals, sentence by sentence, and keeps the
sentence that carries the most as its key sentence (verbatim). The same sentence signals let
the themes prefer quotes that state a position, a demand or evidence, and skip vendor
self-description, greetings and fragments (`sentence_weight`, `is_quotable_sentence`).

Score (0-100, deterministic): each signal counts the sentences that show it, with diminishing
returns (log2(1 + n)), weighted (requested change 3, legal citation 3, study or data 2.5,
numbers 2, expertise 2, position 1); self-promotion subtracts; the sum grows with the text's
length up to ~600 words (a one-line demand is not a brief), then 100 * (1 - exp(-sum / 12)).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from comments.analysis.normalize import sentences

WEIGHTS = {"requested change": 3.0, "legal citation": 3.0, "study or data": 2.5, "numbers": 2.0,
           "expertise": 2.0, "position": 1.0}

_NUMBER = re.compile(
    r"\$\s?\d[\d,]*(?:\.\d+)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b)"
    r"|\b\d[\d,.]*\s+(?:million|billion|thousand|hundred)\b"
    r"|\b\d{2,}[\d,]*\s+(?:\w+\s)?(?:patients|providers|physicians|clinicians|doctors|nurses|members|hospitals|practices|"
    r"people|beneficiaries|enrollees|hours|days|minutes|weeks|months|years|states|counties|visits|claims|records|"
    r"organizations|facilities|plans|miles|children|women|men|users|sites|clinics|employees|dollars)\b",
    re.IGNORECASE,
)
# Citations of law: literal forms (matched on the lower-cased text) and named Acts / cases
# ("the 21st Century Cures Act", "Ohio v. EPA"), found from " Act" / " v. " and checked backwards
# (a pattern that starts at every capital letter is the slowest scan of all).
_LAW = re.compile(
    r"\b\d+\s+(?:u\.?\s?s\.?\s?c\.?|c\.?\s?f\.?\s?r\.?|fed\.?\s?reg\.?|fr)\b|§\s?\d|\bsection\s+\d"
    r"|\bpublic law\s+\d|\bp\.\s?l\.\s+\d+-\d+|\bhipaa\b|\bhitech\b|\bstatut(?:e|es|ory)\b|\bunconstitutional\b"
    r"|\b(?:first|fourteenth|tenth|fifth) amendment\b|\btitle [ivx]+\b|\bexecutive order\b",
    re.IGNORECASE,
)
_NAMED_LAW = re.compile(r"\b[A-Z][A-Za-z0-9’'.-]+ (?:Act\b|v\.\s+[A-Z])|\bADA\b")


_STUDY = re.compile(
    r"\b(?:stud(?:y|ies)|research(?:ers)?|survey(?:ed)?|data (?:show|shows|indicate|indicates|suggest|suggests)|"
    r"evidence (?:shows|suggests|indicates)|found that|according to|report(?:ed)? (?:that|by)|journal|et al\b|"
    r"peer[- ]reviewed|published|meta-analysis|randomized|clinical trial|GAO|OIG|CBO|National Academ\w+)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:we|I)\s+(?:strongly\s+|respectfully\s+|therefore\s+)?(?:recommend|urge|request|ask|encourage|suggest|propose)\b"
    r"|\b(?:CMS|HHS|ONC|the agency|the department|you|the directory|the NDH|an NDH)\s+(?:should|must|needs? to|ought to)\b"
    r"|\bshould (?:not )?(?:include|require|allow|add|remove|list|exclude|ensure|use|adopt|establish|delay|withdraw|be required"
    r"|be included|be listed|be allowed|be removed|be made|be updated|be verified)\b"
    r"|\b(?:instead of|rather than|replace\w*\b.{0,40}\bwith|amend\w*|revis(?:e|ing)|clarify|delete|strike)\b",
    re.IGNORECASE,
)
_EXPERTISE = re.compile(
    r"\b[Aa]s an? (?:(?:practicing|board[- ]certified|licensed|retired|registered|family|primary care|rural|pediatric)\s+)*"
    r"(?:physician|doctor|nurse|pharmacist|psychologist|psychiatrist|therapist|counselor|researcher|scientist|surgeon|"
    r"dentist|clinician|social worker|attorney|lawyer|professor|midwife|paramedic|epidemiologist|economist|"
    r"health system|hospital|medical group|practice|clinic|association|coalition|society|college|academy)\b"
    r"|\b(?:I|we) have (?:worked|practiced|served|been practicing|been working)\b.{0,40}?\b\d+\s+years\b"
    r"|\b\d+\s+years of (?:experience|practice|clinical)\b"
    r"|\b(?:our|its) (?:\d[\d,]*\s+)?(?:members|physicians|clinicians|nurses|hospitals|member organizations|health centers)\b"
    r"|\bwe represent\b|\b(?:M\.D\.|Ph\.D\.|PharmD|MPH|DNP|FACP|FAAFP)\b|\b(?:MD|PhD|RN|DO|JD|LCSW)\b(?=[,.\s])"
)
_POSITION = re.compile(
    r"\b(?:support|oppose|opposed|object|urge|agree|disagree|against|reject|withdraw|applaud|welcome|concerned?|"
    r"do not|don't|must not|should not|cannot|strongly)\b",
    re.IGNORECASE,
)
# A company describing itself: useful to its sales team, not to the agency.
_SELF_PROMO = re.compile(
    r"\b(?:is|are) (?:a|an|the)\s+(?:[\w’'-]+\s+){0,4}?(?:leading|premier|trusted|innovative|award-winning|industry-leading|"
    r"largest|fastest-growing|first|pioneer\w*|only)\b"
    r"|\bour (?:platform|solutions?|products?|technology|software|app|services|tools?|offerings?)\s+(?:\w+\s+){0,2}?"
    r"(?:helps|enables|provides|offers|delivers|allows|empowers|supports|is|are|has|have)\b"
    r"|\bwe (?:offer|sell|build|empower|enable|are proud|are excited)\b|\b(?:founded in|headquartered in)\b"
    r"|\b(?:industry|market)[- ]leading\b|\baward[- ]winning\b|\bleading (?:provider|platform|company|vendor)\b"
    r"|\b(?:serves|serving|trusted by) (?:over |more than )?\d[\d,]*\+? (?:customers|clients|organizations|health systems)\b"
    r"|\b(?:setting|raising|set|raise) the (?:standard|bar)\b|\bwe are (?:proud|excited|honored|thrilled|delighted)\b"
    # a company describing itself: "X is a privately held analytics company that equips ...",
    # "One of our analytics products is ..."
    r"|\b(?:is|are) an? (?:privately[- ]held|publicly[- ]traded|non-?profit|for-profit|venture-backed|\w+-based)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:company|firm|organization|startup|vendor|corporation)\s+(?:that|which|whose)\b"
    r"|\bone of our (?:[\w-]+\s+){0,2}?(?:products?|solutions?|platforms?|offerings?|services)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(?:dear|hello|hi|greetings|to whom|re:|subject:|attention:|attn)\b|\b(?:thank you|thanks|sincerely|regards|"
    r"respectfully submitted|appreciate the opportunity|opportunity to (?:comment|respond|provide|submit)|"
    r"(?:pleased|glad|happy|writing|write) to (?:provide|respond|submit|offer|share|comment)|on behalf of|"
    r"in response to (?:the|your|this)|(?:submit|offer|provide) (?:the following|these|our) comments)\b"
    r"|see (?:the )?attach\w*|please see|(?:is|are) attached\b|docket id\b|comment category\b",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^\s*(?:[A-Z][a-z]+\.? ){1,2}[A-Z][a-z'’-]+,\s")
# Sentences about the submission itself, not the rule: disclaimers and e-mail footers
# ("This submission may or may not contain error and or flaw.", "The views expressed here are my own").
META = re.compile(
    r"may or may not contain|contains? (?:errors?|typos?|mistakes?) (?:and|or)|views (?:expressed|stated) (?:here|in this)"
    r"|(?:are|is) (?:my|our) own (?:views|opinions?)|all rights reserved|this (?:e-?mail|message) (?:and any|is intended|may contain)"
    r"|confidentiality notice|sent from my (?:iphone|ipad|android|phone)|(?:this|my) (?:comment|submission|letter) (?:is|was) "
    r"(?:submitted|sent|written|made) (?:by|on|via|through|in)\b"
    # offers of help and contact lines say nothing about the rule
    r"|\b(?:my|our) (?:e-?mail|phone|contact)(?: address| number)? is\b|\bcan be of (?:any )?(?:further )?assistance\b"
    r"|\b(?:happy|glad|pleased) to (?:help|assist|answer|discuss|meet)\b|\blook(?:s|ing)? forward to (?:partnering|working|continued)\b"
    r"|\bappreciates? the opportunity\b",
    re.IGNORECASE,
)


def signals_of(sentence: str) -> set[str]:
    """The substance signals a sentence shows."""
    out = set()
    if _REQUEST.search(sentence):
        out.add("requested change")
    if _LAW.search(sentence) or _NAMED_LAW.search(sentence):
        out.add("legal citation")
    if _STUDY.search(sentence):
        out.add("study or data")
    if _NUMBER.search(sentence):
        out.add("numbers")
    if _EXPERTISE.search(sentence):
        out.add("expertise")
    if _POSITION.search(sentence):
        out.add("position")
    return out


def is_self_promotion(sentence: str) -> bool:
    return bool(_SELF_PROMO.search(sentence))


def is_quotable_sentence(sentence: str, min_words: int = 8) -> bool:
    """A sentence a briefing can quote: whole (starts like a sentence, ends like one), long
    enough to say something, no greeting, thanks, sign-off or pointer to an attachment, and
    not a company describing itself."""
    s = sentence.strip()
    if len(s.split()) < min_words or not re.match(r"^[\"“‘'(\[]?[A-Z0-9]", s):
        return False
    if not re.search(r"[.!?][\"”’')\]]*$", s):
        return False
    if _GREETING.search(s) or _SIGNATURE.match(s) or META.search(s) or is_self_promotion(s):
        return False
    letters = sum(c.isalpha() for c in s)
    return letters >= 0.6 * len(s) and not s.isupper()


def sentence_weight(sentence: str) -> float:
    """How much a sentence states a position, a demand or evidence (0 when none)."""
    return sum(WEIGHTS[s] for s in signals_of(sentence))


@dataclass
class Substance:
    score: float
    signals: list[str]
    key_sentence: str | None


_SIGNAL_PATTERNS = (("requested change", _REQUEST), ("legal citation", _LAW), ("study or data", _STUDY),
                    ("numbers", _NUMBER), ("expertise", _EXPERTISE), ("position", _POSITION))
# Substrings (of the lower-cased text) without one of which a pattern cannot match: most texts
# skip most patterns on a substring test, far cheaper than the regex scan.
_HINTS = {
    "requested change": ("recommend", "urge", "request", "ask", "encourage", "suggest", "propose", "should", "must",
                         "need", "ought", "instead", "rather", "replac", "amend", "revis", "clarify", "delete", "strike"),
    "legal citation": ("u.s", "usc", "c.f.r", "cfr", "fed.", "fed reg", " fr ", "§", "section", "public law", "p.l",
                       "hipaa", "hitech", "statut", "unconstitutional", "amendment", "title ", "executive order"),
    # (and _SPACED_CITATION: "42 U S C", "45 C. F. R.", "87\nFR." hold none of these)
    "study or data": ("stud", "research", "survey", "data ", "evidence", "found that", "according to", "report",
                      "journal", "et al", "review", "published", "analysis", "randomized", "trial", "gao", "oig",
                      "cbo", "academ"),
    "numbers": tuple("0123456789"),
    "expertise": ("as a", "as an", "have worked", "have practiced", "have served", "have been", "years of",
                  "our ", "its ", "we represent", "m.d.", "ph.d", "pharmd", "mph", "dnp", "facp", "faafp", "md",
                  "phd", "rn", "do", "jd", "lcsw"),
    "position": ("support", "oppos", "object", "urge", "agree", "against", "reject", "withdraw", "applaud",
                 "welcome", "concern", "not", "n't", "cannot", "strongly"),
    "promo": ("lead", "premier", "trusted", "innovat", "award", "largest", "fastest", "first", "pioneer", "only",
              "our ", "we offer", "we sell", "we build", "we empower", "we enable", "we are", "founded",
              "headquartered", "serv", "standard", "bar"),
}


# The forms of _LAW's citations whose letters are spaced or dotted apart ("42 U S C", "45 C. F. R.",
# "87\nFR.", "P. L. 111-148"), which the substrings above can miss; a superset of those alternatives
# that starts at a digit (or "p."), which the regex engine finds fast.
_SPACED_CITATION = re.compile(r"\d\s+(?:u\.?\s?s|c\.?\s?f|fed|fr\b)|p\.\s?l\.")


def _spaced_citation(low: str) -> bool:
    """Whether the lower-cased text may hold a citation whose letters are spaced or dotted apart."""
    return _SPACED_CITATION.search(low) is not None


# The case-blind patterns, compiled for lower-cased text (IGNORECASE costs Python's re twice the time).
_LOWER = {name: re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)
          for name, pattern in (*_SIGNAL_PATTERNS, ("promo", _SELF_PROMO)) if pattern.flags & re.IGNORECASE}


def substance(text: str) -> Substance:
    """The text's substance score, the signals behind it, and its key sentence (verbatim).

    Each pattern runs once over the whole text; its matches are mapped to sentences by
    position (a per-sentence search costs a regex call per sentence and pattern).
    """
    if not text or not text.strip():
        return Substance(0.0, [], None)
    spans = sentences(text)
    if not spans:
        return Substance(0.0, [], None)
    starts = np.array([a for a, _ in spans], dtype=np.int64)

    low = text.lower()
    same_length = len(low) == len(text)  # (lower() can change a few characters' length: then case-blind on the text)

    def sentence_ids(name: str, pattern: re.Pattern) -> set[int]:
        if not any(h in low for h in _HINTS[name]) and not (name == "legal citation" and _spaced_citation(low)):
            return set()
        if same_length and name in _LOWER:
            found = [m.start() for m in _LOWER[name].finditer(low)]
        else:
            found = [m.start() for m in pattern.finditer(text)]
        return {int(i) for i in np.searchsorted(starts, found, side="right") - 1} if found else set()

    hits = {name: sentence_ids(name, pattern) for name, pattern in _SIGNAL_PATTERNS}
    if " Act" in text or " v. " in text or "ADA" in text:
        named = [m.start() for m in _NAMED_LAW.finditer(text)]
        hits["legal citation"] |= {int(i) for i in np.searchsorted(starts, named, side="right") - 1}
    promo = sentence_ids("promo", _SELF_PROMO)
    best = None
    for i in sorted(set().union(*(ids for name, ids in hits.items() if name != "position")) - promo):
        a, b = spans[i]
        sentence = text[a:b]
        if len(sentence) > 400 or not is_quotable_sentence(sentence):
            continue
        w = sum(WEIGHTS[name] for name, ids in hits.items() if i in ids)
        if best is None or w > best[0]:
            best = (w, sentence)
    raw = sum(WEIGHTS[k] * math.log2(1 + len(ids)) for k, ids in hits.items()) - 1.5 * math.log2(1 + len(promo))
    words = len(text.split())
    raw *= min(1.0, 0.35 + 0.65 * math.log1p(words) / math.log1p(600))
    score = round(100 * (1 - math.exp(-max(raw, 0.0) / 12)), 1)
    signals = [k for k in WEIGHTS if hits[k] and k != "position"]
    return Substance(score, signals, best[1] if best else None)


def significance_rows(units) -> dict[str, list]:
    """`comment_significance` columns for the analysis units (one per unique text, keyed by the
    comment whose text it is); units without text are left out. Rank 1 = most substance."""
    scored = []
    for u in units:
        if not (u.text or "").strip():
            continue
        s = substance(u.text)
        scored.append((u.comment_id, s))
    order = sorted(range(len(scored)), key=lambda i: (-scored[i][1].score, scored[i][0]))
    rank = {i: r for r, i in enumerate(order, start=1)}
    return {
        "comment_id": [c for c, _ in scored],
        "score": [s.score for _, s in scored],
        "rank": [rank[i] for i in range(len(scored))],
        "signals": [s.signals for _, s in scored],
        "key_sentence": [s.key_sentence for _, s in scored],
    }
