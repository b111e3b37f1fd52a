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
_LAW = re.compile(
    r"\b\d+\s+(?:U\.?\s?S\.?\s?C\.?|C\.?\s?F\.?\s?R\.?|Fed\.?\s?Reg\.?|FR)\b|§\s?\d|\b[Ss]ection\s+\d+[\w().-]*"
    r"|\b[Pp]ublic [Ll]aw\s+\d|\bP\.\s?L\.\s+\d+-\d+|\b(?:[A-Z][\w.&'’-]*\s+){1,6}Act\b|\bHIPAA\b|\bHITECH\b|\bADA\b"
    r"|\b[A-Z][a-z]+ v\.\s+[A-Z]|\b(?:statute|statutory|unconstitutional|First Amendment|Fourteenth Amendment|"
    r"Title [IVX]+|Executive Order)\b"
)
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
    r"|\b(?:setting|raising|set|raise) the (?:standard|bar)\b|\bwe are (?:proud|excited|honored|thrilled|delighted)\b",
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


def signals_of(sentence: str) -> set[str]:
    """The substance signals a sentence shows."""
    out = set()
    if _REQUEST.search(sentence):
        out.add("requested change")
    if _LAW.search(sentence):
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
    if _GREETING.search(s) or _SIGNATURE.match(s) or is_self_promotion(s):
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


def substance(text: str) -> Substance:
    """The text's substance score, the signals behind it, and its key sentence (verbatim)."""
    if not text or not text.strip():
        return Substance(0.0, [], None)
    counts = dict.fromkeys(WEIGHTS, 0)
    promo = 0
    best = None
    for a, b in sentences(text):
        s = text[a:b]
        found = signals_of(s)
        for sig in found:
            counts[sig] += 1
        if is_self_promotion(s):
            promo += 1
            continue
        if found - {"position"} and is_quotable_sentence(s) and len(s) <= 400:
            w = sum(WEIGHTS[x] for x in found)
            if best is None or w > best[0]:
                best = (w, s)
    raw = sum(WEIGHTS[k] * math.log2(1 + n) for k, n in counts.items()) - 1.5 * math.log2(1 + promo)
    words = len(text.split())
    raw *= min(1.0, 0.35 + 0.65 * math.log1p(words) / math.log1p(600))
    score = round(100 * (1 - math.exp(-max(raw, 0.0) / 12)), 1)
    signals = [k for k in WEIGHTS if counts[k] and k != "position"]
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
